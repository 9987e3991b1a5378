"""batchops backup | restore: snapshots of the store and queue."""

from typing import Annotated

import typer

from batchops.cli.options import JsonOutput, Yes
from batchops.cli.output import confirm, emit, info
from batchops.cli.store import needs_store


@needs_store()
def backup(
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Folder or s3://bucket/prefix for the backup (default backups/ in the data home).",
            metavar="DIR|URL",
        ),
    ] = None,
    json_out: JsonOutput = False,
) -> None:
    """Consistent snapshot of the store and queue, verified (and rotated under backups/)."""
    from batchops.services import backup as service

    result = service.backup(to=to)
    emit(
        result,
        json_out,
        lambda r: info(
            f"backup {r['path']}: "
            + ", ".join(f"{f['file']} {f['bytes']:,} bytes, integrity {f['integrity']}" for f in r["files"])
            + (f"; rotated out {len(r['rotated'])}" if r["rotated"] else "")
            + (f"; stored at {r['stored_at']}" if r.get("stored_at") and r["stored_at"] != r["path"] else "")
        ),
    )


@needs_store()
def restore(
    file: Annotated[
        str,
        typer.Argument(
            help="A backup folder (or its s3:// URL), or a batchops.db (SQLite) or batchops.pgdump (PostgreSQL) file."
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Restore even though a worker is alive.")] = False,
    yes: Yes = False,
    json_out: JsonOutput = False,
) -> None:
    """Replace the store with a backup (the current one is kept beside it)."""
    from batchops import context
    from batchops.services import backup as service

    context.require_writable()  # refuse before asking, not after the operator said yes
    confirm(f"Replace the store with {file}?", yes)
    result = service.restore(file, force=force)
    emit(
        result,
        json_out,
        lambda r: info(
            f"restored {r['store']} from {r['restored_from']}; the previous store is {r['previous_store_kept_as']}"
        ),
    )


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)
