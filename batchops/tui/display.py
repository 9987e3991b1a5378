"""How values look on screen: times (always the display zone), badges, durations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text

from batchops import clock
from batchops.terminal import safe_text

STATUS_STYLES = {
    "published": "green",
    "succeeded": "green",
    "resolved": "green",
    "ok": "green",
    "failed": "bold red",
    "cancelled": "red",
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "queued": "cyan",
    "staged": "blue",
    "processing": "magenta",
    "running": "magenta",
    "open": "bold red",
    "assigned": "yellow",
    "analyzing": "magenta",
    "archived": "dim",
    "skipped": "dim",
    "paused": "yellow",
    "published with warnings": "yellow",
}


def when(value: Any, compact: bool = False) -> str:
    """Every time on screen goes through clock.fmt (display zone); compact (11-28 22:27) in table cells."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return clock.fmt(value, compact=compact)


def duration(seconds: float | None) -> str:
    return clock.fmt_duration(seconds)


def badge(value: str | None) -> Text:
    if not value:
        return Text("-", style="dim")
    return Text(safe_text(str(value)), style=STATUS_STYLES.get(str(value).lower(), ""))


def severity(value: str | None) -> Text:
    if not value:
        return Text("-", style="dim")
    return Text(f" {safe_text(value.upper())} ", style=STATUS_STYLES.get(value.lower(), "reverse"))


def text(value: Any, limit: int = 60) -> str:
    if value is None or value == "":
        return "-"
    value = safe_text(" ".join(str(value).split()))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def error_line(exc: BaseException) -> str:
    """``code: message`` for a BatchOpsError; a one-line summary (never a traceback) otherwise."""
    from batchops.errors import BatchOpsError

    if isinstance(exc, BatchOpsError):
        return safe_text(f"{exc.code}: {exc.message}")
    return safe_text(f"E_INTERNAL: unexpected {exc.__class__.__name__}: {exc}")
