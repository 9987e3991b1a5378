"""A handful of snapshots of key screens (pytest-textual-snapshot).

Kept deterministic: a fresh store with fixed data, every displayed time frozen
(``display.when``), HOME pointed at the test folder so paths read ``~/...``.
Review the SVG report before updating baselines (``pytest --snapshot-update``).
"""

from __future__ import annotations

import shutil

import pytest
from tui_helpers import SIZE, wait_for


@pytest.fixture
def frozen(monkeypatch, tmp_path):
    monkeypatch.setattr(
        "batchops.tui.display.when",
        lambda value, compact=False: (
            "-" if value in (None, "") else ("01-05 09:30" if compact else "2026-01-05 09:30 IST")
        ),
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("getpass.getuser", lambda: "operator")


async def _settled(pilot, app) -> None:
    """Every load finished and applied, the tables measured and drawn afresh, the text cursor steady.

    Two things otherwise depend on how busy the machine is. A blinking cursor is drawn or not by
    how long it took to get here (it flips every half second). A DataTable measures its columns
    only when idle, and a header drawn between its rows arriving and that measuring stays in the
    table's line cache with the old widths: wait for the measuring, then drop the cached lines.
    """
    from textual.widgets import DataTable

    # every worker but a DirectoryTree's loader, which waits for work as long as the tree lives
    finite = [w for w in app.workers if w.group != "_loader"]
    if finite:  # (an empty list would mean all of them)
        await app.workers.wait_for_complete(finite)
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    tables = list(app.screen.query(DataTable))
    await wait_for(
        pilot, lambda: not any(t._require_update_dimensions or t._updated_cells for t in tables), what="tables measured"
    )
    for table in tables:
        table.notify_style_update()  # public; clears the render caches and redraws
    await pilot.pause()
    await pilot.pause()


def _loaded(app, name: str):
    async def run_before(pilot):
        await wait_for(pilot, lambda: type(app.screen).__name__ == name and app.screen.loaded_once, what=name)
        await _settled(pilot, app)

    return run_before


def test_snapshot_incidents_list(make_app, frozen, samples, snap_compare):
    from batchops.services import processing

    processing.process_file(samples / "broken" / "missing_columns.csv")
    processing.process_file(samples / "broken" / "missing_columns.csv")
    app = make_app(start_area="incidents", refresh_seconds=0)
    assert snap_compare(app, terminal_size=SIZE, run_before=_loaded(app, "IncidentsScreen"))


def test_snapshot_incident_detail(make_app, frozen, samples, snap_compare):
    from batchops.services import incidents, processing

    ident = processing.process_file(samples / "broken" / "missing_columns.csv")["incident_id"]
    incidents.assign(ident, "ravi", actor="operator")
    app = make_app(start_area="incidents", refresh_seconds=0)

    async def run_before(pilot):
        await _loaded(app, "IncidentsScreen")(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "IncidentDetailScreen" and app.screen.incident)
        await _settled(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_job_form_with_a_bad_cron(make_app, frozen, snap_compare):
    app = make_app(start_area="jobs", refresh_seconds=0)

    async def run_before(pilot):
        await wait_for(pilot, lambda: type(app.screen).__name__ == "JobsScreen" and app.screen.loaded_once)
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "JobFormScreen" and app.screen.callables)
        form = app.screen
        form.query_one("#job-name").value = "weekday-digest"
        form.query_one("#job-callable").value = "send_attendance_reminders"
        form.query_one("#job-kwargs").value = '{"dry_run": tru}'
        form.query_one("#job-cron").value = "30 7 * * 1-8"
        form.query_one("#job-name").focus()
        await _settled(pilot, app)  # the form's checks run in workers

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_stage_screen(make_app, frozen, samples, tmp_path, snap_compare):
    picks = tmp_path / "samples"
    picks.mkdir()
    for name in ("gradebook_science.csv", "roster_commerce.xlsx", "README.md"):
        shutil.copyfile(samples / name, picks / name)
    app = make_app(start_area="uploads", refresh_seconds=0)

    async def run_before(pilot):
        await wait_for(pilot, lambda: type(app.screen).__name__ == "UploadsScreen" and app.screen.loaded_once)
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "StageScreen" and app.screen.loaded_once)
        stage = app.screen
        stage.query_one("#path").value = str(picks / "gradebook_science.csv")
        await pilot.press("enter")
        await wait_for(pilot, lambda: stage.staged)
        stage.query_one("#department").value = "Science"
        stage.query_one("#plan").value = "append"
        stage.query_one("#records").load_text('[{"student_id": "S041", "name": "Asha"')
        stage.query_one("#tree").focus()
        await wait_for(pilot, lambda: len(stage.query_one("#tree").root.children) >= 2, what="tree loaded")
        await _settled(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_help_over_known_errors(make_app, frozen, snap_compare):
    app = make_app(start_area="known_errors", refresh_seconds=0)
    assert snap_compare(app, press=["question_mark"], terminal_size=SIZE, run_before=_loaded(app, "KnownErrorsScreen"))


@pytest.fixture
def fixed_days(monkeypatch):
    """The sparkline's dates come from today: pin their labels (counts stay real)."""
    from batchops.services import dashboard

    real = dashboard.runs_per_day

    def pinned(*args, **kwargs):
        days = real(*args, **kwargs)
        return [{**d, "date": f"day {i + 1}"} for i, d in enumerate(days)]

    monkeypatch.setattr(dashboard, "runs_per_day", pinned)


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_snapshot_dashboard_adapts_to_the_terminal(make_app, frozen, fixed_days, samples, size, snap_compare):
    from batchops.services import processing

    processing.process_file(samples / "broken" / "missing_columns.csv")
    app = make_app(start_area="dashboard", refresh_seconds=0)
    assert snap_compare(app, terminal_size=size, run_before=_loaded(app, "DashboardScreen"))
