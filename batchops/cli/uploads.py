"""batchops uploads ..."""

from typing import Annotated

import typer

from batchops.cli.options import JsonOutput, Limit, Yes, global_options, plan_config_from
from batchops.cli.output import confirm, emit, info, record, table, warn_if_no_worker
from batchops.cli.store import configure_store, needs_store

app = typer.Typer(name="uploads", help="Uploaded files.", no_args_is_help=True)

UPLOAD_COLUMNS = [
    ("id", "id"),
    ("original_name", "file"),
    "?department",
    "plan",
    ("status_label", "status"),
    ("?rows_out", "rows"),
    "?error_code",
    "created_at",
    "?notes",
]


@app.command("list")
@needs_store()
def uploads_list(
    status: Annotated[
        str | None, typer.Option("--status", help="staged, queued, processing, published, failed.")
    ] = None,
    limit: Limit = 50,
    json_out: JsonOutput = False,
) -> None:
    """Recent uploads, newest first."""
    from batchops.services import uploads

    emit(
        uploads.list_uploads(status=status, limit=limit),
        json_out,
        lambda rows: table(rows, UPLOAD_COLUMNS, title="Uploads"),
    )


@app.command("show")
@needs_store()
def uploads_show(upload_id: str, json_out: JsonOutput = False) -> None:
    """One upload with its runs and incidents."""
    from batchops.services import uploads

    data = uploads.show_upload(upload_id)

    def render(d):
        record(d, title=f"Upload {d['id']}", skip=("runs", "incidents", "summary"))
        table(d["runs"], ["id", "status", "trigger", "attempt", "error_code", "queued_at"], title="Runs")
        if d["incidents"]:
            table(d["incidents"], ["id", "state", "severity", "occurrences", "title"], title="Incidents")

    emit(data, json_out, render)


@app.command("retry")
@needs_store(recover=True)
def uploads_retry(
    upload_id: str,
    now: Annotated[bool, typer.Option("--now", help="Run here instead of queueing for the worker.")] = False,
    json_out: JsonOutput = False,
) -> None:
    """Run the pipeline again for an upload (queued for the worker by default)."""
    from batchops.services import processing, uploads

    upload = uploads.get_upload(upload_id)
    result = processing.submit(upload.id, trigger="retry", queue=not now)
    emit(result, json_out, lambda r: info(f"upload {r['upload_id']}: run {r['run_id']} {r['status']}"))
    warn_if_no_worker([result["status"]])
    if result["status"] == "failed":
        raise typer.Exit(1)


@app.command("edit")
def uploads_edit(
    ctx: typer.Context,
    upload_id: str,
    department: Annotated[str | None, typer.Option("--department", "-d", help='New department ("" clears it).')] = None,
    notes: Annotated[str | None, typer.Option("--notes", help="Replace the notes.")] = None,
    plan: Annotated[str | None, typer.Option("--plan", "-p", help="A new plan for the next retry.")] = None,
    records: Annotated[str | None, typer.Option("--records", help="append: JSON list/object, or @file.json.")] = None,
    where: Annotated[
        list[str] | None, typer.Option("--where", help="delete: COLUMN=VALUE (repeatable).", metavar="COL=VALUE")
    ] = None,
    rules: Annotated[str | None, typer.Option("--rules", help="delete: JSON rules, or @file.json.")] = None,
    instructions: Annotated[
        str | None, typer.Option("--instructions", help="custom: the instruction narrative.")
    ] = None,
    options: Annotated[
        list[str] | None, typer.Option("--set", help="Plan option KEY=VALUE (repeatable).", metavar="KEY=VALUE")
    ] = None,
    json_out: JsonOutput = False,
) -> None:
    """Change an upload's department, notes or plan (then `uploads retry` runs it with them)."""
    from batchops.services.upload_edit import edit_upload

    payload = any((records, where, rules, instructions, options))
    config = plan_config_from(records, where, rules, instructions, options) if payload else None
    configure_store(global_options(ctx))  # after the payload parses
    result = edit_upload(upload_id, department=department, notes=notes, plan=plan, plan_config=config)
    emit(
        result,
        json_out,
        lambda r: info(
            f"upload {r['id']} edited: {r.get('department') or 'no department'}, plan {r['plan']}"
            f"{', notes: ' + r['notes'] if r.get('notes') else ''} (retry with `batchops uploads retry {r['id']}`)"
        ),
    )


@app.command("delete")
@needs_store()
def uploads_delete(upload_id: str, yes: Yes = False, json_out: JsonOutput = False) -> None:
    """Delete an upload, its reports and its original file."""
    from batchops import context
    from batchops.services import uploads

    context.require_writable()  # refuse before asking, not after the operator said yes
    upload = uploads.get_upload(upload_id)
    confirm(f"Delete upload {upload.id} ({upload.original_name})?", yes)
    emit(uploads.delete_upload(upload.id), json_out, lambda r: info(f"deleted upload {r['deleted']}"))
