"""Detail screens by keyboard: tabs switched with ] and [, PageDown scrolls from anywhere, the keys in the
footer; jobs open a detail with their runs, the footer says Resume on a paused job, and a form with
unsaved changes asks before it is left."""

from __future__ import annotations

from tui_helpers import notifications, run, table_rows, wait_for


def _screen(app, name):
    return type(app.screen).__name__ == name


def _footer_keys(app) -> dict[str, str]:
    """What the footer shows: {key: label} of the active, shown bindings."""
    return {key: b.binding.description for key, b in app.active_bindings.items() if b.binding.show and b.enabled}


def test_incident_detail_tabs_and_page_down_without_tabbing_in(make_app, samples):
    from batchops.services import processing

    ident = processing.process_file(samples / "broken" / "missing_columns.csv")["incident_id"]

    async def go():
        from batchops.tui.screens.incident_detail import IncidentDetailScreen

        app = make_app(start_area="incidents", refresh_seconds=0)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await app.push_screen(IncidentDetailScreen(ident))
            await wait_for(pilot, lambda: getattr(app.screen, "incident", None))
            detail = app.screen
            tabs = detail.query_one("#tabs")
            assert tabs.active == "tab-overview"
            keys = _footer_keys(app)
            assert keys.get("right_square_bracket") == "Next tab" and keys.get("a") == "Assign" and "n" not in keys
            scroll = detail.query_one("#tab-overview VerticalScroll")
            assert scroll.max_scroll_y > 0  # the overview is longer than 24 rows
            assert not scroll.has_focus
            await pilot.press("pagedown")
            await pilot.pause()
            assert scroll.scroll_y > 0
            await pilot.press("right_square_bracket")
            assert tabs.active == "tab-timeline"
            await pilot.press("right_square_bracket")
            assert tabs.active == "tab-tickets"
            await pilot.press("right_square_bracket")
            assert tabs.active == "tab-overview"  # wraps around
            await pilot.press("left_square_bracket")
            assert tabs.active == "tab-tickets"

    run(go())


def test_run_detail_tabs_reach_findings_and_log(make_app, samples):
    from batchops.services import processing

    run_id = processing.process_file(samples / "gradebook_science.csv")["run_id"]

    async def go():
        from batchops.tui.screens.run_detail import RunDetailScreen

        app = make_app(start_area="runs", refresh_seconds=0)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await app.push_screen(RunDetailScreen(run_id))
            await wait_for(pilot, lambda: app.screen.loaded_once)
            tabs = app.screen.query_one("#tabs")
            await pilot.press("right_square_bracket")
            assert tabs.active == "tab-findings"
            await pilot.press("right_square_bracket")
            assert tabs.active == "tab-log"

    run(go())


def test_jobs_enter_opens_detail_with_runs_and_footer_says_resume(make_app):
    from batchops.services import jobs

    job = jobs.add_job("tui-backup", "run_daily_backup", "0 3 * * *")
    ran = jobs.run_job_now(job["id"], trigger="test")
    jobs.pause_job(job["id"])

    async def go():
        app = make_app(start_area="jobs", refresh_seconds=0)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: any(r[1] == "tui-backup" for r in table_rows(app.screen)))
            table = app.screen.pager.table
            table.move_cursor(row=[r[1] for r in table_rows(app.screen)].index("tui-backup"))
            await pilot.pause()
            keys = _footer_keys(app)
            assert keys.get("p") == "Resume" and keys.get("e") == "Edit"
            await pilot.press("enter")
            await wait_for(pilot, lambda: _screen(app, "JobDetailScreen") and app.screen.job, what="job detail")
            detail = app.screen
            assert [r[0] for r in table_rows(detail, "#job-runs")] == [str(ran["run_id"])]
            assert _footer_keys(app).get("p") == "Resume"
            await pilot.press("p")
            await wait_for(pilot, lambda: detail.job and not detail.job["paused"], what="resumed")
            assert _footer_keys(app).get("p") == "Pause"
            assert any("resumed" in n for n in notifications(app))

    run(go())


def test_leaving_the_job_form_with_unsaved_changes_asks_first(make_app):
    from batchops.services import jobs

    job = jobs.add_job("tui-backup", "run_daily_backup", "0 3 * * *")

    async def go():
        from batchops.tui.screens.job_form import JobFormScreen

        app = make_app(start_area="jobs", refresh_seconds=0)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await app.push_screen(JobFormScreen(job["id"]))
            await wait_for(pilot, lambda: _screen(app, "JobFormScreen") and app.screen.pristine, what="form")
            form = app.screen
            await pilot.press("escape")  # nothing changed: leaves at once
            await wait_for(pilot, lambda: _screen(app, "JobsScreen"), what="left")
            await app.push_screen(JobFormScreen(job["id"]))
            await wait_for(pilot, lambda: _screen(app, "JobFormScreen") and app.screen.pristine, what="form")
            form = app.screen
            form.query_one("#job-cron").value = "15 3 * * *"
            await pilot.press("escape")
            await wait_for(pilot, lambda: _screen(app, "ChoiceModal"), what="asked")
            await pilot.press("escape")  # cancel: stays on the form with the change
            await wait_for(pilot, lambda: _screen(app, "JobFormScreen"))
            assert form.query_one("#job-cron").value == "15 3 * * *"
            await pilot.press("escape")
            await wait_for(pilot, lambda: _screen(app, "ChoiceModal"))
            await pilot.click("#choice-discard")
            await wait_for(pilot, lambda: _screen(app, "JobsScreen"), what="discarded")

    run(go())
    assert jobs.show_job(job["id"])["cron"] == "0 3 * * *"
