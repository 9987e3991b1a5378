"""batchops worker: the Huey consumer, in the foreground."""

from typing import Annotated

import typer

from batchops.cli.store import needs_store


@needs_store()
def worker(
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Worker threads (default queue.workers).")
    ] = None,
    shutdown_timeout: Annotated[
        float | None,
        typer.Option(
            "--shutdown-timeout", help="Seconds a running task gets to finish on SIGTERM before it is re-queued."
        ),
    ] = None,
    no_periodic: Annotated[
        bool, typer.Option("--no-periodic", help="Do not run the scheduler tick in this worker.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Huey consumer + scheduler tick + heartbeat (stop with SIGTERM or Ctrl-C)."""
    from batchops import worker as consumer

    raise typer.Exit(
        consumer.run(
            workers=workers,
            shutdown_timeout=shutdown_timeout,
            periodic=not no_periodic,
            verbose=True if verbose else None,
        )
    )


def register(app: typer.Typer) -> None:
    app.command()(worker)
