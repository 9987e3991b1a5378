"""batchops uploads ... and batchops runs ..."""

from __future__ import annotations

from typing import Optional

import typer

from batchops.cli.main import setup
from batchops.cli.output import confirm, emit, info, record, table, want_json, warn_if_no_worker

JSON = typer.Option(False, "--json", help="One JSON document on stdout.")
uploads_app = typer.Typer(no_args_is_help=True)
runs_app = typer.Typer(no_args_is_help=True)

UPLOAD_COLUMNS = [("id", "id"), ("original_name", "file"), "?department", "plan", ("status_label", "status"),
                  ("?rows_out", "rows"), "?error_code", "created_at", "?notes"]
RUN_COLUMNS = ["id", "kind", "status", "?trigger", ("upload_id", "upload"), "?job_name", ("?attempt", "try"),
               "error_code", "queued_at", ("duration_s", "took")]


@uploads_app.command("list")
def uploads_list(
    status: Optional[str] = typer.Option(None, "--status", help="staged, queued, processing, published, failed."),
    limit: int = typer.Option(50, "--limit", "-n"),
    json_out: bool = JSON,
) -> None:
    """Recent uploads, newest first."""
    from batchops.services import uploads

    setup()
    emit(uploads.list_uploads(status=status, limit=limit), json_out,
         lambda rows: table(rows, UPLOAD_COLUMNS, title="Uploads"))


@uploads_app.command("show")
def uploads_show(upload_id: str, json_out: bool = JSON) -> None:
    """One upload with its runs and incidents."""
    from batchops.services import uploads

    setup()
    data = uploads.show_upload(upload_id)

    def render(d):
        record(d, title=f"Upload {d['id']}", skip=("runs", "incidents", "summary"))
        table(d["runs"], ["id", "status", "trigger", "attempt", "error_code", "queued_at"], title="Runs")
        if d["incidents"]:
            table(d["incidents"], ["id", "state", "severity", "occurrences", "title"], title="Incidents")

    emit(data, json_out, render)


@uploads_app.command("retry")
def uploads_retry(
    upload_id: str,
    now: bool = typer.Option(False, "--now", help="Run here instead of queueing for the worker."),
    json_out: bool = JSON,
) -> None:
    """Run the pipeline again for an upload (queued for the worker by default)."""
    from batchops.services import processing, uploads

    setup(recover=True)
    upload = uploads.get_upload(upload_id)
    result = processing.submit(upload.id, trigger="retry", queue=not now)
    emit(result, json_out, lambda r: info(f"upload {r['upload_id']}: run {r['run_id']} {r['status']}"))
    warn_if_no_worker([result["status"]])
    if result["status"] == "failed":
        raise typer.Exit(1)


@uploads_app.command("edit")
def uploads_edit(
    upload_id: str,
    department: Optional[str] = typer.Option(None, "--department", "-d", help="New department (\"\" clears it)."),
    notes: Optional[str] = typer.Option(None, "--notes", help="Replace the notes."),
    plan: Optional[str] = typer.Option(None, "--plan", "-p", help="A new plan for the next retry."),
    records: Optional[str] = typer.Option(None, "--records", help="append: JSON list/object, or @file.json."),
    where: Optional[list[str]] = typer.Option(None, "--where", help="delete: COLUMN=VALUE (repeatable).",
                                              metavar="COL=VALUE"),
    rules: Optional[str] = typer.Option(None, "--rules", help="delete: JSON rules, or @file.json."),
    instructions: Optional[str] = typer.Option(None, "--instructions", help="custom: the instruction narrative."),
    options: Optional[list[str]] = typer.Option(None, "--set", help="Plan option KEY=VALUE (repeatable).",
                                                metavar="KEY=VALUE"),
    json_out: bool = JSON,
) -> None:
    """Change an upload's department, notes or plan (then `uploads retry` runs it with them)."""
    from batchops.services import plans
    from batchops.services.upload_edit import edit_upload

    payload = any((records, where, rules, instructions, options))
    config = plans.plan_config(records=records, where=where, rules=rules, instructions=instructions,
                               options=options, labels={"records": "--records", "rules": "--rules"}) if payload else None
    setup()
    result = edit_upload(upload_id, department=department, notes=notes, plan=plan, plan_config=config)
    emit(result, json_out, lambda r: info(
        f"upload {r['id']} edited: {r.get('department') or 'no department'}, plan {r['plan']}"
        f"{', notes: ' + r['notes'] if r.get('notes') else ''} (retry with `batchops uploads retry {r['id']}`)"))


@uploads_app.command("delete")
def uploads_delete(
    upload_id: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    json_out: bool = JSON,
) -> None:
    """Delete an upload, its reports and its original file."""
    from batchops import context
    from batchops.services import uploads

    setup()
    context.require_writable()  # refuse before asking, not after the operator said yes
    upload = uploads.get_upload(upload_id)
    confirm(f"Delete upload {upload.id} ({upload.original_name})?", yes)
    emit(uploads.delete_upload(upload.id), json_out, lambda r: info(f"deleted upload {r['deleted']}"))


@runs_app.command("list")
def runs_list(
    status: Optional[str] = typer.Option(None, "--status"),
    kind: Optional[str] = typer.Option(None, "--kind", help="pipeline or job."),
    upload: Optional[int] = typer.Option(None, "--upload"),
    job: Optional[int] = typer.Option(None, "--job"),
    limit: int = typer.Option(50, "--limit", "-n"),
    json_out: bool = JSON,
) -> None:
    """Recent runs, newest first."""
    from batchops.services import runs

    setup()
    emit(runs.list_runs(status=status, kind=kind, upload_id=upload, job_id=job, limit=limit), json_out,
         lambda rows: table(rows, RUN_COLUMNS, title="Runs"))


@runs_app.command("show")
def runs_show(run_id: str, logs: bool = typer.Option(False, "--logs", help="Print the log."), json_out: bool = JSON) -> None:
    """One run with its steps (and log)."""
    from batchops.services import runs

    setup()
    data = runs.show_run(run_id)
    if not logs and not want_json(json_out):
        data.pop("log", None)

    def render(d):
        record(d, title=f"Run {d['id']}", skip=("steps", "findings", "log", "result"))
        table(d["steps"], ["name", "status", "duration_s", "rows_in", "rows_out", "message"], title="Steps")
        if d["findings"]:
            table(d["findings"], ["severity", "code", "location", "message"], title=f"Findings ({len(d['findings'])})")
        if logs:
            print(d.get("log", ""))

    emit(data, json_out, render)


def register(app: typer.Typer) -> None:
    app.add_typer(uploads_app, name="uploads", help="Uploaded files.")
    app.add_typer(runs_app, name="runs", help="Pipeline and job runs.")
