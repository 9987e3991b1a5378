"""Uploads: stage, validate the plan inline, run now / submit, see it publish, preview, export, delete."""

from __future__ import annotations

import shutil

from tui_helpers import SIZE, notifications, run, table_rows, wait_for

from batchops.errors import InputError


def _screen(app, name):
    return type(app.screen).__name__ == name


async def _stage_by_path(pilot, app, path) -> None:
    box = app.screen.query_one("#path")
    box.focus()
    box.value = str(path)
    await pilot.press("enter")
    await wait_for(pilot, lambda: str(path.resolve()) in app.screen.staged, what=f"{path.name} staged")


def test_stage_run_now_publish_preview_export(make_app, samples, tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    async def go():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await pilot.press("n")
            await wait_for(pilot, lambda: _screen(app, "StageScreen") and app.screen.loaded_once, what="stage")
            await _stage_by_path(pilot, app, samples / "gradebook_science.csv")
            app.screen.query_one("#department").value = "Science"
            app.screen.query_one("#notes").value = "term 1 marks"
            app.screen.query_one("#table").value = "1"  # the PDF table field reaches the upload
            await pilot.press("ctrl+r")  # run now
            await wait_for(pilot, lambda: _screen(app, "UploadsScreen"), what="back on uploads")
            uploads = app.screen
            await wait_for(
                pilot, lambda: any(r[2] == "published" for r in table_rows(uploads)), timeout=60, what="published row"
            )
            row = table_rows(uploads)[0]
            assert row[1] == "gradebook_science.csv" and row[5] == "Science"
            assert row[3].startswith("1 succeeded")  # its linked run
            assert any("1 published" in n for n in notifications(app))
            assert uploads.staged == []  # the queue emptied once submitted
            from batchops.store.models import Upload

            assert Upload.select().order_by(Upload.id.desc()).first().table_index == 1
            # preview of the published report
            await pilot.press("p")
            await wait_for(pilot, lambda: _screen(app, "UploadDetailScreen"))
            detail = app.screen
            await wait_for(pilot, lambda: detail.query_one("#preview").row_count > 0, what="preview rows")
            assert "rows" in str(detail.query_one("#preview-note").render())
            # export the CSV to a folder
            await pilot.press("x")
            await wait_for(pilot, lambda: _screen(app, "FormModal"))
            app.screen.query_one("#f-path").value = str(out)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: list(out.glob("*.csv")), what="exported csv")
            await wait_for(pilot, lambda: any(n.startswith("wrote ") for n in notifications(app)))

    run(go())
    exported = next(out.glob("*.csv")).read_text(encoding="utf-8")
    assert "student_id" in exported or "mean" in exported.lower()


def test_staged_queue_survives_a_restart(make_app, samples):
    from batchops.services import ui_state
    from batchops.tui.screens.uploads import STAGED_KEY

    async def first():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await pilot.press("n")
            await wait_for(pilot, lambda: _screen(app, "StageScreen") and app.screen.loaded_once)
            await _stage_by_path(pilot, app, samples / "gradebook_science.csv")
            await _stage_by_path(pilot, app, samples / "roster_commerce.xlsx")
            await wait_for(pilot, lambda: len(ui_state.get(STAGED_KEY) or []) == 2, what="queue saved")
            await pilot.press("q")

    async def second():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.staged, what="staged files restored")
            strip = str(app.screen.query_one("#staged-strip").render())
            assert "Staged (2/5)" in strip and "roster_commerce.xlsx" in strip
            await pilot.press("n")
            await wait_for(pilot, lambda: _screen(app, "StageScreen") and app.screen.loaded_once)
            assert [p.rsplit("/", 1)[-1] for p in app.screen.staged] == [
                "gradebook_science.csv",
                "roster_commerce.xlsx",
            ]

    run(first())
    run(second())


def test_at_most_five_files_are_staged(make_app, samples, tmp_path):
    files = []
    for i in range(6):
        target = tmp_path / f"copy{i}.csv"
        shutil.copyfile(samples / "gradebook_science.csv", target)
        files.append(target)

    async def go():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await pilot.press("n")
            await wait_for(pilot, lambda: _screen(app, "StageScreen") and app.screen.loaded_once)
            for f in files[:5]:
                await _stage_by_path(pilot, app, f)
            box = app.screen.query_one("#path")
            box.value = str(files[5])
            await pilot.press("enter")
            # the refusal is the last thing the sixth file does: after it, nothing more can be staged
            await wait_for(pilot, lambda: any("at most 5" in n for n in notifications(app)), what="the refusal")
            assert len(app.screen.staged) == 5

    run(go())


