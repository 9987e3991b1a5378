"""Every command group, registered on the app. One line per group module."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from batchops.cli import dashboard as dashboard_cli
    from batchops.cli import incidents as incidents_cli
    from batchops.cli import jobs, known_errors, pipeline, system, uploads
    from batchops.cli import tui as tui_cli
    from batchops.cli import worker as worker_cli

    system.register(app)
    pipeline.register(app)
    uploads.register(app)
    app.add_typer(jobs.app, name="jobs", help="Scheduled jobs.")
    app.add_typer(known_errors.app, name="known-errors", help="The known-error library.")
    incidents_cli.register(app)
    dashboard_cli.register(app)
    tui_cli.register(app)
    worker_cli.register(app)
