"""The numbers the TUI dashboard shows, and ``batchops dashboard --json``.

Everything is computed from the store at call time - no cached counters that
can drift. "Today" is the calendar day in the display zone. MTTA and MTTR come
from the incident timeline, per response cycle (an incident that re-opens
starts a new cycle):

* acknowledged = the first ``assign`` or ``analyze`` event after the cycle
  opened; MTTA = mean(acknowledged - opened) over acknowledged cycles;
* resolved = the ``resolve`` event that ends the cycle (by hand or "recovered
  by run N"); MTTR = mean(resolved - opened) over resolved cycles.

Only cycles that opened within ``window_days`` count, so the figures describe
how the desk is doing now, not a year ago.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import peewee as pw

from batchops import clock
from batchops.clock import as_utc, utc_now
from batchops.incidents.workflow import ACTIVE_STATES
from batchops.store.models import (
    SEVERITIES,
    UPLOAD_STATUSES,
    Incident,
    IncidentEvent,
    JobRun,
    KnownError,
    Upload,
)
from batchops.store.rows import alias_rows, dict_rows, tuple_rows

WINDOW_DAYS = 30
SPARK_DAYS = 14
ACK_KINDS = ("assign", "analyze")
OPEN_KINDS = ("open", "reopen")


def local_midnight(now: datetime) -> datetime:
    """Start of today in the display zone, as UTC."""
    local = as_utc(now).astimezone(clock.zone())
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(as_utc(now).tzinfo)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def response_cycles(since=None) -> list[dict]:
    """Every response cycle opened since ``since``: {incident_id, severity, opened, acknowledged, resolved}.

    With ``since``, only incidents that can have such a cycle are read: opened since then, or
    with an open/re-open event since then (every other incident's cycles all began earlier).
    Those incidents' whole timelines are read, so each cycle is cut exactly as without ``since``.
    """
    incidents_q = Incident.select(Incident.id, Incident.severity, Incident.opened_at)
    events = (
        IncidentEvent.select(IncidentEvent.incident, IncidentEvent.kind, IncidentEvent.at)
        .where(IncidentEvent.kind.in_((*OPEN_KINDS, *ACK_KINDS, "resolve")))
        .order_by(IncidentEvent.incident, IncidentEvent.id)
    )
    if since is not None:
        since = as_utc(since)
        reopened = IncidentEvent.select(IncidentEvent.incident).where(
            IncidentEvent.kind.in_(OPEN_KINDS) & (IncidentEvent.at >= since)
        )
        recent = (Incident.opened_at >= since) | Incident.id.in_(reopened)
        incidents_q = incidents_q.where(recent)
        events = events.where(IncidentEvent.incident.in_(Incident.select(Incident.id).where(recent)))
    incidents = {i.id: i for i in incidents_q}
    by_incident: dict[int, list] = defaultdict(list)
    for event in events:
        by_incident[event.incident_id].append(event)
    cycles = []
    for incident_id, incident in incidents.items():

        def new_cycle(opened, incident_id=incident_id, incident=incident):
            return {
                "incident_id": incident_id,
                "severity": incident.severity,
                "opened": opened,
                "acknowledged": None,
                "resolved": None,
            }

        current = new_cycle(as_utc(incident.opened_at))  # provisional until the "open" event
        seen_open = False
        for event in by_incident.get(incident_id, []):
            at = as_utc(event.at)
            if event.kind == "open" and not seen_open:
                current["opened"], seen_open = at, True
            elif event.kind in OPEN_KINDS:
                cycles.append(current)
                current = new_cycle(at)
            elif event.kind in ACK_KINDS:
                if current["acknowledged"] is None and current["resolved"] is None:
                    current["acknowledged"] = at
            elif event.kind == "resolve" and current["resolved"] is None:
                current["resolved"] = at
        cycles.append(current)
    if since is not None:
        cycles = [c for c in cycles if c["opened"] and c["opened"] >= since]
    return cycles


def _summarise(cycles: list[dict]) -> dict:
    acks = [(c["acknowledged"] - c["opened"]).total_seconds() for c in cycles if c["acknowledged"]]
    fixes = [(c["resolved"] - c["opened"]).total_seconds() for c in cycles if c["resolved"]]
    return {
        "mtta_s": _mean(acks),
        "mttr_s": _mean(fixes),
        "cycles": len(cycles),
        "acknowledged": len(acks),
        "resolved": len(fixes),
    }


def response_times(window_days: float | None = WINDOW_DAYS, now=None) -> dict:
    """MTTA / MTTR overall and by severity (seconds; None when nothing to average)."""
    now = now or utc_now()
    since = now - timedelta(days=window_days) if window_days else None
    cycles = response_cycles(since)
    return {
        "window_days": window_days,
        "overall": _summarise(cycles),
        "by_severity": {sev: _summarise([c for c in cycles if c["severity"] == sev]) for sev in SEVERITIES},
    }


def uploads_today(now=None) -> dict:
    start = local_midnight(now or utc_now())
    counts = {status: 0 for status in UPLOAD_STATUSES}
    query = (
        Upload.select(Upload.status, pw.fn.COUNT(Upload.id).alias("n"))
        .where(Upload.created_at >= start)
        .group_by(Upload.status)
    )
    for row in alias_rows(query):
        counts[row.status] = row.n
    counts["total"] = sum(counts.values())
    return counts


def runs_last_24h(now=None) -> dict:
    since = (now or utc_now()) - timedelta(hours=24)
    by_status: dict[str, int] = defaultdict(int)
    by_kind: dict[str, dict] = {}
    query = (
        JobRun.select(JobRun.kind, JobRun.status, pw.fn.COUNT(JobRun.id).alias("n"))
        .where(JobRun.queued_at >= since)
        .group_by(JobRun.kind, JobRun.status)
    )
    for row in alias_rows(query):
        by_status[row.status] += row.n
        by_kind.setdefault(row.kind, defaultdict(int))[row.status] += row.n
    finished = by_status["succeeded"] + by_status["failed"]
    return {
        "total": sum(by_status.values()),
        "succeeded": by_status["succeeded"],
        "failed": by_status["failed"],
        "running": by_status["running"],
        "queued": by_status["queued"],
        "success_rate": round(by_status["succeeded"] / finished, 4) if finished else None,
        "by_kind": {kind: dict(counts) for kind, counts in sorted(by_kind.items())},
    }


def open_incidents() -> dict:
    counts = {sev: 0 for sev in SEVERITIES}
    by_state = {state: 0 for state in ACTIVE_STATES}
    query = (
        Incident.select(Incident.severity, Incident.state, pw.fn.COUNT(Incident.id).alias("n"))
        .where(Incident.state.in_(ACTIVE_STATES))
        .group_by(Incident.severity, Incident.state)
    )
    unknown = Incident.select().where(Incident.state.in_(ACTIVE_STATES) & (Incident.unknown_error == True)).count()  # noqa: E712
    for row in alias_rows(query):
        counts[row.severity] = counts.get(row.severity, 0) + row.n
        by_state[row.state] += row.n
    return {"total": sum(by_state.values()), "by_severity": counts, "by_state": by_state, "unknown_errors": unknown}


def failures_by_step(window_days: float = WINDOW_DAYS, now=None) -> dict:
    since = (now or utc_now()) - timedelta(days=window_days)
    query = (
        JobRun.select(JobRun.failed_step, pw.fn.COUNT(JobRun.id).alias("n"))
        .where((JobRun.kind == "pipeline") & (JobRun.status == "failed") & (JobRun.queued_at >= since))
        .group_by(JobRun.failed_step)
    )
    steps = {"standardize": 0, "validate": 0, "transform": 0, "summarize": 0, "publish": 0}
    for row in alias_rows(query):
        key = row.failed_step or "unknown"
        steps[key] = steps.get(key, 0) + row.n
    return steps


def top_known_errors(window_days: float = WINDOW_DAYS, now=None, limit: int = 5) -> list[dict]:
    """Known errors behind the most failures (occurrences) among incidents seen in the window."""
    since = (now or utc_now()) - timedelta(days=window_days)
    query = (
        Incident.select(
            Incident.known_error,
            KnownError.name,
            KnownError.severity,
            pw.fn.COUNT(Incident.id).alias("incidents"),
            pw.fn.SUM(Incident.occurrences).alias("occurrences"),
        )
        .join(KnownError, on=(Incident.known_error == KnownError.id), join_type=pw.JOIN.LEFT_OUTER)
        .where(Incident.last_seen >= since)
        .group_by(Incident.known_error, KnownError.name, KnownError.severity)
        .order_by(pw.SQL("occurrences").desc(), pw.SQL("incidents").desc())
    )
    out = []
    for row in dict_rows(query):
        out.append(
            {
                "known_error_id": row["known_error"],
                "name": row["name"] or "(unknown error)",
                "severity": row["severity"],
                "incidents": row["incidents"],
                "occurrences": int(row["occurrences"] or 0),
            }
        )
    return out[:limit]


def runs_per_day(days: int = SPARK_DAYS, now: datetime | None = None) -> list[dict]:
    """Oldest first, one entry per display-zone day, today last: the sparkline's data."""
    now = now or utc_now()
    today = as_utc(now).astimezone(clock.zone()).date()
    first = today - timedelta(days=days - 1)
    start = local_midnight(now) - timedelta(days=days + 1)  # generous; days are bucketed below
    series = {first + timedelta(days=i): {"total": 0, "succeeded": 0, "failed": 0} for i in range(days)}
    for run in tuple_rows(JobRun.select(JobRun.queued_at, JobRun.status).where(JobRun.queued_at >= start)):
        day = as_utc(run[0]).astimezone(clock.zone()).date()
        bucket = series.get(day)
        if bucket is None:
            continue
        bucket["total"] += 1
        if run[1] in ("succeeded", "failed"):
            bucket[run[1]] += 1
    return [{"date": day.isoformat(), **counts} for day, counts in series.items()]


def dashboard(now=None, window_days: float = WINDOW_DAYS) -> dict:
    now = now or utc_now()
    return {
        "generated_at": now,
        "timezone": clock.zone().key,
        "uploads_today": uploads_today(now),
        "runs_24h": runs_last_24h(now),
        "incidents_open": open_incidents(),
        "response": response_times(window_days, now),
        "failures_by_step": failures_by_step(window_days, now),
        "top_known_errors": top_known_errors(window_days, now),
        "runs_per_day": runs_per_day(SPARK_DAYS, now),
    }