def test_plan_payload_is_validated_inline(make_app, samples):
    async def go():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await pilot.press("n")
            await wait_for(pilot, lambda: _screen(app, "StageScreen") and app.screen.loaded_once)
            stage = app.screen
            await _stage_by_path(pilot, app, samples / "gradebook_science.csv")
            error = stage.query_one("#plan-error")
            stage.query_one("#plan").value = "append"
            await pilot.pause()
            assert stage.query_one("#records").display and not stage.query_one("#rules").display
            stage.query_one("#records").text = '[{"student_id": "S9", '  # broken JSON
            await pilot.pause()
            assert str(error.render()).startswith("E_JSON_INVALID: records is not valid JSON")
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert _screen(app, "StageScreen")  # refused: nothing submitted
            stage.query_one("#records").text = "[]"
            await pilot.pause()
            assert str(error.render()).startswith("E_PLAN_INVALID")
            stage.query_one("#records").text = '{"student_id": "S9", "name": "New"}'
            await pilot.pause()
            assert str(error.render()) == ""
            stage.query_one("#plan").value = "delete"
            stage.query_one("#rules").text = "student_id=S001\nnonsense line"
            await pilot.pause()
            assert "line 2: write COLUMN=VALUE" in str(error.render())
            stage.query_one("#rules").text = "student_id=S001\nname = Asha"
            await pilot.pause()
            assert str(error.render()) == ""
            assert stage.plan_config() == {"rules": [{"student_id": "S001"}, {"name": "Asha"}]}

    run(go())


def test_parse_rules_accepts_json_too():
    from batchops.services.plans import parse_rules
    from batchops.tui.screens.stage import build_plan_config

    assert parse_rules('[{"a": 1}]') == [{"a": 1}]
    assert parse_rules('{"a": "x"}') == [{"a": "x"}]
    assert build_plan_config("custom", "", "", " note ", "") == {"instructions": "note"}
    try:
        build_plan_config("transform", "", "", "", "[1]")
    except InputError as exc:
        assert exc.code == "E_PLAN_INVALID"
    else:  # pragma: no cover
        raise AssertionError("options must be an object")


def test_failed_upload_links_its_incident_then_delete_needs_typing(make_app, samples):
    from batchops.services import processing, uploads

    failed = processing.process_file(samples / "broken" / "missing_columns.csv")
    assert failed["status"] == "failed" and failed["incident_id"]

    async def go():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen), what="uploads")
            row = table_rows(app.screen)[0]
            assert row[2] == "failed" and row[4].startswith(f"#{failed['incident_id']} open")
            await pilot.press("d")
            await wait_for(pilot, lambda: _screen(app, "TypedConfirm"))
            confirm = app.screen
            await pilot.press(*"99")
            assert confirm.query_one("#confirm").disabled
            await pilot.press("enter")  # the wrong text does nothing
            assert _screen(app, "TypedConfirm")
            confirm.query_one("#confirm-text").value = ""
            await pilot.press(*str(failed["upload_id"]))
            assert not confirm.query_one("#confirm").disabled
            await pilot.press("enter")
            await wait_for(pilot, lambda: any(n.startswith("deleted upload") for n in notifications(app)))
            await wait_for(pilot, lambda: table_rows(app.screen) == [], what="empty table")

    run(go())
    assert uploads.list_uploads() == []


def test_retry_a_failed_upload_now(make_app, samples):
    from batchops.services import processing

    failed = processing.process_file(samples / "broken" / "missing_columns.csv")

    async def go():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen), what="uploads")
            await pilot.press("t")
            await wait_for(pilot, lambda: _screen(app, "ChoiceModal"))
            await pilot.click("#choice-now")
            await wait_for(
                pilot, lambda: any("run 2 failed" in n for n in notifications(app)), timeout=30, what="retry result"
            )
            await wait_for(pilot, lambda: table_rows(app.screen)[0][3].startswith("2 failed"), what="two runs")

    run(go())
    from batchops.services import incidents

    assert incidents.show_incident(failed["incident_id"])["occurrences"] == 2


async def _open_stage(pilot, app):
    await wait_for(pilot, lambda: app.screen.loaded_once)
    await pilot.press("n")
    await wait_for(pilot, lambda: _screen(app, "StageScreen") and app.screen.loaded_once, what="stage")
    return app.screen


def test_payload_examples_are_placeholders_not_content(make_app, samples):
    """An untouched append box appends nothing (it is empty and refused); typing into delete is all it holds."""

    async def go():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            stage = await _open_stage(pilot, app)
            await _stage_by_path(pilot, app, samples / "gradebook_science.csv")
            stage.query_one("#plan").value = "append"
            await pilot.pause()
            assert stage.query_one("#records").text == ""
            assert str(stage.query_one("#plan-error").render()).startswith("E_PLAN_INVALID: The append plan needs")
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert _screen(app, "StageScreen")  # refused: nothing submitted
            assert any("E_PLAN_INVALID" in n and "gradebook_science.csv" in n for n in notifications(app))
            stage.query_one("#plan").value = "delete"
            await pilot.pause()
            stage.query_one("#rules").focus()
            await pilot.press(*"student_id=SCI-2026-0001")
            await pilot.pause()
            assert stage.plan_config() == {"rules": [{"student_id": "SCI-2026-0001"}]}

    run(go())


