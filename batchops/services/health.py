"""Health: is the store reachable, current and intact; is the queue reachable; are workers alive.

``health()`` returns ``{"healthy": bool, "checks": {name: {"ok": bool, ...}}}``.
The workers check is not ok when enabled, un-paused jobs exist but no worker
has sent a heartbeat within ``worker.lost_after_seconds``: nothing would run them.
"""

from __future__ import annotations

from batchops import context
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


def workers_online(now=None) -> list[dict]:
    """Workers alive now (``services.workers.online``: the one definition metrics shares)."""
    from batchops.services import workers

    return workers.online(now=now)


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


def check_storage() -> dict:
    """Shared object storage (only when storage.url is set): reachable, bucket there, credentials accepted."""
    from batchops.errors import BatchOpsError
    from batchops.store.objects import objects

    try:
        return objects().check()
    except BatchOpsError as exc:  # a bad URL or the missing [s3] extra: reported, not raised
        return {"ok": False, "reachable": False, "error": str(exc)}


def health() -> dict:
    checks = {name: fn() for name, fn in CHECKS.items()}
    if context.config().storage.url:
        checks["storage"] = check_storage()
    return {"healthy": all(c.get("ok") for c in checks.values()), "checks": checks}
