"""init, health: the data home and the state of the system."""

from __future__ import annotations

import typer

from batchops.cli.main import setup
from batchops.cli.output import emit, info, record, want_json

JSON = typer.Option(False, "--json", help="One JSON document on stdout.")


def init(json_out: bool = JSON) -> None:
    """Create the data home, schema and seeds (safe to run again)."""
    from batchops.services import system

    setup()
    result = system.init()
    emit(result, json_out, lambda r: info(
        f"data home {r['data_dir']} ready: schema v{r['schema_version']}, "
        f"{r['jobs']} jobs, {r['known_errors']} known errors"))


def health(json_out: bool = JSON) -> None:
    """Store, queue, workers and scheduler; exit 1 when not healthy."""
    from batchops.errors import BatchOpsError
    from batchops.services import health as checks

    try:
        setup()
    except BatchOpsError as exc:
        if exc.code != "E_DB_UNREACHABLE":
            raise
        result = checks.unreachable(exc)  # a server that is down is a health report, not a crash
    else:
        result = checks.health()
    if want_json(json_out):
        emit(result, True, None)
    else:
        for name, data in result["checks"].items():
            mark = "ok " if data.get("ok") else "BAD"
            shown = {k: v for k, v in data.items() if k != "ok"}
            if isinstance(shown.get("online"), list):  # one readable line per live worker
                shown["online"] = "; ".join(
                    f"{w.get('worker_id')} ({w.get('workers')} thread(s), seen {w.get('last_seen_ago', '?')})"
                    for w in shown["online"]) or "none"
            record(shown, title=f"[{mark}] {name}")
        info("healthy" if result["healthy"] else "NOT healthy")
    raise typer.Exit(0 if result["healthy"] else 1)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(health)
