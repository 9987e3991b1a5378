"""init, health: the data home and the state of the system."""

import typer

from batchops.cli.options import JsonOutput, global_options
from batchops.cli.output import emit, info, print_json, record
from batchops.cli.store import configure_store, needs_store


@needs_store()
def init(json_out: JsonOutput = False) -> None:
    """Create the data home, schema and seeds (safe to run again)."""
    from batchops.services import system

    result = system.init()
    emit(
        result,
        json_out,
        lambda r: info(
            f"data home {r['data_dir']} ready: schema v{r['schema_version']}, "
            f"{r['jobs']} jobs, {r['known_errors']} known errors"
        ),
    )


def health(ctx: typer.Context, json_out: JsonOutput = False) -> None:
    """Store, queue, workers and scheduler; exit 1 when not healthy."""
    from batchops.errors import BatchOpsError
    from batchops.services import health as checks

    try:  # not @needs_store: a server that is down is a health report, not a crash
        configure_store(global_options(ctx))
    except BatchOpsError as exc:
        if exc.code != "E_DB_UNREACHABLE":
            raise
        result = checks.unreachable(exc)
    else:
        result = checks.health()
    if json_out:
        print_json(result)
    else:
        for name, data in result["checks"].items():
            mark = "ok " if data.get("ok") else "BAD"
            shown = {k: v for k, v in data.items() if k != "ok"}
            if isinstance(shown.get("online"), list):  # one readable line per live worker
                shown["online"] = (
                    "; ".join(
                        f"{w.get('worker_id')} ({w.get('workers')} thread(s), seen {w.get('last_seen_ago', '?')})"
                        for w in shown["online"]
                    )
                    or "none"
                )
            record(shown, title=f"[{mark}] {name}")
        info("healthy" if result["healthy"] else "NOT healthy")
    raise typer.Exit(0 if result["healthy"] else 1)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(health)
