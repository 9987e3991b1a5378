"""The TUI side of the missing operations: open a manual incident, edit and delete a ticket,
edit an upload's department and notes; a resolved incident still opens from its upload."""

from __future__ import annotations

from tui_helpers import SIZE, run, table_rows, wait_for


def _screen(app, name):
    return type(app.screen).__name__ == name


async def _fill(pilot, app, values: dict):
    await wait_for(pilot, lambda: _screen(app, "FormModal"), what="form")
    for name, value in values.items():
        widget = app.screen.query_one(f"#f-{name}")
        if hasattr(widget, "load_text"):
            widget.load_text(value)
        else:
            widget.value = value
    await pilot.press("ctrl+s")


def test_open_a_manual_incident_from_the_list(make_app):
    from batchops.services import incidents

    async def go():
        app = make_app(start_area="incidents")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await pilot.press("o")
            await _fill(
                pilot, app, {"title": "Printer in room 4 jams", "severity": "low", "description": "report cards stuck"}
            )
            await wait_for(
                pilot, lambda: any("Printer in room 4" in r[3] for r in table_rows(app.screen)), what="listed"
            )

    run(go())
    made = incidents.list_incidents(text="Printer")[0]
    assert made["severity"] == "low" and made["state"] == "open"


def test_edit_and_delete_a_ticket(make_app, samples):
    from batchops.services import processing, tickets

    processing.process_file(samples / "broken" / "missing_columns.csv")

    async def go():
        app = make_app(start_area="tickets")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen), what="tickets")
            await pilot.press("e")
            await _fill(pilot, app, {"title": "Ask for template v2", "to": "ravi"})
            await wait_for(pilot, lambda: table_rows(app.screen)[0][4] == "Ask for template v2", what="edited")
            assert table_rows(app.screen)[0][3] == "ravi"
            await pilot.press("d")
            await wait_for(pilot, lambda: _screen(app, "ChoiceModal"))
            await pilot.click("#choice-delete")
            await wait_for(pilot, lambda: _screen(app, "TicketsScreen") and not table_rows(app.screen), what="gone")

    run(go())
    assert tickets.list_tickets() == []


def test_edit_an_upload_and_open_its_resolved_incident(make_app, samples):
    from batchops.services import incidents, processing, uploads

    failed = processing.process_file(samples / "broken" / "missing_columns.csv")
    incidents.resolve(failed["incident_id"], "template fixed", actor="operator")

    async def go():
        from batchops.tui.screens.upload_detail import UploadDetailScreen

        app = make_app(start_area="uploads")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await app.push_screen(UploadDetailScreen(failed["upload_id"]))
            await wait_for(pilot, lambda: _screen(app, "UploadDetailScreen") and app.screen.upload)
            detail = app.screen
            await pilot.press("e")
            await _fill(pilot, app, {"department": "Science", "notes": "resent by Ravi"})
            await wait_for(pilot, lambda: detail.upload.get("notes") == "resent by Ravi", what="edited")
            rows = table_rows(detail, "#upload-incidents")
            assert rows and rows[0][0] == str(failed["incident_id"]) and rows[0][2] == "resolved"
            detail.query_one("#upload-incidents").focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: _screen(app, "IncidentDetailScreen"), what="incident opened")

    run(go())
    assert uploads.show_upload(failed["upload_id"])["department"] == "Science"
