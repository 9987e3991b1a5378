"""Layouts follow the terminal: every KPI card and the health panel readable at 80x24, nothing
clipped at a fixed width on a 200-column terminal, the incident action bar inside 80 columns."""

from __future__ import annotations

from tui_helpers import run, wait_for


def _dashboard(make_app, size):
    app = make_app(start_area="dashboard", refresh_seconds=0)
    sizes = {}

    async def go():
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once, what="dashboard")
            await pilot.pause()
            screen = app.screen
            for card in ("uploads", "runs", "incidents", "mtta", "mttr"):
                region = screen.query_one(f"#kpi-{card}").region
                sizes[card] = (region.width, region.x + region.width <= size[0])
            sizes["health"] = screen.query_one("#health-panel").region.width
            sizes["classes"] = set(screen.classes)
            sizes["latest"] = screen.query_one("#latest").region.width

    run(go())
    return sizes


def test_dashboard_at_80x24_shows_every_card_and_a_wide_health_panel(make_app, samples):
    from batchops.services import processing

    processing.process_file(samples / "broken" / "missing_columns.csv")
    sizes = _dashboard(make_app, (80, 24))
    assert "-narrow" in sizes["classes"]
    for card in ("uploads", "runs", "incidents", "mtta", "mttr"):
        width, inside = sizes[card]
        assert width >= 18 and inside, (card, sizes[card])
    assert sizes["health"] >= 50


def test_dashboard_at_200x50_uses_the_width(make_app, samples):
    sizes = _dashboard(make_app, (200, 50))
    assert "-wide" in sizes["classes"]
    assert sum(sizes[c][0] for c in ("uploads", "runs", "incidents", "mtta", "mttr")) >= 170
    assert sizes["latest"] >= 170


def test_incident_action_bar_fits_80_columns(make_app, samples):
    from batchops.services import processing

    ident = processing.process_file(samples / "broken" / "missing_columns.csv")["incident_id"]
    app = make_app(start_area="incidents", refresh_seconds=0)
    seen = {}

    async def go():
        from batchops.tui.screens.incident_detail import IncidentDetailScreen

        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once)
            await app.push_screen(IncidentDetailScreen(ident))
            await wait_for(pilot, lambda: getattr(app.screen, "incident", None))
            await pilot.pause()
            shown = [b for b in app.screen.query("#incident-actions Button") if b.display]
            seen["labels"] = [str(b.label) for b in shown]
            seen["right"] = max(b.region.right for b in shown)

    run(go())
    assert seen["labels"] == ["Assign (a)", "Retry (t)", "Resolve (s)"]
    assert seen["right"] <= 80
