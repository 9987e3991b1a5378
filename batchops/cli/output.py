"""How the CLI speaks: one JSON document on stdout, or a readable table; errors on stderr."""

from __future__ import annotations

import json
import sys
from datetime import datetime

from batchops import clock
from batchops.clock import fmt_size as human_size  # noqa: F401 - used here and by commands
from batchops.terminal import safe_text


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
    """Plain text for a cell, as the operator should read it (tables and records print it verbatim;
    control characters are shown as escapes, never sent to the terminal)."""
    return safe_text(_plain(value, key, compact))


def _plain(value, key: str = "", compact: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return clock.fmt(value, compact=compact)
    if key.endswith("_s") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return clock.fmt_duration(value)
    if key.endswith("_min") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return clock.fmt_duration(value * 60)
    if key.endswith("_bytes") or key == "size":
        return human_size(value) if isinstance(value, (int, float)) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{human_size(len(value))}>"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=_default)
    return str(value)


# Columns that name or classify a row, and times: never squeezed (rich shrinks narrow columns to
# nothing at 80 columns, and the occurrence count then reads like an id). Text columns take the cut.
WHOLE_COLUMNS = frozenset({"id", "state", "status", "severity", "paused", "enabled", "last_seen", "display", "utc"})
TEXT_FLOOR = 12  # a text column narrower than this is not worth keeping on a small terminal


def _whole(key: str) -> bool:
    return key in WHOLE_COLUMNS or key.endswith("_id") or key.startswith("status") or key.endswith("_at")


def fit_widths(natural: list[int], available: int, floor: int = 4) -> list[int]:
    """Share ``available`` cells among text columns: narrow ones keep their width, wide ones split the rest."""
    out = list(natural)
    order = sorted(range(len(natural)), key=lambda i: natural[i])
    left, count = available, len(natural)
    for i in order:
        share = max(floor, left // count) if count else floor
        out[i] = min(natural[i], share)
        left -= out[i]
        count -= 1
    return out


def table(rows: list[dict], columns: list, title: str | None = None, empty: str = "nothing here") -> None:
    """``columns``: keys, or (key, header) pairs; a key written ``?key`` may be left out on a small terminal.

    Cells print verbatim: data is never read as markup. Id, state, status, severity and time
    columns keep their full width at any terminal size; optional columns go (last first) when the
    rest would not fit; the text columns share what is left and truncate (the last one wraps).
    """
    from rich.table import Table
    from rich.text import Text

    out = console()
    if not rows:
        out.print(Text(empty, style="dim"))
        return
    spec: list[tuple[str, str, bool]] = []
    for c in columns:
        key, header = (c, None) if isinstance(c, str) else c
        optional = key.startswith("?")
        key = key.lstrip("?")
        spec.append((key, header or label(key), optional))
    cells = [[show_value(row.get(key), key, compact=True) for key, _, _ in spec] for row in rows]
    natural = [max([len(header), *(Text(r[i]).cell_len for r in cells)]) for i, (_, header, _) in enumerate(spec)]

    def needed(keep: list[int]) -> int:
        return 3 * len(keep) + 1 + sum(natural[i] if _whole(spec[i][0]) else min(natural[i], TEXT_FLOOR) for i in keep)

    keep = list(range(len(spec)))
    for i in reversed([i for i, col in enumerate(spec) if col[2]]):
        if needed(keep) <= out.width:
            break
        keep.remove(i)
    shown, natural = [spec[i][:2] for i in keep], [natural[i] for i in keep]
    cells = [[r[i] for i in keep] for r in cells]
    whole = [_whole(key) for key, _ in shown]
    text_cols = [i for i in range(len(shown)) if not whole[i]]
    borders = 3 * len(shown) + 1
    available = out.width - borders - sum(w for w, keep in zip(natural, whole) if keep)
    shared = dict(zip(text_cols, fit_widths([natural[i] for i in text_cols], available)))
    tbl = Table(title=safe_text(title) if title else None, header_style="bold", show_lines=False)
    for i, (_key, header) in enumerate(shown):
        if whole[i]:
            tbl.add_column(header, no_wrap=True, min_width=natural[i])
        else:
            last = i == len(shown) - 1
            tbl.add_column(header, no_wrap=not last, overflow="fold" if last else "ellipsis", max_width=shared[i])
    for r in cells:
        tbl.add_row(*(Text(c) for c in r))
    out.print(tbl)


def label(key: str) -> str:
    """A field name as a person reads it: ``timeout_s`` -> ``timeout`` (the value says the unit)."""
    for unit in ("_s", "_min"):
        if key.endswith(unit):
            key = key[: -len(unit)]
    return key.replace("_", " ")


def record(data: dict, title: str | None = None, skip: tuple[str, ...] = ()) -> None:
    from rich.table import Table
    from rich.text import Text

    tbl = Table(title=safe_text(title) if title else None, show_header=False, box=None, pad_edge=False)
    tbl.add_column(style="bold", no_wrap=True)
    tbl.add_column(overflow="fold")
    for key, value in data.items():
        if key in skip:
            continue
        tbl.add_row(label(key), Text(show_value(value, key)))
    console().print(tbl)


def emit(data, json_flag: bool, render) -> None:
    """``json_flag``: the command's ``--json`` (``JsonOutput`` folds the global ``--json`` into it)."""
    if json_flag:
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
        raise InputError(
            f"{question.rstrip('?')}: pass --yes to confirm when not at a terminal", code="E_CONFIRM_REQUIRED"
        )
    typer.confirm(question, abort=True)


def warn_if_no_worker(statuses) -> None:
    """After queueing: say so on stderr when no worker is alive to run it, with the command that starts one."""
    if "queued" not in set(statuses):
        return
    from batchops.services import workers

    note = workers.queue_note()
    if note:
        info(f"warning: {note}")
