"""Cron arithmetic in a job's own time zone (croniter), stored as UTC.

Start from an aware local time so croniter never yields non-existent local
times; flag fire times that daylight saving makes ambiguous (the wall clock
repeats) or impossible (skipped, croniter moves them to the next valid time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from batchops.clock import as_utc, utc_now
from batchops.errors import InputError, InvalidCron


def validate_cron(expr: str) -> str:
    expr = " ".join((expr or "").split())
    if len(expr.split(" ")) != 5:
        raise InvalidCron(f"cron expression {expr!r} must have 5 fields (minute hour day month weekday)")
    try:
        ok = croniter.is_valid(expr, strict=True)
    except Exception:  # croniter raises for some malformed input instead of returning False
        ok = False
    if not ok:
        raise InvalidCron(f"cron expression {expr!r} is not valid (or can never fire)")
    return expr


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {name!r} (use an IANA name such as Asia/Kolkata)", code="E_TIMEZONE_INVALID"
        ) from None
    return name


def _iter(cron: str, tz: str, start: datetime | None):
    local_start = as_utc(start or utc_now()).astimezone(ZoneInfo(tz))
    return croniter(cron, local_start)


def next_fire_time(cron: str, tz: str, after: datetime | None = None) -> datetime:
    """The first fire time strictly after ``after`` (default now), in UTC."""
    return _iter(cron, tz, after).get_next(datetime).astimezone(timezone.utc)


def fire_times_between(cron: str, tz: str, start: datetime, end: datetime, limit: int = 10000):
    """Fire times in (start, end], UTC, oldest first."""
    it = _iter(cron, tz, start)
    end = as_utc(end)
    out: list[datetime] = []
    while len(out) < limit:
        t = it.get_next(datetime).astimezone(timezone.utc)
        if t > end:
            break
        out.append(t)
    return out


@dataclass
class FirePreview:
    utc: datetime
    local: datetime
    note: str  # "" | "ambiguous: ..." | "shifted: ..."


def preview(cron: str, tz: str, n: int = 5, after: datetime | None = None) -> list[FirePreview]:
    validate_cron(cron)
    validate_timezone(tz)
    zone = ZoneInfo(tz)
    fields = cron.split()
    it = _iter(cron, tz, after)
    out = []
    for _ in range(n):
        local = it.get_next(datetime)
        utc = local.astimezone(timezone.utc)
        local = utc.astimezone(zone)
        note = ""
        # Ambiguous: the same wall time exists twice (fall back).
        other = local.replace(fold=1 - local.fold)
        if other.utcoffset() != local.utcoffset():
            note = "ambiguous: this wall-clock time happens twice (daylight saving ends)"
        # Shifted: cron asked for an hour/minute that did not exist that day.
        elif fields[1].isdigit() and fields[0].isdigit():
            want = (int(fields[1]), int(fields[0]))
            if (local.hour, local.minute) != want:
                note = f"shifted: {want[0]:02d}:{want[1]:02d} does not exist that day (daylight saving starts)"
        out.append(FirePreview(utc=utc, local=local, note=note))
    return out
