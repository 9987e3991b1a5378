"""Job Runs: history, filters, keyset pages, the detail screen; submit to the worker and see it publish."""

from __future__ import annotations

from datetime import timedelta

from tui_helpers import SIZE, notifications, run, table_rows, wait_for


def _screen(app, name):
    return type(app.screen).__name__ == name


def seed_runs(n: int) -> None:
    """``n`` finished job runs in one transaction (the test builds its own store)."""
    from batchops.clock import utc_now
    from batchops.store.db import db
    from batchops.store.models import JobRun

    now = utc_now()
    rows = [
        {
            "kind": "job",
            "job_name": f"seeded-{i % 7}",
            "trigger": "schedule",
            "status": "failed" if i % 10 == 0 else "succeeded",
            "attempt": 1,
            "queued_at": now - timedelta(minutes=n - i),
            "duration_s": 0.5,
            "error_code": "E_JOB_FAILED" if i % 10 == 0 else None,
        }
        for i in range(n)
    ]
    with db.atomic():
        for start in range(0, n, 500):
            JobRun.insert_many(rows[start : start + 500]).execute()


def test_runs_are_paged_from_the_store_and_filtered(make_app):
    seed_runs(450)

    async def go():
        app = make_app(start_area="runs")
        async with app.run_test(size=SIZE) as pilot:
            pager = app.screen.pager
            await wait_for(pilot, lambda: pager.rows, what="first page")
            assert pager.table.row_count == 200 and pager.has_more
            assert table_rows(app.screen)[0][0] == "450"
            await pilot.press("right_square_bracket")
            await wait_for(pilot, lambda: pager.page == 2 and pager.rows[0]["id"] == 250, what="page 2")
            await pilot.press("right_square_bracket")
            await wait_for(pilot, lambda: pager.page == 3 and len(pager.rows) == 50, what="page 3")
            assert not pager.has_more and table_rows(app.screen)[-1][0] == "1"
            await pilot.press("left_square_bracket")
            await wait_for(pilot, lambda: pager.page == 2 and pager.rows[0]["id"] == 250, what="back to page 2")
            # a status filter goes back to the first page and asks the store
            app.screen.query_one("#filter-status").value = "failed"
            await wait_for(pilot, lambda: pager.page == 1 and len(pager.rows) == 45, what="failed only")
            assert {r[2] for r in table_rows(app.screen)} == {"failed"}
            app.screen.query_one("#filter-kind").value = "pipeline"
            await wait_for(pilot, lambda: pager.rows == [], what="no failed pipeline runs")
            app.screen.query_one("#filter-kind").clear()
            app.screen.query_one("#filter-status").clear()
            await wait_for(pilot, lambda: len(pager.rows) == 200, what="unfiltered")
            # "/" filters the page with a regex; "!" inverts it
            await pilot.press("slash")
            await pilot.press(*"seeded-3")
            await wait_for(pilot, lambda: 0 < pager.table.row_count < 40, what="regex filter")
            assert {r[4] for r in table_rows(app.screen)} == {"seeded-3"}
            app.screen.query_one("#filter-text").value = "!seeded-3"
            await wait_for(pilot, lambda: pager.table.row_count > 160, what="inverted")
            assert "seeded-3" not in {r[4] for r in table_rows(app.screen)}
            await pilot.press("escape")  # clears the filter, back to the table
            await wait_for(pilot, lambda: pager.table.row_count == 200)
            assert pager.table.has_focus

    run(go())


def test_run_detail_shows_steps_findings_and_log(make_app, samples):
    from batchops.services import processing

    result = processing.process_file(samples / "gradebook_science.csv", department="Science")
    assert result["status"] == "published"

    async def go():
        app = make_app(start_area="runs")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen), what="runs")
            row = table_rows(app.screen)[0]
            assert row[1:4] == ["pipeline", "succeeded", "cli"] and "gradebook_science.csv" in row[4]
            await pilot.press("enter")
            await wait_for(pilot, lambda: _screen(app, "RunDetailScreen") and app.screen.loaded_once)
            detail = app.screen
            steps = table_rows(detail, "#steps")
            assert [s[0] for s in steps] == ["standardize", "validate", "transform", "summarize", "publish"]
            assert all(s[1] == "ok" for s in steps)
            assert steps[0][5] == "40" and steps[1][4:6] == ["40", "40"]  # rows in / out
            log = str(detail.query_one("#log").render())
            assert "published" in log
            await pilot.press("u")  # to the run's upload
            await wait_for(pilot, lambda: _screen(app, "UploadDetailScreen") and app.screen.upload)
            assert app.screen.upload["id"] == result["upload_id"]

    run(go())


def test_submit_to_the_worker_and_see_it_publish(make_app, samples, monkeypatch):
    """The worker is Huey in immediate mode here: the queued task runs inside enqueue."""
    monkeypatch.setenv("BATCHOPS_QUEUE_IMMEDIATE", "1")

    async def go():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await pilot.press("n")
            await wait_for(pilot, lambda: _screen(app, "StageScreen") and app.screen.loaded_once)
            box = app.screen.query_one("#path")
            box.value = str(samples / "roster_commerce.xlsx")
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen.staged)
            app.screen.query_one("#department").value = "Commerce"
            app.screen.query_one("#plan").value = "custom"
            app.screen.query_one("#instructions").value = "publish as is"
            await pilot.press("ctrl+s")  # submit to the worker
            await wait_for(pilot, lambda: _screen(app, "UploadsScreen"))
            await wait_for(
                pilot,
                lambda: any(r[2] == "published" for r in table_rows(app.screen)),
                timeout=60,
                what="published by the worker",
            )
            await pilot.press("3")
            await wait_for(pilot, lambda: table_rows(app.screen), what="runs")
            assert table_rows(app.screen)[0][2:4] == ["succeeded", "tui"]

            assert not [n for n in notifications(app) if n.startswith("E_")]

    run(go())


def test_clicking_a_header_sorts_the_page(make_app):
    from textual.widgets import DataTable

    seed_runs(30)

    async def go():
        app = make_app(start_area="runs")
        async with app.run_test(size=SIZE) as pilot:
            pager = app.screen.pager
            await wait_for(pilot, lambda: pager.table.row_count == 30)
            status_column = [k for k, _ in app.screen.COLUMNS].index("status")
            header = pager.table.ordered_columns
            pager.table.post_message(
                DataTable.HeaderSelected(
                    pager.table, header[status_column].key, status_column, header[status_column].label
                )
            )
            await pilot.pause()
            statuses = [r[2] for r in table_rows(app.screen)]
            assert statuses == sorted(statuses) and statuses[0] == "failed"
            ids = [int(r[0]) for r in table_rows(app.screen)]
            pager.table.post_message(DataTable.HeaderSelected(pager.table, header[0].key, 0, header[0].label))
            await pilot.pause()
            assert [int(r[0]) for r in table_rows(app.screen)] == sorted(ids)
            assert "page sorted by Run ▲" in str(pager.query_one(".pager").render())

    run(go())
