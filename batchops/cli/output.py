"""How the CLI speaks: one JSON document on stdout, or a readable table; errors on stderr."""

from __future__ import annotations

import json
import sys
from datetime import datetime

from batchops import clock
from batchops.terminal import safe_text

state = {"json": False, "debug": False}


def want_json(flag: bool) -> bool:
    return flag or state["json"]


def _default(value):
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    return str(value)


def dumps(data) -> str:
    return json.dumps(data, default=_default, ensure_ascii=False, indent=2)


def print_json(data) -> None:
    sys.stdout.write(dumps(data) + "\n")


def console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (less, grep, a log) gets a generous width instead of rich's 80 columns.
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def show_value(value, key: str = "", compact: bool = False) -> str:
    """Plain text for a cell; rich markup in data (e.g. "[synonyms]") is escaped, not rendered."""
    from rich.markup import escape

    return escape(safe_text(_plain(value, key, compact)))


def _plain(value, key: str = "", compact: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return clock.fmt(value, compact=compact)
    if key.endswith("_s") and isinstance(value, (int, float)):
        return clock.fmt_duration(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=_default)
    return str(value)


def table(rows: list[dict], columns: list[str], title: str | None = None, empty: str = "nothing here") -> None:
    from rich.table import Table

    out = console()
    if not rows:
        out.print(f"[dim]{empty}[/dim]")
        return
    tbl = Table(title=safe_text(title) if title else None, header_style="bold", show_lines=False)
    for i, col in enumerate(columns):
        # One line per row; only the last column (a title or message) may wrap.
        last = i == len(columns) - 1
        tbl.add_column(col.replace("_", " ").removesuffix(" s"), no_wrap=not last,
                       overflow="fold" if last else "ellipsis")
    for row in rows:
        tbl.add_row(*(show_value(row.get(col), col, compact=True) for col in columns))
    out.print(tbl)


def record(data: dict, title: str | None = None, skip: tuple[str, ...] = ()) -> None:
    from rich.table import Table

    tbl = Table(title=safe_text(title) if title else None, show_header=False, box=None, pad_edge=False)
    tbl.add_column(style="bold")
    tbl.add_column(overflow="fold")
    for key, value in data.items():
        if key in skip:
            continue
        tbl.add_row(key.replace("_", " "), show_value(value, key))
    console().print(tbl)


def emit(data, json_flag: bool, render) -> None:
    if want_json(json_flag):
        print_json(data)
    else:
        render(data)


def error_line(code: str, message: str) -> None:
    from batchops.redact import redact

    sys.stderr.write(f"error {code}: {safe_text(redact(message))}\n")


def info(message: str) -> None:
    sys.stderr.write(safe_text(message) + "\n")


def confirm(question: str, yes: bool) -> None:
    """Ask before destroying anything; with no terminal to ask on, --yes is required (exit 2)."""
    import typer

    from batchops.errors import InputError

    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError(f"{question.rstrip('?')}: pass --yes to confirm when not at a terminal",
                         code="E_CONFIRM_REQUIRED")
    typer.confirm(question, abort=True)
