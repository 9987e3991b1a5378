"""Dashboard, Known errors and Tickets areas, with data made through the services."""

from __future__ import annotations

from tui_helpers import SIZE, notifications, run, table_rows, wait_for


def _screen(app, name):
    return type(app.screen).__name__ == name


def _card(screen, ident) -> tuple[str, str]:
    card = screen.query_one(f"#{ident}")
    return tuple(str(s.render()) for s in card.query("Static"))


def test_dashboard_shows_kpis_health_and_latest_incidents(make_app, samples):
    from batchops.services import processing

    processing.process_file(samples / "gradebook_science.csv", department="Science")
    failed = processing.process_file(samples / "broken" / "missing_columns.csv")

    async def go():
        app = make_app(start_area="dashboard")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once, what="dashboard")
            screen = app.screen
            assert _card(screen, "kpi-uploads") == ("2 today", "1 ok · 1 failed")
            assert _card(screen, "kpi-runs")[0] == "50% ok"
            assert _card(screen, "kpi-incidents") == ("1 open", "1 high")
            assert screen.query_one("#spark").data[-1] == 2.0  # two runs today
            latest = table_rows(screen, "#latest")
            assert latest[0][0] == str(failed["incident_id"]) and latest[0][2] == "open"
            # enter on an incident opens it in the Incidents area
            screen.query_one("#latest").focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: _screen(app, "IncidentDetailScreen"), what="incident detail")
            assert app.current_mode == "incidents"

    run(go())


def test_health_lines_describe_store_queue_and_workers():
    from batchops.tui.screens.dashboard import describe_check

    assert (
        describe_check("store", {"ok": True, "schema_version": 2, "journal_mode": "wal", "integrity": "ok"})
        == "store: schema v2, wal, integrity ok"
    )
    assert describe_check("queue", {"ok": True, "depth": 3, "scheduled": 1}) == "queue: 3 waiting, 1 scheduled"
    line = describe_check(
        "workers", {"ok": False, "count": 0, "online": [], "note": "3 scheduled job(s) but no worker alive"}
    )
    assert line.startswith("workers: 0 online") and "no worker alive" in line
    line = describe_check(
        "workers",
        {
            "ok": True,
            "count": 1,
            "online": [{"worker_id": "host:42", "workers": 2, "last_seen": "2026-01-05T10:00:00Z"}],
            "last_heartbeat": "2026-01-05T10:00:00Z",
        },
    )
    assert "1 online, last heartbeat 2026-01-05 15:30 IST" in line and "host:42 (2 threads)" in line


def test_known_errors_list_and_message_tester(make_app):
    async def go():
        app = make_app(start_area="known_errors")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen), what="known errors")
            names = [r[1] for r in table_rows(app.screen)]
            assert "Missing required columns" in names
            await pilot.press("m")
            await wait_for(pilot, lambda: _screen(app, "FormModal"))
            app.screen.query_one("#f-message").load_text("Missing required column(s): student_id")
            app.screen.query_one("#f-code").value = "E_MISSING_COLUMNS"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: _screen(app, "ChoiceModal"), what="result")
            assert "Missing required columns" in app.screen.body
            await pilot.press("escape")
            await pilot.press("enter")
            await wait_for(pilot, lambda: _screen(app, "ChoiceModal"), what="known error detail")
            assert "past failed runs it matches" in app.screen.body

    run(go())


def test_tickets_assign_and_resolve(make_app, samples):
    from batchops.services import processing, tickets

    processing.process_file(samples / "broken" / "missing_columns.csv")

    async def go():
        app = make_app(start_area="tickets")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen), what="tickets")
            assert table_rows(app.screen)[0][1] == "open"
            await pilot.press("a")
            await wait_for(pilot, lambda: _screen(app, "FormModal"))
            app.screen.query_one("#f-to").value = "meena"
            await pilot.press("enter")
            await wait_for(pilot, lambda: table_rows(app.screen)[0][1] == "assigned", what="assigned")
            await pilot.press("s")
            await wait_for(pilot, lambda: _screen(app, "FormModal"))
            app.screen.query_one("#f-resolution").load_text("template fixed")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: table_rows(app.screen)[0][1] == "resolved", what="resolved")
            await pilot.press("s")  # not allowed any more: no form
            await pilot.pause()
            assert _screen(app, "TicketsScreen")
            assert not [n for n in notifications(app) if n.startswith("E_")]

    run(go())
    assert tickets.list_tickets()[0]["assignee"] == "meena"