def test_each_staged_file_keeps_its_own_department_and_plan(make_app, samples, tmp_path):
    from batchops.services import uploads

    names = ["a_science.csv", "b_commerce.csv", "c_arts.csv"]
    for name in names:
        shutil.copyfile(samples / "gradebook_science.csv", tmp_path / name)

    async def go():
        app = make_app(start_area="uploads")
        async with app.run_test(size=(80, 24)) as pilot:
            stage = await _open_stage(pilot, app)
            for name in names:
                await _stage_by_path(pilot, app, tmp_path / name)
            # 80 columns: the staged list tells the files apart by name
            labels = [str(item.query_one("Label").render()) for item in stage.query_one("#staged").children]
            assert [label.split(" · ")[0] for label in labels] == [f"{i}. {n}" for i, n in enumerate(names, 1)]
            # the last staged file is the one the form edits
            assert "c_arts.csv" in str(stage.query_one("#file-heading").render())
            stage.query_one("#department").value = "Arts"
            stage.query_one("#plan").value = "custom"
            stage.query_one("#instructions").value = "as received"
            await pilot.pause()
            stage.query_one("#staged").index = 1
            await wait_for(pilot, lambda: stage.current == 1, what="second file highlighted")
            assert stage.query_one("#department").value == ""  # not Arts: its own settings
            stage.query_one("#department").value = "Commerce"
            stage.query_one("#plan").value = "delete"
            await pilot.pause()
            stage.query_one("#rules").text = "student_id=SCI-2026-0002"
            await pilot.pause()
            stage.query_one("#staged").index = 0
            await wait_for(pilot, lambda: stage.current == 0, what="first file highlighted")
            stage.query_one("#department").value = "Science"
            await pilot.pause()
            assert [stage.files[i]["plan"] for i in range(3)] == ["transform", "delete", "custom"]
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: _screen(app, "UploadsScreen"), what="submitted")
            await wait_for(
                pilot,
                lambda: sum(r[2] == "published" for r in table_rows(app.screen)) == 3,
                timeout=90,
                what="three published",
            )

    run(go())
    got = {u["original_name"]: (u["department"], u["plan"], u["plan_config"]) for u in uploads.list_uploads()}
    assert got == {
        "a_science.csv": ("Science", "transform", {}),
        "b_commerce.csv": ("Commerce", "delete", {"rules": [{"student_id": "SCI-2026-0002"}]}),
        "c_arts.csv": ("Arts", "custom", {"instructions": "as received"}),
    }


def test_apply_to_all_is_an_explicit_action(make_app, samples, tmp_path):
    for name in ("one.csv", "two.csv"):
        shutil.copyfile(samples / "gradebook_science.csv", tmp_path / name)

    async def go():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            stage = await _open_stage(pilot, app)
            await _stage_by_path(pilot, app, tmp_path / "one.csv")
            await _stage_by_path(pilot, app, tmp_path / "two.csv")
            stage.query_one("#department").value = "Commerce"
            await pilot.pause()
            assert [f["department"] for f in stage.files] == ["", "Commerce"]
            stage.query_one("#apply-all").press()
            await pilot.pause()
            assert [f["department"] for f in stage.files] == ["Commerce", "Commerce"]
            assert any("applied Commerce · transform to all 2" in n for n in notifications(app))

    run(go())


def test_submitting_to_the_worker_when_none_runs_says_so(make_app, samples):
    async def go():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            await _open_stage(pilot, app)
            await _stage_by_path(pilot, app, samples / "gradebook_science.csv")
            await pilot.press("ctrl+s")
            await wait_for(
                pilot,
                lambda: any("no worker is running" in n for n in notifications(app)),
                timeout=30,
                what="no-worker warning",
            )
            note = next(n for n in notifications(app) if "no worker is running" in n)
            assert note.endswith(" worker") and "batchops --home " in note

    run(go())


def test_the_stage_hints_name_every_readable_type_and_the_tree_lists_scans(tmp_path):
    """#12: the hints said "CSV, XLSX, PDF" while workbooks of every kind and OCR'd scans are read."""
    from batchops.tui.screens.stage import SupportedFiles
    from batchops.tui.staging import ACCEPTED

    for kind in ("XLS", "XLSX", "XLSM", "XLSB", "ODS", "PDF", "scans"):
        assert kind in ACCEPTED
    assert len(f"Nothing staged — n: {ACCEPTED}") <= 78  # the staged strip at 80 columns, with its padding
    for name in ("marks.ods", "marks.xlsb", "scan.PNG", "photo.jpeg", "page.tiff", "notes.docx"):
        (tmp_path / name).write_bytes(b"x")
    listed = SupportedFiles.filter_paths(None, sorted(tmp_path.iterdir()))
    assert sorted(p.name for p in listed) == ["marks.ods", "marks.xlsb", "page.tiff", "photo.jpeg", "scan.PNG"]
