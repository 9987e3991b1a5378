"""``batchops``: the command scripts drive. Every group lives in its own module.

Heavy libraries (pandas, Textual, pdfplumber, fpdf) are imported only inside
the commands that need them, so ``batchops --help`` stays instant.
"""

import functools
import os
import sys
from typing import Annotated, Any, NoReturn

import typer

from batchops.cli import groups
from batchops.cli.help import readable_help
from batchops.cli.options import GlobalOptions
from batchops.cli.output import error_line

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
def global_options(
    ctx: typer.Context,
    home: Annotated[str | None, typer.Option("--home", help="Data home (also BATCHOPS_HOME).", metavar="DIR")] = None,
    config: Annotated[
        str | None, typer.Option("--config", help="Config file (also BATCHOPS_CONFIG).", metavar="FILE")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,  # read by run(), from argv
    json_out: Annotated[bool, typer.Option("--json", help="JSON on stdout for every command.")] = False,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Refuse every change (also BATCHOPS_READ_ONLY).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version (and the build, for the single executable).",
        ),
    ] = False,
) -> None:
    ctx.obj = GlobalOptions(home=home, config=config, json=json_out, read_only=read_only)


@functools.cache  # built once: run() may be called many times in one process (tests)
def _command() -> Any:
    groups.register(app)
    command = typer.main.get_command(app)
    try:
        readable_help(command)
    except Exception:  # typer's internals moved: its own help is worse, not wrong
        pass
    return command


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
            front.extend(args[i : i + 1 + takes_value])
            i += 1 + takes_value
            continue
        rest.append(arg)
        i += 1
    return front + rest


def _server_down(exc: BaseException):
    """A database or queue server that went away mid-command: its coded error, not E_INTERNAL."""
    from batchops.queue.app import unavailable
    from batchops.store.db import unreachable

    return unreachable(exc) or unavailable(exc)


def _publishing_here(args: list[str]) -> list[str] | None:
    """The words after ``process`` or ``demo`` when the command line (global options hoisted) runs
    pipelines in this process, else None (another command, ``--help``, or ``--queue``: the worker does)."""
    i = 0
    while i < len(args) and args[i].split("=")[0] in GLOBAL_OPTIONS:
        i += 1 + (GLOBAL_OPTIONS[args[i]] if args[i] in GLOBAL_OPTIONS else 0)
    words = args[i:]
    if not words or words[0] not in ("process", "demo") or {"--help", "--queue"} & set(words):
        return None
    return words[1:]


def main() -> None:
    """The program's entry point (console script, ``python -m batchops``, the binary).

    ``run`` plus what only a whole process may do: fork the report helper before the heavy imports
    when this command will publish (pipeline/render_ahead.py), and leave without the interpreter's
    teardown. Tests call ``run``, which does neither.
    """
    # pyarrow's mimalloc reserves 1 GiB of address space at its first allocation; under a `ulimit -v`
    # that left the worker no room to load fpdf2's libraries (2044 of 2048 MiB). 64 MiB arenas hold
    # the same memory, reserved as it is used.
    os.environ.setdefault("MIMALLOC_ARENA_RESERVE", "64MiB")
    argv = sys.argv[1:]
    inputs = _publishing_here(hoist_global_options(list(argv)))
    if inputs is not None:
        from batchops.pipeline import render_ahead

        render_ahead.start(inputs)
    code: int | str | None = 0
    try:
        run(argv)
    except SystemExit as done:
        code = done.code
    finally:
        if inputs is not None:
            render_ahead.stop()
    _leave(code)


def _leave(code: int | str | None) -> NoReturn:
    """Exit as ``sys.exit(code)`` would, without the ~0.1 s of freeing every pandas, pyarrow and typer
    object one by one at interpreter teardown (the OS takes the memory back at once).

    Only when nothing is left that the teardown would wait for or finish: no other thread, and the
    log handlers, stdio and the store's connection flushed and closed here first.
    """
    import threading

    if threading.active_count() > 1 or not isinstance(code, int | None):
        sys.exit(code)
    if "logging" in sys.modules:  # its handlers, if anything set them up (light commands never load it)
        sys.modules["logging"].shutdown()
    store = sys.modules.get("batchops.store.db")
    if store is not None and store.db.obj is not None and not store.db.obj.is_closed():
        store.db.obj.close()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, or a closed stream
            pass
    os._exit(code or 0)


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
