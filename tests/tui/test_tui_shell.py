"""The shell: areas as modes, keys, help, last area remembered, read-only, the command palette."""

from __future__ import annotations

from tui_helpers import SIZE, notifications, run, table_rows, wait_for, wait_for_palette_hit

AREA_KEYS = {
    "1": "dashboard",
    "2": "uploads",
    "3": "runs",
    "4": "incidents",
    "5": "jobs",
    "6": "known_errors",
    "7": "tickets",
}


def test_keys_switch_areas_and_each_area_loads(make_app):
    async def go():
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.current_mode == "dashboard", what="first area")
            for key, area in AREA_KEYS.items():
                await pilot.press(key)
                assert app.current_mode == area
                await wait_for(pilot, lambda: app.screen.loaded_once, what=f"{area} loaded")
            assert not [n for n in notifications(app) if n.startswith("E_")], notifications(app)
            # the seeded jobs are listed (Jobs area), the built-in known errors too
            await pilot.press("5")
            await wait_for(pilot, lambda: len(table_rows(app.screen)) >= 6, what="seeded jobs")
            names = {row[1] for row in table_rows(app.screen)}
            assert "daily-backup" in names

    run(go())


def test_area_keys_always_land_on_the_list(make_app, samples):
    """A detail screen left open in an area is not where its key leads (it used to come back, and keys
    typed there fired its one-letter actions)."""
    from batchops.services import processing

    result = processing.process_file(samples / "broken" / "missing_columns.csv", trigger="cli")
    incident_id = result["incident_id"]

    async def go():
        app = make_app(start_area="incidents")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.pager.rows, what="incidents")
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "IncidentDetailScreen", what="detail")
            assert app.screen.ident == incident_id
            await pilot.press("1")
            assert app.current_mode == "dashboard"
            await pilot.press("4")
            assert type(app.screen).__name__ == "IncidentsScreen"  # the list, not the old detail
            assert len(app.screen_stack) == 1
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "IncidentDetailScreen", what="detail again")
            await pilot.press("4")  # the key of the area already shown: back to its list too
            assert type(app.screen).__name__ == "IncidentsScreen" and len(app.screen_stack) == 1

    run(go())


def test_letters_typed_into_a_text_field_never_fire_actions(make_app, samples):
    from batchops.services import processing

    processing.process_file(samples / "broken" / "missing_columns.csv", trigger="cli")

    async def go():
        app = make_app(start_area="incidents")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.pager.rows, what="incidents")
            await pilot.press("slash")
            assert app.focused.id == "filter-text"
            await pilot.press(*"tanx2q/")
            await pilot.pause()
            assert app.current_mode == "incidents" and type(app.screen).__name__ == "IncidentsScreen"
            assert app.screen.query_one("#filter-text").value == "tanx2q/"
            assert len(app.screen_stack) == 1  # no dialog opened

    run(go())


def test_help_lists_keys_and_closes(make_app):
    async def go():
        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await pilot.press("question_mark")
            assert type(app.screen).__name__ == "HelpScreen"
            rows = dict(app.screen.rows)
            await pilot.press("escape")
            assert type(app.screen).__name__ == "UploadsScreen"
            return rows

    rows = run(go())
    assert "1-5" in rows and "/" in rows and "esc" in rows  # the global keys
    assert rows["n"] == "Stage" and rows["d"] == "Delete"  # and this area's


def test_reopens_on_the_last_area(make_app):
    async def first():
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.current_mode == "dashboard")
            await pilot.press("4")
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await pilot.press("q")
        return app.return_code

    async def second():
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.current_mode == "incidents", what="reopened on Incidents")
            return app.current_mode

    run(first())
    assert run(second()) == "incidents"


def test_read_only_hides_changes_and_services_refuse(make_app, samples):
    from batchops import context
    from batchops.errors import ReadOnly
    from batchops.services import jobs, processing

    processing.process_file(samples / "gradebook_science.csv", department="Science")
    context.config().read_only = True

    async def go():
        app = make_app(start_area="uploads")
        assert app.read_only
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.pager.rows)
            shown = {b.binding.action for b in app.screen.active_bindings.values()}
            assert "stage" not in shown and "delete" not in shown and "retry" not in shown
            await pilot.press("d")  # nothing happens: no confirmation dialog
            assert type(app.screen).__name__ == "UploadsScreen"
            await pilot.press("5")
            await wait_for(pilot, lambda: app.screen.pager.rows)
            shown = {b.binding.action for b in app.screen.active_bindings.values()}
            assert not {"new", "delete", "trigger", "pause"} & shown
            assert app.screen.query_one("Sidebar .ro")

    run(go())
    try:
        jobs.pause_job(1)
    except ReadOnly as exc:
        assert exc.code == "E_READ_ONLY"
    else:  # pragma: no cover
        raise AssertionError("the service must refuse in read-only mode")


