"""``batchops tui``: the control room. Textual is imported only when the command runs."""

from dataclasses import replace
from typing import Annotated

import typer

from batchops.cli.options import global_options
from batchops.cli.store import configure_store


def tui(
    ctx: typer.Context,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Look, don't touch (also BATCHOPS_READ_ONLY).")
    ] = False,
    refresh: Annotated[
        float, typer.Option("--refresh", help="Seconds between refreshes of the shown area.", min=0.5)
    ] = 3.0,
) -> None:
    """The control room: dashboard, uploads, runs, incidents and jobs in one terminal UI."""
    options = global_options(ctx)
    # not @needs_store: this command's own --read-only joins the global one before the store opens
    cfg = configure_store(replace(options, read_only=options.read_only or read_only))
    from batchops.tui.app import make_app  # Textual only from here on

    make_app(read_only=cfg.read_only, refresh_seconds=refresh).run()


def register(app: typer.Typer) -> None:
    app.command()(tui)
