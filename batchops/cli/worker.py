"""batchops worker | backup | restore | outbox ..."""

from __future__ import annotations

from typing import Optional

import typer

from batchops.cli.main import setup
from batchops.cli.output import confirm, emit, info, table

JSON = typer.Option(False, "--json", help="One JSON document on stdout.")
outbox_app = typer.Typer(no_args_is_help=True)


def worker(
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Worker threads (default queue.workers)."),
    shutdown_timeout: Optional[float] = typer.Option(
        None, "--shutdown-timeout", help="Seconds a running task gets to finish on SIGTERM before it is re-queued."),
    no_periodic: bool = typer.Option(False, "--no-periodic", help="Do not run the scheduler tick in this worker."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Huey consumer + scheduler tick + heartbeat (stop with SIGTERM or Ctrl-C)."""
    from batchops import worker as consumer

    setup()
    raise typer.Exit(consumer.run(workers=workers, shutdown_timeout=shutdown_timeout, periodic=not no_periodic,
                                  verbose=True if verbose else None))


def backup(
    to: Optional[str] = typer.Option(None, "--to", help="Folder or s3://bucket/prefix for the backup "
                                     "(default backups/ in the data home).", metavar="DIR|URL"),
    json_out: bool = JSON,
) -> None:
    """Consistent snapshot of the store and queue, verified (and rotated under backups/)."""
    from batchops.services import backup as service

    setup()
    result = service.backup(to=to)
    emit(result, json_out, lambda r: info(
        f"backup {r['path']}: " + ", ".join(f"{f['file']} {f['bytes']:,} bytes, integrity {f['integrity']}"
                                            for f in r["files"])
        + (f"; rotated out {len(r['rotated'])}" if r["rotated"] else "")
        + (f"; stored at {r['stored_at']}" if r.get("stored_at") and r["stored_at"] != r["path"] else "")))


def restore(
    file: str = typer.Argument(..., help="A backup folder (or its s3:// URL), or a batchops.db (SQLite) or "
                                         "batchops.pgdump (PostgreSQL) file."),
    force: bool = typer.Option(False, "--force", help="Restore even though a worker is alive."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    json_out: bool = JSON,
) -> None:
    """Replace the store with a backup (the current one is kept beside it)."""
    from batchops import context
    from batchops.services import backup as service

    setup()
    context.require_writable()  # refuse before asking, not after the operator said yes
    confirm(f"Replace the store with {file}?", yes)
    result = service.restore(file, force=force)
    emit(result, json_out, lambda r: info(
        f"restored {r['store']} from {r['restored_from']}; the previous store is {r['previous_store_kept_as']}"))


@outbox_app.command("list")
def outbox_list(json_out: bool = JSON) -> None:
    """Messages waiting in the outbox."""
    from batchops.services import outbox

    setup()
    rows = outbox.list_outbox()
    emit(rows, json_out, lambda r: table(
        [{"file": m.get("file"), "kind": m.get("kind"), "to": ", ".join(m.get("to", [])) or m.get("url"),
          "subject": m.get("subject", ""), "last_error": m.get("last_error")} for m in r],
        ["file", "kind", "to", "subject", "last_error"], title="Outbox", empty="the outbox is empty"))


@outbox_app.command("flush")
def outbox_flush(json_out: bool = JSON) -> None:
    """Try to deliver every waiting message now."""
    from batchops import context
    from batchops.services import outbox

    setup()
    context.require_writable()
    result = outbox.flush()
    smtp = bool(context.config().smtp.host)

    def render(r: dict) -> None:
        text = f"{r['delivered']} delivered, {r['failed']} failed, {r['waiting']} waiting"
        if r["waiting"] and not smtp:
            text += " (emails wait: no SMTP configured, set smtp.host)"
        info(text)

    emit(result, json_out, render)
    if result["failed"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(backup)
    app.command()(restore)
    app.add_typer(outbox_app, name="outbox", help="Messages waiting to be delivered.")
