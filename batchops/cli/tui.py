"""``batchops tui``: the control room. Textual is imported only when the command runs."""

from __future__ import annotations

import typer

from batchops.cli.main import setup


def tui(
    read_only: bool = typer.Option(False, "--read-only", help="Look, don't touch (also BATCHOPS_READ_ONLY)."),
    refresh: float = typer.Option(3.0, "--refresh", help="Seconds between refreshes of the shown area.", min=0.5),
) -> None:
    """The control room: dashboard, uploads, runs, incidents and jobs in one terminal UI."""
    from batchops.cli.output import state

    if read_only:
        state["read_only"] = True
    cfg = setup()
    from batchops.tui.app import make_app  # Textual only from here on

    make_app(read_only=cfg.read_only, refresh_seconds=refresh).run()


def register(app: typer.Typer) -> None:
    app.command()(tui)
