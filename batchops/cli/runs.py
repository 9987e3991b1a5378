"""batchops runs ..."""

from typing import Annotated

import typer

from batchops.cli.options import JsonOutput, Limit
from batchops.cli.output import emit, record, table
from batchops.cli.store import needs_store

app = typer.Typer(name="runs", help="Pipeline and job runs.", no_args_is_help=True)

RUN_COLUMNS = [
    "id",
    "kind",
    "status",
    "?trigger",
    ("upload_id", "upload"),
    "?job_name",
    ("?attempt", "try"),
    "error_code",
    "queued_at",
    ("duration_s", "took"),
]


@app.command("list")
@needs_store()
def runs_list(
    status: Annotated[str | None, typer.Option("--status")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="pipeline or job.")] = None,
    upload: Annotated[int | None, typer.Option("--upload")] = None,
    job: Annotated[int | None, typer.Option("--job")] = None,
    limit: Limit = 50,
    json_out: JsonOutput = False,
) -> None:
    """Recent runs, newest first."""
    from batchops.services import runs

    emit(
        runs.list_runs(status=status, kind=kind, upload_id=upload, job_id=job, limit=limit),
        json_out,
        lambda rows: table(rows, RUN_COLUMNS, title="Runs"),
    )


@app.command("show")
@needs_store()
def runs_show(
    run_id: str,
    logs: Annotated[bool, typer.Option("--logs", help="Print the log.")] = False,
    json_out: JsonOutput = False,
) -> None:
    """One run with its steps (and log)."""
    from batchops.services import runs

    data = runs.show_run(run_id)
    if not logs and not json_out:
        data.pop("log", None)

    def render(d):
        record(d, title=f"Run {d['id']}", skip=("steps", "findings", "log", "result"))
        table(d["steps"], ["name", "status", "duration_s", "rows_in", "rows_out", "message"], title="Steps")
        if d["findings"]:
            table(d["findings"], ["severity", "code", "location", "message"], title=f"Findings ({len(d['findings'])})")
        if logs:
            print(d.get("log", ""))

    emit(data, json_out, render)
