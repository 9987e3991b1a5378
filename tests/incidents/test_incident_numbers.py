"""Dashboard and metrics: real numbers checked against a store built with known timestamps."""

from __future__ import annotations

import json
import math
import os
import socket
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from batchops.clock import utc_now

H = timedelta(hours=1)
M = timedelta(minutes=1)
FIXED_NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)  # 17:30 IST; local midnight = 27th 18:30 UTC


def build_store(now):
    """Uploads, runs, incidents with timelines, workers and jobs, all at known offsets from ``now``."""
    from batchops.store.models import (
        Incident,
        IncidentEvent,
        Job,
        JobRun,
        KnownError,
        Upload,
        WorkerHeartbeat,
    )

    def upload(status, at):
        return Upload.create(
            original_name=f"{status}.csv",
            sha256="0" * 64,
            kind="csv",
            blob_path="x",
            status=status,
            created_at=at,
            updated_at=at,
        )

    for status, at in [
        ("published", now - H),
        ("published", now - 2 * H),
        ("failed", now - 2 * H),
        ("queued", now - 3 * H),
        ("failed", now - 20 * H),
    ]:  # the last is yesterday in IST
        upload(status, at)

    def run(kind, status, at, duration=None, step=None):
        return JobRun.create(
            kind=kind,
            status=status,
            queued_at=at,
            duration_s=duration,
            failed_step=step,
            job_name="status-digest" if kind == "job" else None,
            trigger="schedule",
        )

    run("pipeline", "succeeded", now - H, 1.0)
    run("pipeline", "succeeded", now - 2 * H, 2.0)
    run("pipeline", "succeeded", now - 3 * H, 4.0)
    run("pipeline", "failed", now - 4 * H, 0.5, "validate")
    run("job", "succeeded", now - 5 * H, 10.0)
    run("job", "failed", now - 5 * H, 100.0)
    alive = run("pipeline", "running", now - 10 * M)  # owned by this (live) process, so no one recovers it
    JobRun.update(worker_id=f"{socket.gethostname()}:{os.getpid()}", pid=os.getpid(), heartbeat_at=utc_now()).where(
        JobRun.id == alive.id
    ).execute()
    run("pipeline", "failed", now - 72 * H, 3.0, "publish")  # 3 days ago
    run("pipeline", "failed", now - 40 * 24 * H, 3.0, "validate")  # outside the 30-day window

    missing = KnownError.get(KnownError.name == "Missing required columns")
    busy = KnownError.get(KnownError.name == "Database busy")

    def incident(name, severity, state, opened, timeline, ke=None, occurrences=1):
        inc = Incident.create(
            title=name,
            signature=f"test|{name}",
            severity=severity,
            state=state,
            opened_at=opened,
            first_seen=opened,
            last_seen=opened + H,
            occurrences=occurrences,
            known_error=ke,
            unknown_error=ke is None,
        )
        IncidentEvent.create(incident=inc, kind="open", at=opened, to_state="open")
        for kind, offset in timeline:
            IncidentEvent.create(incident=inc, kind=kind, at=opened + offset, actor="asha")
        return inc

    incident(
        "A",
        "high",
        "resolved",
        now - 10 * H,
        [("assign", 10 * M), ("comment", 20 * M), ("resolve", 2 * H)],
        missing,
        occurrences=3,
    )
    incident("B", "high", "analyzing", now - 5 * H, [("analyze", 30 * M), ("assign", 40 * M)], missing, 2)
    # C: auto-resolved without an ack (MTTR 1 h), re-opened 4 h ago, then assigned +20 min, resolved +40 min
    incident(
        "C",
        "low",
        "resolved",
        now - 8 * H,
        [("resolve", H), ("reopen", 4 * H), ("assign", 4 * H + 20 * M), ("resolve", 4 * H + 40 * M)],
        busy,
        occurrences=4,
    )
    old = incident("D", "medium", "resolved", now - 60 * 24 * H, [("assign", H), ("resolve", 2 * H)], missing, 7)
    Incident.update(last_seen=now - 59 * 24 * H).where(Incident.id == old.id).execute()
    incident("E", "critical", "open", now - H, [])

    WorkerHeartbeat.create(worker_id="w1", host="h", pid=1, last_seen=now - 10 * timedelta(seconds=1))
    WorkerHeartbeat.create(worker_id="w2", host="h", pid=2, last_seen=now - 10 * M)  # lost
    WorkerHeartbeat.create(worker_id="w3", host="h", pid=3, last_seen=now, stopped_at=now)  # stopped cleanly
    Job.update(last_success_at=datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)).where(
        Job.name == "daily-backup"
    ).execute()


