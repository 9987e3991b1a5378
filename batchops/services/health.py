"""Health: is the store reachable, current and intact; is the queue reachable; are workers alive.

``health()`` returns ``{"healthy": bool, "checks": {name: {"ok": bool, ...}}}``.
The workers check is not ok when enabled, un-paused jobs exist but no worker
has sent a heartbeat within ``worker.lost_after_seconds``: nothing would run them.
"""

from __future__ import annotations

import socket
from datetime import timedelta

from batchops import clock
from batchops.clock import utc_now
from batchops.services import context
from batchops.store import migrations
from batchops.store.db import db, is_sqlite


def check_store() -> dict:
    from batchops.config import redact_url

    out = {"ok": False, "url": redact_url(context.config().database.url) or "sqlite:batchops.db"}
    try:
        version = migrations.current_version()
        out["schema_version"] = version
        out["schema_current"] = version == migrations.LATEST
        if is_sqlite():
            out["journal_mode"] = db.execute_sql("PRAGMA journal_mode").fetchone()[0]
            out["integrity"] = db.execute_sql("PRAGMA quick_check").fetchone()[0]
        else:
            out["integrity"] = "ok"
        out["ok"] = bool(out["schema_current"]) and out["integrity"] == "ok"
    except Exception as exc:  # health reports, it does not raise
        out["error"] = f"{exc.__class__.__name__}: {exc}"
    return out


def check_queue() -> dict:
    from batchops.queue import app

    out = {"ok": False, "backend": app.describe(context.config())}
    try:
        depth = app.queue_depth()
        out.update(depth=depth["pending"], scheduled=depth["scheduled"], reachable=True, ok=True)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        out.update(reachable=False, error=f"{exc.__class__.__name__}: {exc}")
    return out


def _pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def workers_online(now=None) -> list[dict]:
    """Workers with a heartbeat within worker.lost_after_seconds that have not stopped (and, on this host, whose pid lives)."""
    from batchops.store.models import WorkerHeartbeat

    now = now or utc_now()
    cutoff = now - timedelta(seconds=context.config().worker.lost_after_seconds)
    host = socket.gethostname()
    out = []
    for row in (WorkerHeartbeat.select().where(WorkerHeartbeat.stopped_at.is_null(True)
                                               & (WorkerHeartbeat.last_seen >= cutoff))
                .order_by(WorkerHeartbeat.started_at)):
        if row.host == host and not _pid_alive(row.pid):
            continue
        out.append({"worker_id": row.worker_id, "host": row.host, "pid": row.pid, "workers": row.workers,
                    "started_at": row.started_at, "last_seen": row.last_seen,
                    "last_seen_ago": clock.ago(row.last_seen, now)})
    return out


def check_workers() -> dict:
    from batchops.store.models import Job

    out = {"ok": False}
    try:
        online = workers_online()
        scheduled = Job.select().where(Job.enabled & ~Job.paused).count()
        out.update(count=len(online), online=online, scheduled_jobs=scheduled)
        out["ok"] = bool(online) or scheduled == 0
        if online:
            out["last_heartbeat"] = max(w["last_seen"] for w in online)
        elif scheduled:
            out["note"] = f"{scheduled} scheduled job(s) but no worker alive: start `batchops worker`"
    except Exception as exc:  # noqa: BLE001
        out["error"] = f"{exc.__class__.__name__}: {exc}"
    return out


CHECKS = {"store": check_store, "queue": check_queue, "workers": check_workers}


def health() -> dict:
    checks = {name: fn() for name, fn in CHECKS.items()}
    return {"healthy": all(c.get("ok") for c in checks.values()), "checks": checks}
