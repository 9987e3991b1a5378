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


@app.callback()
def main(
    home: Optional[str] = typer.Option(None, "--home", help="Data home (also BATCHOPS_HOME).", metavar="DIR"),
    config: Optional[str] = typer.Option(None, "--config", help="Config file (also BATCHOPS_CONFIG).", metavar="FILE"),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    json_out: bool = typer.Option(False, "--json", help="JSON on stdout for every command."),
    read_only: bool = typer.Option(False, "--read-only", help="Refuse every change (also BATCHOPS_READ_ONLY)."),
) -> None:
    state["debug"] = debug
    state["json"] = json_out
    state["home"] = home
    state["config"] = config
    state["read_only"] = read_only


def setup():
    """Load config and open the store, once, for commands that need it."""
    from batchops.services.setup import configure
    from batchops.services import runs

    cfg = configure(state.get("config"), state.get("home"), read_only=state.get("read_only") or None)
    # A run whose process was killed (SIGKILL, reboot) is failed and triaged by the next command,
    # so no upload stays 'processing' forever.
    runs.recover_stale()
    return cfg


def _register() -> None:
    from batchops.cli import groups

    groups.register(app)


def _server_down(exc: BaseException):
    """A database or queue server that went away mid-command: its coded error, not E_INTERNAL."""
    from batchops.queue.app import unavailable
    from batchops.store.db import unreachable

    return unreachable(exc) or unavailable(exc)


def run(argv: list[str] | None = None) -> None:
    """Entry point: typer handles usage errors (exit 2); BatchOps errors become one line."""
    from batchops.errors import EXIT_FAILED, BatchOpsError

    _register()
    debug = "--debug" in (argv if argv is not None else sys.argv)
    command = typer.main.get_command(app)
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
        known = _server_down(exc)
        if known is not None:
            error_line(known.code, known.message)
        else:
            error_line("E_INTERNAL", f"unexpected {exc.__class__.__name__}: {exc} (run with --debug for details)")
        code = EXIT_FAILED
    sys.stdout.flush()
    sys.exit(code)