def test_dashboard_numbers(ctx):
    from batchops.services import dashboard

    build_store(FIXED_NOW)
    d = dashboard.dashboard(now=FIXED_NOW)
    assert d["uploads_today"] == {"staged": 0, "queued": 1, "processing": 0, "published": 2, "failed": 1, "total": 4}
    runs = d["runs_24h"]
    assert (runs["total"], runs["succeeded"], runs["failed"], runs["running"]) == (7, 4, 2, 1)
    assert runs["success_rate"] == pytest.approx(4 / 6, abs=1e-4)
    assert runs["by_kind"] == {
        "job": {"succeeded": 1, "failed": 1},
        "pipeline": {"succeeded": 3, "failed": 1, "running": 1},
    }
    inc = d["incidents_open"]
    assert inc["total"] == 2 and inc["by_severity"] == {"low": 0, "medium": 0, "high": 1, "critical": 1}
    assert inc["by_state"] == {"open": 1, "assigned": 0, "analyzing": 1} and inc["unknown_errors"] == 1

    r = d["response"]
    # cycles in the window: A, B, C1, C2, E.  MTTA: A 600, B 1800, C2 1200.  MTTR: A 7200, C1 3600, C2 2400.
    assert r["overall"] == {"mtta_s": 1200.0, "mttr_s": 4400.0, "cycles": 5, "acknowledged": 3, "resolved": 3}
    assert r["by_severity"]["high"] == {
        "mtta_s": 1200.0,
        "mttr_s": 7200.0,
        "cycles": 2,
        "acknowledged": 2,
        "resolved": 1,
    }
    assert r["by_severity"]["low"] == {
        "mtta_s": 1200.0,
        "mttr_s": 3000.0,
        "cycles": 2,
        "acknowledged": 1,
        "resolved": 2,
    }
    assert r["by_severity"]["medium"]["cycles"] == 0 and r["by_severity"]["medium"]["mtta_s"] is None
    all_time = dashboard.response_times(None, FIXED_NOW)["overall"]
    assert all_time["mtta_s"] == pytest.approx((600 + 1800 + 1200 + 3600) / 4)

    assert d["failures_by_step"] == {"standardize": 0, "validate": 1, "transform": 0, "summarize": 0, "publish": 1}
    top = [(t["name"], t["incidents"], t["occurrences"]) for t in d["top_known_errors"]]
    assert top == [("Missing required columns", 2, 5), ("Database busy", 1, 4), ("(unknown error)", 1, 1)]

    days = d["runs_per_day"]
    assert len(days) == 14 and days[-1]["date"] == "2026-11-28" and days[0]["date"] == "2026-11-15"
    assert days[-1] == {"date": "2026-11-28", "total": 7, "succeeded": 4, "failed": 2}
    assert days[-4] == {"date": "2026-11-25", "total": 1, "succeeded": 0, "failed": 1}
    assert sum(day["total"] for day in days) == 8


