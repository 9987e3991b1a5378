"""Time: stored in UTC, shown in the display zone. One place for both.

Every front door formats through ``fmt`` so the TUI and the CLI agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import overload
from zoneinfo import ZoneInfo

_display_zone_name = "Asia/Kolkata"
_offset: timedelta | None = None  # the database server's clock minus ours (PostgreSQL only)


def utc_now() -> datetime:
    """Now, in UTC - on the database server's clock when the store is on a server (``set_offset``)."""
    now = datetime.now(timezone.utc)
    return now + _offset if _offset is not None else now


def set_offset(seconds: float) -> None:
    """Read time as the database server does: every machine then stamps in one clock."""
    global _offset
    _offset = timedelta(seconds=seconds) if seconds else None


def set_display_zone(name: str) -> None:
    global _display_zone_name
    _display_zone_name = name


@lru_cache(maxsize=32)
def zone(name: str | None = None) -> ZoneInfo:
    return ZoneInfo(name or _display_zone_name)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetime; naive values are taken to be UTC (SQLite drops the offset)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@overload
def to_display(value: datetime, tz: str | None = None) -> datetime: ...
@overload
def to_display(value: datetime | None, tz: str | None = None) -> datetime | None: ...
def to_display(value: datetime | None, tz: str | None = None) -> datetime | None:
    value = as_utc(value)
    return value.astimezone(zone(tz)) if value else None


def fmt(value: datetime | None, tz: str | None = None, seconds: bool = False, compact: bool = False) -> str:
    """'2026-11-28 21:43 IST' - the one display format; compact '11-28 21:43' for table cells."""
    local = to_display(value, tz)
    if local is None:
        return "-"
    if compact:
        return local.strftime("%m-%d %H:%M")
    pattern = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return local.strftime(pattern)


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC for JSON output."""
    value = as_utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    # 10 min, 1 h 5 min, 2 d 3 h: what an operator reads at a glance (never 0:10:00)
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{minutes} min" + (f" {secs} s" if secs else "")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    value = as_utc(value)
    if value is None:
        return "never"
    delta = ((now or utc_now()) - value).total_seconds()
    if delta < 60:
        return f"{int(delta)}s ago"
    if delta < 3600:
        return f"{int(delta // 60)}m ago"
    if delta < 86400:
        return f"{int(delta // 3600)}h ago"
    return f"{int(delta // 86400)}d ago"


def fmt_size(n: float) -> str:
    """12 bytes, 12.3 KB, 4.5 MB (powers of 1024, as file managers show them)."""
    n = float(n)
    if n < 1024:
        return "1 byte" if n == 1 else f"{int(n)} bytes"
    for unit in ("KB", "MB", "GB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} TB"
