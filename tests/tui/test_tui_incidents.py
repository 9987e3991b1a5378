"""Incidents: filters, badges, the detail screen, and the whole workflow walked from the TUI."""

from __future__ import annotations

from tui_helpers import SIZE, notifications, run, table_rows, wait_for


def _screen(app, name):
    return type(app.screen).__name__ == name


def _enabled(screen) -> set[str]:
    return {b.id.removeprefix("do-") for b in screen.query("#incident-actions Button") if not b.disabled}


async def _form(pilot, app, values: dict, submit: str = "ctrl+s"):
    await wait_for(pilot, lambda: _screen(app, "FormModal"), what="form")
    for name, value in values.items():
        widget = app.screen.query_one(f"#f-{name}")
        if hasattr(widget, "load_text"):
            widget.load_text(value)
        else:
            widget.value = value
    await pilot.press(submit)


def test_walk_an_incident_through_its_workflow(make_app, samples):
    from batchops.services import incidents, processing

    failed = processing.process_file(samples / "broken" / "missing_columns.csv")
    ident = failed["incident_id"]
    assert ident

    async def go():
        app = make_app(start_area="incidents")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen), what="incidents")
            row = table_rows(app.screen)[0]
            assert row[0] == str(ident) and row[1].strip() == "HIGH" and row[2] == "open" and row[4] == "×1"
            assert row[6].startswith("Missing required columns")  # the matched known error
            await pilot.press("enter")
            await wait_for(pilot, lambda: _screen(app, "IncidentDetailScreen") and app.screen.incident)
            detail = app.screen
            assert _enabled(detail) == {"assign", "retry", "resolve"}  # analyze and archive are illegal now
            await wait_for(pilot, lambda: detail.query_one("#timeline").row_count >= 1)
            assert detail.query_one("#incident-tickets").row_count == 1

            # analyze is disabled while open: the key does nothing
            await pilot.press("n")
            assert _screen(app, "IncidentDetailScreen")

            await pilot.press("a")
            await _form(pilot, app, {"to": "ravi"})
            await wait_for(pilot, lambda: detail.incident["state"] == "assigned", what="assigned")
            assert _enabled(detail) == {"assign", "analyze", "retry", "resolve"}

            await pilot.press("n")
            await _form(
                pilot,
                app,
                {
                    "impact": "Science marks not published",
                    "root_cause": "old export template",
                    "corrective_action": "use template v2",
                },
            )
            await wait_for(pilot, lambda: detail.incident["state"] == "analyzing", what="analyzing")
            assert detail.incident["root_cause"] == "old export template"

            await pilot.press("t")
            await wait_for(pilot, lambda: _screen(app, "ChoiceModal"))
            await pilot.click("#choice-now")
            # the screen's own refresh can show the second occurrence before the action's note arrives: wait for both
            await wait_for(
                pilot,
                lambda: any(n.startswith(f"incident {ident}: retry run") for n in notifications(app)),
                timeout=30,
                what="the retry's note",
            )
            await wait_for(pilot, lambda: detail.incident["occurrences"] == 2, what="retried")

            await pilot.press("s")
            await _form(pilot, app, {"report": "Department re-sent the file with the standard template."})
            await wait_for(pilot, lambda: detail.incident["state"] == "resolved", what="resolved")
            assert _enabled(detail) == {"archive"}

            await pilot.press("x")
            await wait_for(pilot, lambda: _screen(app, "ChoiceModal"))
            await pilot.click("#choice-archive")
            await wait_for(pilot, lambda: detail.incident["state"] == "archived", what="archived")
            assert _enabled(detail) == set()
            kinds = [r[2] for r in table_rows(detail, "#timeline")]
            assert {"assign", "analyze", "retry", "resolve", "archive"} <= set(kinds)

            await pilot.press("escape")
            await wait_for(pilot, lambda: table_rows(app.screen) and table_rows(app.screen)[0][2] == "archived")
            # filters: state=active hides it, severity=high shows it
            app.screen.query_one("#filter-state").value = "active"
            await wait_for(pilot, lambda: table_rows(app.screen) == [], what="active filter")
            app.screen.query_one("#filter-state").value = "archived"
            await wait_for(pilot, lambda: len(table_rows(app.screen)) == 1, what="archived filter")

    run(go())
    final = incidents.show_incident(ident)
    assert final["state"] == "archived" and final["assignee"] == "ravi"
    assert final["resolution"].startswith("Department re-sent")


def test_illegal_action_is_refused_with_its_code(make_app, samples):
    from batchops.services import processing
    from batchops.tui.screens.incidents import run_incident_action

    ident = processing.process_file(samples / "broken" / "missing_columns.csv")["incident_id"]

    async def go():
        app = make_app(start_area="incidents")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen))
            row = app.screen.pager.selected_row()
            run_incident_action(app.screen, row, "archive")  # what a stale button would do
            await pilot.pause()
            assert any(n.startswith(f"E_ILLEGAL_TRANSITION: incident {ident} is open") for n in notifications(app))
            # the text filter searches the store
            app.screen.query_one("#filter-text").value = "no such thing"
            await wait_for(pilot, lambda: table_rows(app.screen) == [], what="text filter")

    run(go())


def test_footer_shows_only_the_actions_the_state_allows(make_app, samples):
    from batchops.services import incidents, processing

    ident = processing.process_file(samples / "broken" / "missing_columns.csv")["incident_id"]
    incidents.resolve(ident, "fixed the template", actor="operator")

    def footer_keys(app) -> set[str]:
        from textual.widgets._footer import FooterKey

        return {key.key for key in app.screen.query(FooterKey)}

    async def go():
        app = make_app(start_area="incidents")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table_rows(app.screen))
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "IncidentDetailScreen" and app.screen.incident)
            await pilot.pause()
            keys = footer_keys(app)
            assert "x" in keys  # archive: allowed on a resolved incident
            assert not keys & {"a", "n", "t", "s"}, keys
            await pilot.press("a")  # not shown, so it does nothing (no dialog)
            await pilot.pause()
            assert type(app.screen).__name__ == "IncidentDetailScreen"

    run(go())
