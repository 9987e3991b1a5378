"""batchops known-errors ..."""

from __future__ import annotations

import typer

from batchops.cli.main import setup
from batchops.cli.output import emit, record, table

app = typer.Typer(no_args_is_help=True)
JSON = typer.Option(False, "--json", help="One JSON document on stdout.")
LIST_COLUMNS = ["id", "name", "error_code", "severity", "auto_retry", "retry_max"]


@app.command("list")
def list_(json_out: bool = JSON) -> None:
    """The known-error library."""
    from batchops.services import known_errors

    setup()
    emit(known_errors.list_known_errors(), json_out, lambda rows: table(rows, LIST_COLUMNS, title="Known errors"))


@app.command()
def show(known_error_id: str, json_out: bool = JSON) -> None:
    """One known error in full."""
    from batchops.services import known_errors

    setup()
    emit(known_errors.show_known_error(known_error_id), json_out, lambda r: record(r, title=f"Known error {r['id']}"))
