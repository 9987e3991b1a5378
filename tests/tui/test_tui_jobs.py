"""Jobs: the list, a job created with a bad then a good cron, pause/resume, delete with typed confirmation."""

from __future__ import annotations

from tui_helpers import SIZE, notifications, run, table_rows, wait_for


def _screen(app, name):
    return type(app.screen).__name__ == name


def test_create_a_job_with_a_bad_then_a_good_cron(make_app):
    from batchops.services import jobs

    before = {j["name"] for j in jobs.list_jobs()}

    async def go():
        app = make_app(start_area="jobs")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen), what="jobs")
            await pilot.press("n")
            await wait_for(pilot, lambda: _screen(app, "JobFormScreen") and app.screen.callables, what="form")
            form = app.screen
            assert "run_daily_backup" in form.callables
            form.query_one("#job-name").value = "weekday-digest"
            form.query_one("#job-callable").value = "send_system_status_digest"
            await pilot.pause()
            doc = form.query_one("#callable-doc").content  # a rich Table: the description and each argument
            assert [c.header for c in doc.columns] == ["", "", ""] and doc.row_count >= 2
            # a bad cron: refused inline, with the service's code
            form.query_one("#job-cron").value = "61 7 * * 1-5"
            await pilot.pause()
            preview = form.query_one("#cron-preview")
            assert str(preview.render()).startswith("E_CRON_INVALID")
            assert preview.has_class("error")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert _screen(app, "JobFormScreen")
            assert "cron" in str(form.query_one("#save-error").render())
            # bad JSON args are caught inline too
            form.query_one("#job-kwargs").value = "{to: x}"
            await pilot.pause()
            assert str(form.query_one("#args-error").render()).startswith("E_JSON_INVALID")
            form.query_one("#job-kwargs").value = '{"to": ["office@school.example"]}'
            # a good cron: the next five fire times, in the job's zone
            form.query_one("#job-cron").value = "30 7 * * 1-5"
            await pilot.pause()
            lines = str(preview.render()).splitlines()
            assert lines[0] == "next runs:" and len(lines) == 6
            assert all("07:30 IST" in line for line in lines[1:])
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: _screen(app, "JobsScreen"), what="back on the list")
            await wait_for(
                pilot, lambda: any(r[1] == "weekday-digest" for r in table_rows(app.screen)), what="new job listed"
            )
            # the list can show the job before the save's note arrives (its own refresh reads the store)
            await wait_for(
                pilot,
                lambda: any(n.startswith("job weekday-digest created; next run") for n in notifications(app)),
                what="the save's note",
            )

    run(go())
    created = {j["name"]: j for j in jobs.list_jobs()}
    assert set(created) - before == {"weekday-digest"}
    job = created["weekday-digest"]
    assert job["cron"] == "30 7 * * 1-5" and job["kwargs"] == {"to": ["office@school.example"]}


def test_edit_pause_resume_and_delete_a_job(make_app):
    from batchops.services import jobs

    job = jobs.add_job("tui-backup", "run_daily_backup", "0 3 * * *")

    async def go():
        app = make_app(start_area="jobs")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: any(r[1] == "tui-backup" for r in table_rows(app.screen)))
            table = app.screen.pager.table
            table.move_cursor(row=[r[1] for r in table_rows(app.screen)].index("tui-backup"))
            await pilot.press("p")
            await wait_for(pilot, lambda: app.screen.pager.selected_row()["paused"], what="paused")
            assert any(n == "job tui-backup paused" for n in notifications(app))
            await pilot.press("p")
            await wait_for(pilot, lambda: not app.screen.pager.selected_row()["paused"], what="resumed")
            # edit: the form is filled with the job; change its cron
            await pilot.press("e")
            await wait_for(pilot, lambda: _screen(app, "JobFormScreen") and app.screen.job, what="edit form")
            assert app.screen.query_one("#job-cron").value == "0 3 * * *"
            app.screen.query_one("#job-cron").value = "15 3 * * *"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: _screen(app, "JobsScreen"))
            await wait_for(pilot, lambda: app.screen.pager.selected_row()["cron"] == "15 3 * * *", what="edited")
            # delete needs the job's name typed
            await pilot.press("d")
            await wait_for(pilot, lambda: _screen(app, "TypedConfirm"))
            await pilot.press(*"tui-backu")
            assert app.screen.query_one("#confirm").disabled
            await pilot.press("p", "enter")
            await wait_for(pilot, lambda: not any(r[1] == "tui-backup" for r in table_rows(app.screen)), what="deleted")

    run(go())
    assert job["id"] not in {j["id"] for j in jobs.list_jobs()}


def test_paused_jobs_say_paused_under_next_run(make_app):
    from batchops.services import jobs

    jobs.pause_job("status-digest")

    async def go():
        app = make_app(start_area="jobs")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen), what="jobs")
            row = next(r for r in table_rows(app.screen) if r[1] == "status-digest")
            assert row[3] == "paused"

    run(go())


def test_read_only_shows_the_job_form_without_editing(make_app):
    from textual.widgets import Input

    async def go():
        app = make_app(start_area="jobs", read_only=True)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen), what="jobs")
            await pilot.press("e")
            await wait_for(pilot, lambda: _screen(app, "JobFormScreen") and app.screen.job, what="form")
            form = app.screen
            assert "view only" in str(form.query_one("#heading").render())
            assert all(box.disabled for box in form.query(Input))
            before = form.query_one("#job-name", Input).value
            await pilot.press(*"xyz")
            assert form.query_one("#job-name", Input).value == before

    run(go())
