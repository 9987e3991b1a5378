"""Every command group, registered on the app: one module per group, named after it.

Top-level commands first, then the sub-apps, in the order ``batchops --help`` lists them.
"""

from __future__ import annotations

import typer

from batchops.cli import (
    backup,
    dashboard,
    incidents,
    jobs,
    known_errors,
    outbox,
    process,
    report,
    runs,
    system,
    tickets,
    tui,
    uploads,
    worker,
)


def register(app: typer.Typer) -> None:
    for commands in (system, process, dashboard, tui, worker, backup):
        commands.register(app)
    for group in (report, uploads, runs, jobs, known_errors, incidents, tickets, outbox):
        app.add_typer(group.app)