def test_command_palette_jumps_to_an_upload_by_id(make_app, samples):
    from batchops.services import processing

    upload_id = processing.process_file(samples / "gradebook_science.csv", department="Science")["upload_id"]

    async def go():
        app = make_app(start_area="dashboard")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await pilot.press("colon")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette", what="palette")
            await pilot.press(*f"upload {upload_id}")
            await wait_for_palette_hit(pilot, app, f"Open upload {upload_id}")
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "UploadDetailScreen", what="upload detail")
            assert app.current_mode == "uploads"
            await wait_for(pilot, lambda: app.screen.upload, what="upload loaded")
            assert app.screen.upload["id"] == upload_id

    run(go())


def test_errors_are_one_line_notifications(make_app):
    async def go():
        app = make_app(start_area="incidents")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            app.open_item("incidents", 999)
            await wait_for(pilot, lambda: any("E_NOT_FOUND" in n for n in notifications(app)), what="error")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "IncidentsScreen", what="back to the list")
            assert "E_NOT_FOUND: no incident with id 999" in notifications(app)

    run(go())


def test_refresh_pauses_while_a_modal_is_open(make_app, monkeypatch):
    from batchops.tui.screens.runs import RunsScreen

    calls = []
    original = RunsScreen.load
    monkeypatch.setattr(RunsScreen, "load", lambda self, params: calls.append(1) or original(self, params))

    async def go():
        app = make_app(start_area="runs", refresh_seconds=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: len(calls) >= 3, what="the timer refreshing")
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="help")
            await app.workers.wait_for_complete()  # a fetch started before the modal opened has landed
            during = len(calls)
            await pilot.pause(1.0)  # five refresh periods
            assert len(calls) == during  # no fetch while the help modal is open
            await pilot.press("escape")
            await wait_for(pilot, lambda: len(calls) > during, what="refresh on return")
            await pilot.press("1")  # another area shown: the runs screen stops polling too
            await wait_for(pilot, lambda: app.current_mode == "dashboard", what="the dashboard")
            await app.workers.wait_for_complete()
            hidden = len(calls)
            await pilot.pause(1.0)
            assert len(calls) == hidden

    run(go())


def test_command_palette_triggers_a_job(make_app):
    from batchops.services import jobs, runs

    job = jobs.add_job("palette-backup", "run_daily_backup", "0 3 * * *")

    async def go():
        app = make_app(start_area="dashboard")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await pilot.press("colon")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
            await pilot.press(*"trigger palette-backup")
            await wait_for_palette_hit(pilot, app, "Trigger job palette-backup")
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ChoiceModal", what="trigger dialog")
            assert app.current_mode == "jobs"
            await pilot.click("#choice-now")
            await wait_for(
                pilot,
                lambda: any(n.startswith("job palette-backup: run") for n in notifications(app)),
                timeout=30,
                what="job ran",
            )

    run(go())
    ran = runs.list_runs(job_id=job["id"])
    assert len(ran) == 1 and ran[0]["trigger"] == "tui"


def test_restart_brings_back_the_open_record_and_the_filters(make_app, samples):
    from batchops.services import processing

    ident = processing.process_file(samples / "broken" / "missing_columns.csv")["incident_id"]

    async def first():
        app = make_app(refresh_seconds=0)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.current_mode == "dashboard")
            await pilot.press("4")
            await wait_for(pilot, lambda: app.screen.loaded_once)
            app.screen.query_one("#filter-severity").value = "high"
            app.screen.query_one("#filter-text").value = "Missing"
            await wait_for(pilot, lambda: app.screen.pager.rows, what="filtered rows")
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "IncidentDetailScreen")
            await app.workers.wait_for_complete()
            await pilot.press("q")

    async def second():
        app = make_app(refresh_seconds=0)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: type(app.screen).__name__ == "IncidentDetailScreen", what="reopened")
            seen = {"id": app.screen.ident}
            await pilot.press("escape")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "IncidentsScreen")
            seen["severity"] = app.screen.query_one("#filter-severity").value
            seen["text"] = app.screen.query_one("#filter-text").value
            await app.workers.wait_for_complete()
            await pilot.press("q")
            return seen

    async def third():  # the record was closed before quitting: the list comes back, not the record
        app = make_app(refresh_seconds=0)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.current_mode == "incidents" and app.screen.loaded_once)
            await pilot.pause()
            return type(app.screen).__name__

    run(first())
    assert run(second()) == {"id": ident, "severity": "high", "text": "Missing"}
    assert run(third()) == "IncidentsScreen"
