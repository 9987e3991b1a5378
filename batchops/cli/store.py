"""Opening the store for a command: ``@needs_store()`` on the command, never a set-up call in its body."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import typer

from batchops.cli.options import GlobalOptions, global_options

if TYPE_CHECKING:
    from batchops.config import Config

Command = TypeVar("Command", bound=Callable[..., Any])


def configure_store(options: GlobalOptions, recover: bool = False) -> Config:
    """Load the config and open the store the global options name.

    Recovering runs whose process died (fail them, triage, notify) is the worker's job, at
    start and on every tick. A command does it only when it asks (``recover=True``: commands
    that run pipelines) or when no worker is online - a CLI-only install still never shows an
    upload 'processing' forever, while a light command next to a live worker only reads.
    """
    from batchops.services import runs, workers
    from batchops.services.setup import configure

    cfg = configure(options.config, options.home, read_only=options.read_only or None)
    if cfg.read_only or not (recover or runs.has_running() and not workers.online()):
        return cfg
    try:
        runs.recover_stale()
    except Exception as exc:  # on a full disk that write waits: reading still answers
        from batchops.errors import disk_full

        if disk_full(exc) is None:
            raise
    return cfg


def needs_store(recover: bool = False) -> Callable[[Command], Command]:
    """The command runs with the store open (``recover``: stale runs recovered first, see ``configure_store``).

    The global options come from the click context, which typer hands to a parameter typed
    ``typer.Context``: the wrapper declares one (its ``__signature__`` is the command's plus
    ``ctx``) and keeps it out of the command's own arguments.
    """

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def with_store(ctx: typer.Context, **kwargs: Any) -> Any:
            configure_store(global_options(ctx), recover=recover)
            return command(**kwargs)

        shown = inspect.signature(command, eval_str=True)  # typer reads evaluated annotations
        ctx_param = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        with_store.__signature__ = shown.replace(  # type: ignore[attr-defined]
            parameters=[*shown.parameters.values(), ctx_param]
        )
        return cast(Command, with_store)

    return decorate
