"""batchops report export: a published report, written where the operator asks."""

import sys
from typing import Annotated

import typer

from batchops.cli.options import JsonOutput
from batchops.cli.output import emit, human_size, info
from batchops.cli.store import needs_store

app = typer.Typer(name="report", help="Export published reports.", no_args_is_help=True)


def ask_overwrite(path) -> bool:
    return sys.stdin.isatty() and typer.confirm(f"{path} exists. Replace it?", default=False)


@app.command("export")
@needs_store()
def export(
    *,  # keyword-only: the required --format may follow options with defaults (help keeps this order)
    upload: Annotated[int | None, typer.Option("--upload", help="Upload id.")] = None,
    run: Annotated[int | None, typer.Option("--run", help="Run id.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or pdf.")],
    output: Annotated[str | None, typer.Option("-o", "--output", help="File or folder to write.")] = None,
    wait: Annotated[float, typer.Option("--wait", help="Wait up to SECONDS for a run still going.")] = 0.0,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file without asking.")] = False,
    json_out: JsonOutput = False,
) -> None:
    """Write a published report to a file (never inside the data home; asks before replacing a file).

    Allowed in read-only mode on purpose: it only reads the store, so staff with read-only
    access can hand reports out.
    """
    from batchops.services import reports

    result = reports.export(
        upload_id=upload, run_id=run, fmt=fmt, out=output, wait=wait, overwrite=force or ask_overwrite
    )
    emit(result, json_out, lambda r: info(f"wrote {r['path']} ({human_size(r['bytes'])})"))
