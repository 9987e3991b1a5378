"""Prometheus metrics: a custom collector that reads the store at scrape time.

``render()`` gives the text exposition format (``batchops metrics``);
``start(port, host)`` / ``serve(port, host)`` expose it over HTTP on
127.0.0.1 by default (``batchops metrics --serve PORT``). Nothing is counted
in memory, so every process - CLI, worker, TUI - reports the same numbers.

Metrics (all gauges unless noted; counts of rows, which retention may lower):

* ``batchops_uploads{status}``
* ``batchops_runs{kind,status}``
* ``batchops_run_duration_seconds{kind}`` histogram over finished runs' stored durations
* ``batchops_incidents_open{severity}``, ``batchops_incidents{state}``
* ``batchops_incident_mtta_seconds{severity}``, ``batchops_incident_mttr_seconds{severity}``
  (severity="all" overall; incidents opened in the last 30 days; absent when nothing to average)
* ``batchops_queue_depth{state}`` pending / scheduled (0 while the queue module does not exist)
* ``batchops_workers_online`` (``services.workers.online``: recent heartbeat, not stopped, pid alive on this host)
* ``batchops_job_last_success_timestamp_seconds{job}`` (0: never succeeded)
"""

from __future__ import annotations

import logging
import math

import peewee as pw

from batchops.clock import as_utc, utc_now
from batchops.store.db import db
from batchops.store.models import (
    INCIDENT_STATES,
    RUN_KINDS,
    RUN_STATUSES,
    SEVERITIES,
    UPLOAD_STATUSES,
    Incident,
    Job,
    JobRun,
    Upload,
)
from batchops.store.rows import dict_rows

log = logging.getLogger("batchops.metrics")

DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


def queue_depth() -> dict[str, float]:
    """{"pending": n, "scheduled": n}; NaN when the queue cannot be read (a failure is not a 0)."""
    from batchops.queue.app import queue_depth as depth

    try:
        return {str(k): float(v) for k, v in depth().items()}
    except Exception as exc:  # noqa: BLE001 - a scrape reports, it does not raise
        log.warning("queue depth unavailable: %s", exc)
        return {"pending": math.nan, "scheduled": math.nan}


def workers_online(now=None) -> int:
    """How many workers ``services.workers.online`` counts alive (the health check's list)."""
    from batchops.services import workers

    return len(workers.online(now=now))


def duration_histogram() -> dict[str, dict]:
    """{kind: {"buckets": [(le, cumulative count)...], "count": n, "sum": s}} from stored durations."""
    columns = [
        pw.fn.SUM(pw.Case(None, [(JobRun.duration_s <= b, 1)], 0)).alias(f"b{i}")
        for i, b in enumerate(DURATION_BUCKETS)
    ]
    query = (
        JobRun.select(JobRun.kind, pw.fn.COUNT(JobRun.id).alias("n"), pw.fn.SUM(JobRun.duration_s).alias("s"), *columns)
        .where(JobRun.duration_s.is_null(False) & JobRun.status.in_(("succeeded", "failed")))
        .group_by(JobRun.kind)
    )
    out = {}
    for row in dict_rows(query):
        buckets = [(str(float(b)), int(row[f"b{i}"] or 0)) for i, b in enumerate(DURATION_BUCKETS)]
        buckets.append(("+Inf", int(row["n"])))
        out[row["kind"]] = {"buckets": buckets, "count": int(row["n"]), "sum": float(row["s"] or 0.0)}
    return out


