"""batchops jobs ..."""

from __future__ import annotations

import typer

from batchops.cli.main import setup
from batchops.cli.output import emit, record, table

app = typer.Typer(no_args_is_help=True)
JSON = typer.Option(False, "--json", help="One JSON document on stdout.")
LIST_COLUMNS = ["id", "name", "callable", "cron", "timezone", "paused", "next_run_at", "last_status"]


@app.command("list")
def list_(json_out: bool = JSON) -> None:
    """Every scheduled job."""
    from batchops.services import jobs

    setup()
    emit(jobs.list_jobs(), json_out, lambda rows: table(rows, LIST_COLUMNS, title="Jobs"))


@app.command()
def show(job_id: str, json_out: bool = JSON) -> None:
    """One job in full."""
    from batchops.services import jobs

    setup()
    emit(jobs.show_job(job_id), json_out, lambda r: record(r, title=f"Job {r['id']}"))