def test_dashboard_cli_json(home, run_cli):
    from batchops import context
    from batchops.services.setup import configure
    from batchops.store.db import db

    configure(home=home)
    build_store(utc_now())
    db.close()
    context.reset()
    proc = run_cli("dashboard", "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["incidents_open"]["total"] == 2
    assert d["runs_24h"]["succeeded"] == 4 and d["runs_24h"]["failed"] == 2
    assert d["response"]["overall"]["mtta_s"] == 1200.0 and d["response"]["overall"]["mttr_s"] == 4400.0
    plain = run_cli("dashboard")
    assert plain.returncode == 0 and "MTTA / MTTR" in plain.stdout and "20 min / 1 h 13 min" in plain.stdout


def _families(text):
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_text_parses_and_matches_the_store(ctx):
    from batchops.services import metrics

    build_store(utc_now())
    s = _families(metrics.render())
    assert s[("batchops_uploads", (("status", "published"),))] == 2
    assert s[("batchops_uploads", (("status", "failed"),))] == 2
    assert s[("batchops_runs", (("kind", "pipeline"), ("status", "failed")))] == 3
    assert s[("batchops_runs", (("kind", "job"), ("status", "succeeded")))] == 1
    assert s[("batchops_runs", (("kind", "job"), ("status", "cancelled")))] == 0
    # pipeline durations of finished runs: 1, 2, 4, 0.5, 3, 3
    assert s[("batchops_run_duration_seconds_bucket", (("kind", "pipeline"), ("le", "0.5")))] == 1
    assert s[("batchops_run_duration_seconds_bucket", (("kind", "pipeline"), ("le", "2.0")))] == 3
    assert s[("batchops_run_duration_seconds_bucket", (("kind", "pipeline"), ("le", "5.0")))] == 6
    assert s[("batchops_run_duration_seconds_bucket", (("kind", "pipeline"), ("le", "+Inf")))] == 6
    assert s[("batchops_run_duration_seconds_count", (("kind", "pipeline"),))] == 6
    assert s[("batchops_run_duration_seconds_sum", (("kind", "pipeline"),))] == pytest.approx(13.5)
    assert s[("batchops_run_duration_seconds_sum", (("kind", "job"),))] == pytest.approx(110.0)
    assert s[("batchops_incidents_open", (("severity", "high"),))] == 1
    assert s[("batchops_incidents_open", (("severity", "critical"),))] == 1
    assert s[("batchops_incidents_open", (("severity", "low"),))] == 0
    assert s[("batchops_incidents", (("state", "resolved"),))] == 3
    assert s[("batchops_incident_mtta_seconds", (("severity", "all"),))] == 1200.0
    assert s[("batchops_incident_mttr_seconds", (("severity", "all"),))] == 4400.0
    assert s[("batchops_incident_mttr_seconds", (("severity", "low"),))] == 3000.0
    assert ("batchops_incident_mtta_seconds", (("severity", "critical"),)) not in s  # nothing to average
    assert s[("batchops_workers_online", ())] == 1
    assert s[("batchops_queue_depth", (("state", "pending"),))] == 0
    assert (
        s[("batchops_job_last_success_timestamp_seconds", (("job", "daily-backup"),))]
        == datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc).timestamp()
    )
    assert s[("batchops_job_last_success_timestamp_seconds", (("job", "status-digest"),))] == 0


def test_queue_depth_sources(ctx, monkeypatch):
    from batchops.queue import app as queue_app
    from batchops.services import metrics

    monkeypatch.setattr(queue_app, "queue_depth", lambda: {"pending": 3, "scheduled": 2})
    assert metrics.queue_depth() == {"pending": 3.0, "scheduled": 2.0}

    def broken():
        raise OSError("queue.db is gone")

    monkeypatch.setattr(queue_app, "queue_depth", broken)
    assert all(math.isnan(v) for v in metrics.queue_depth().values())  # a failure is not reported as 0


def test_metrics_served_over_http(ctx):
    from batchops.services import metrics

    server, thread = metrics.start(0, "127.0.0.1")
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode("utf-8")
    finally:
        server.shutdown()
        server.server_close()
    assert ("batchops_incidents_open", (("severity", "high"),)) in _families(text)


def test_metrics_cli(run_cli):
    proc = run_cli("metrics")
    assert proc.returncode == 0, proc.stderr
    s = _families(proc.stdout)
    assert s[("batchops_uploads", (("status", "published"),))] == 0
    assert ("batchops_job_last_success_timestamp_seconds", (("job", "daily-backup"),)) in s