class StoreCollector:
    """Reads the store on every scrape (own connection when called from the HTTP thread)."""

    def describe(self):
        return []  # unchecked collector: registering it must not trigger a scrape

    def collect(self):
        opened = db.is_closed()
        if opened:
            db.connect()
        try:
            yield from self._collect()
        finally:
            if opened:
                db.close()

    def _collect(self):
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        from batchops.services import dashboard

        now = utc_now()

        uploads = GaugeMetricFamily("batchops_uploads", "Uploads by status.", labels=["status"])
        counts = dict.fromkeys(UPLOAD_STATUSES, 0)
        for status, n in Upload.select(Upload.status, pw.fn.COUNT(Upload.id)).group_by(Upload.status).tuples():
            counts[status] = n
        for status, n in counts.items():
            uploads.add_metric([status], n)
        yield uploads

        runs = GaugeMetricFamily("batchops_runs", "Job runs by kind and status.", labels=["kind", "status"])
        counts = {(k, s): 0 for k in RUN_KINDS for s in RUN_STATUSES}
        for kind, status, n in (
            JobRun.select(JobRun.kind, JobRun.status, pw.fn.COUNT(JobRun.id))
            .group_by(JobRun.kind, JobRun.status)
            .tuples()
        ):
            counts[(kind, status)] = n
        for (kind, status), n in counts.items():
            runs.add_metric([kind, status], n)
        yield runs

        hist = HistogramMetricFamily("batchops_run_duration_seconds", "Duration of finished runs.", labels=["kind"])
        for kind, data in sorted(duration_histogram().items()):
            hist.add_metric([kind], data["buckets"], data["sum"])
        yield hist

        open_ = GaugeMetricFamily(
            "batchops_incidents_open", "Open, assigned or analyzing incidents by severity.", labels=["severity"]
        )
        by_state = GaugeMetricFamily("batchops_incidents", "Incidents by state.", labels=["state"])
        sev_counts = dict.fromkeys(SEVERITIES, 0)
        state_counts = dict.fromkeys(INCIDENT_STATES, 0)
        for state, severity, n in (
            Incident.select(Incident.state, Incident.severity, pw.fn.COUNT(Incident.id))
            .group_by(Incident.state, Incident.severity)
            .tuples()
        ):
            state_counts[state] = state_counts.get(state, 0) + n
            if state in ("open", "assigned", "analyzing"):
                sev_counts[severity] = sev_counts.get(severity, 0) + n
        for severity, n in sev_counts.items():
            open_.add_metric([severity], n)
        for state, n in state_counts.items():
            by_state.add_metric([state], n)
        yield open_
        yield by_state

        times = dashboard.response_times(dashboard.WINDOW_DAYS, now)
        mtta = GaugeMetricFamily(
            "batchops_incident_mtta_seconds",
            "Mean time to acknowledge, incidents opened in the last 30 days.",
            labels=["severity"],
        )
        mttr = GaugeMetricFamily(
            "batchops_incident_mttr_seconds",
            "Mean time to resolve, incidents opened in the last 30 days.",
            labels=["severity"],
        )
        for label, data in [("all", times["overall"]), *times["by_severity"].items()]:
            if data["mtta_s"] is not None:
                mtta.add_metric([label], data["mtta_s"])
            if data["mttr_s"] is not None:
                mttr.add_metric([label], data["mttr_s"])
        yield mtta
        yield mttr

        depth = GaugeMetricFamily(
            "batchops_queue_depth",
            "Tasks in the queue: pending (due now) and scheduled (delayed retries).",
            labels=["state"],
        )
        for state, n in queue_depth().items():
            depth.add_metric([state], n)
        yield depth
        yield GaugeMetricFamily(
            "batchops_workers_online", "Workers with a recent heartbeat.", value=workers_online(now)
        )

        last = GaugeMetricFamily(
            "batchops_job_last_success_timestamp_seconds",
            "Unix time of each job's last success (0: never).",
            labels=["job"],
        )
        for name, when in Job.select(Job.name, Job.last_success_at).order_by(Job.name).tuples():
            last.add_metric([name], as_utc(when).timestamp() if when else 0.0)
        yield last


def registry():
    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry(auto_describe=False)
    reg.register(StoreCollector())
    return reg


def render() -> str:
    """The Prometheus text exposition format, from a fresh registry."""
    from prometheus_client import generate_latest

    return generate_latest(registry()).decode("utf-8")


def start(port: int, host: str = "127.0.0.1"):
    """Serve /metrics in a background thread; returns (server, thread). Port 0 picks a free one."""
    from prometheus_client import start_http_server

    return start_http_server(port, addr=host, registry=registry())


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Serve until interrupted (Ctrl-C)."""
    import threading

    server, thread = start(port, host)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
