"""``batchops``: the command scripts drive. Every group lives in its own module.

Heavy libraries (pandas, Textual, pdfplumber, fpdf) are imported only inside
the commands that need them, so ``batchops --help`` stays instant.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from batchops.cli.output import error_line, state

app = typer.Typer(
    name="batchops",
    help="BatchOps: the batch control room for school IT desks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: rich's help renderer (rich.markdown, markdown_it, ...) costs
    # ~70 ms, more than importing typer itself; `batchops --help` must stay instant.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from batchops.version import describe

        typer.echo(describe())
        raise typer.Exit()


@app.callback()
def main(
    home: Optional[str] = typer.Option(None, "--home", help="Data home (also BATCHOPS_HOME).", metavar="DIR"),
    config: Optional[str] = typer.Option(None, "--config", help="Config file (also BATCHOPS_CONFIG).", metavar="FILE"),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    json_out: bool = typer.Option(False, "--json", help="JSON on stdout for every command."),
    read_only: bool = typer.Option(False, "--read-only", help="Refuse every change (also BATCHOPS_READ_ONLY)."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version (and the build, for the single executable)."),
) -> None:
    state["debug"] = debug
    state["json"] = json_out
    state["home"] = home
    state["config"] = config
    state["read_only"] = read_only


def setup(recover: bool = False):
    """Load config and open the store, once, for commands that need it.

    Recovering runs whose process died (fail them, triage, notify) is the worker's job, at
    start and on every tick. A command does it only when it asks (``recover=True``: commands
    that run pipelines) or when no worker is online - a CLI-only install still never shows an
    upload 'processing' forever, while a light command next to a live worker only reads.
    """
    from batchops.services import runs, workers
    from batchops.services.setup import configure

    cfg = configure(state.get("config"), state.get("home"), read_only=state.get("read_only") or None)
    if cfg.read_only or not (recover or runs.has_running() and not workers.online()):
        return cfg
    try:
        runs.recover_stale()
    except Exception as exc:  # on a full disk that write waits: reading still answers
        from batchops.errors import disk_full

        if disk_full(exc) is None:
            raise
    return cfg


def _register() -> None:
    from batchops.cli import groups

    groups.register(app)


_built: list = []  # the click command, built once: run() may be called many times in one process (tests)


def _command():
    if not _built:
        _register()
        command = typer.main.get_command(app)
        try:
            readable_help(command)
        except Exception:  # typer's internals moved: its own help is worse, not wrong
            pass
        _built.append(command)
    return _built[0]


# Global options and whether they take a value: accepted after the subcommand too, as the README says.
GLOBAL_OPTIONS = {"--home": True, "--config": True, "--debug": False, "--read-only": False}


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options written after the subcommand (``batchops uploads list --home DIR``) to the front.

    ``--json`` is every command's own option too, so it stays where it is; nothing after ``--`` moves.
    """
    front, rest = [], []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name, eq, _ = arg.partition("=")
        if name in GLOBAL_OPTIONS:
            takes_value = GLOBAL_OPTIONS[name] and not eq
            front.extend(args[i:i + 1 + takes_value])
            i += 1 + takes_value
            continue
        rest.append(arg)
        i += 1
    return front + rest


# What an option's value looks like in help, when its name does not say it well enough.
OPTION_METAVARS = {"where": "COL=VALUE", "set": "KEY=VALUE", "records": "JSON|@FILE", "rules": "JSON|@FILE",
                   "args": "JSON", "kwargs": "JSON", "format": "csv|pdf", "output": "PATH", "out": "DIR",
                   "instructions": "TEXT", "notes": "TEXT", "report": "TEXT", "resolution": "TEXT",
                   "impact": "TEXT", "root_cause": "TEXT", "corrective_action": "TEXT", "to": "NAME"}


def readable_help(command) -> None:
    """Help shows ``FILE...``, ``JOB`` and ``--where COL=VALUE``, not typer's ``{FILE...}...`` or ``<list[str]>``."""
    from typer.core import TyperArgument, TyperOption  # typer carries its own click

    for param in getattr(command, "params", []):
        if isinstance(param, TyperArgument):
            base = (param.metavar or param.name.upper().removesuffix("_ID")).removesuffix("...")
            shown = base + ("..." if param.nargs != 1 else "")
            usage = shown if param.required else f"[{shown}]"
            param.metavar = shown
            # per-parameter overrides of typer's methods (an instance attribute shadows the method)
            vars(param).update(_usage_display_name=lambda usage=usage: usage,
                               _rich_display_name=lambda shown=shown: shown,
                               display_type_rich=lambda ctx: "")
        elif isinstance(param, TyperOption) and not param.is_flag and param.metavar is None:
            name = max(param.opts, key=len).lstrip("-").replace("-", "_")
            if name in OPTION_METAVARS:
                param.metavar = OPTION_METAVARS[name]
            elif param.bare_type().startswith("int"):
                param.metavar = "N"
            elif param.bare_type().startswith("float"):
                param.metavar = "SECONDS"
            else:
                param.metavar = name.upper()
    for sub in getattr(command, "commands", {}).values():
        readable_help(sub)


def _server_down(exc: BaseException):
    """A database or queue server that went away mid-command: its coded error, not E_INTERNAL."""
    from batchops.queue.app import unavailable
    from batchops.store.db import unreachable

    return unreachable(exc) or unavailable(exc)


def run(argv: list[str] | None = None) -> None:
    """Entry point: typer handles usage errors (exit 2); BatchOps errors become one line."""
    from batchops.errors import EXIT_FAILED, BatchOpsError, disk_full

    argv = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in argv
    command = _command()
    try:
        command.main(args=argv, prog_name="batchops", standalone_mode=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BatchOpsError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        error_line(exc.code, exc.message)
        code = exc.exit_code
    except Exception as exc:  # the last line of defence: never a traceback without --debug
        if debug:
            import traceback

            traceback.print_exc()
        known = disk_full(exc) or _server_down(exc)
        if known is not None:
            error_line(known.code, known.message)
        else:
            error_line("E_INTERNAL", f"unexpected {exc.__class__.__name__}: {exc} (run with --debug for details)")
        code = EXIT_FAILED
    sys.stdout.flush()
    sys.exit(code)
