"""Health: is the store reachable, current and intact; is the queue reachable; are workers alive;
is the scheduler keeping up.

``health()`` returns ``{"healthy": bool, "checks": {name: {"ok": bool, ...}}}``.
The workers check is not ok when enabled, un-paused jobs exist but no worker
has sent a heartbeat within ``worker.lost_after_seconds``: nothing would run them.
The scheduler check is not ok when a job is overdue (its fire time passed more
than two ticks ago and nobody dispatched it) or when workers are alive but
their tick has not run lately - a tick that cannot run (e.g. a queue that
refuses it) shows here, not only in a worker's log.

A database server that cannot be reached is a report too (``unreachable()``),
never a crash.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from batchops import clock, context
from batchops.store import migrations
from batchops.store.db import db, is_sqlite

LAST_TICK_KEY = "scheduler.last_tick"


def _store_url() -> str:
    from batchops.config import redact_url

    return redact_url(context.config().database.url) or "sqlite:batchops.db"


def _schema_problems() -> list[str]:
    """What the server's schema lacks compared with the models (PostgreSQL has no quick_check)."""
    from batchops.store.models import ALL_MODELS, ONE_ACTIVE_INCIDENT_NAME

    problems = []
    tables = set(db.get_tables())
    for model in ALL_MODELS:
        table = model._meta.table_name
        if table not in tables:
            problems.append(f"table {table} missing")
            continue
        have = {c.name for c in db.get_columns(table)}
        missing = [f.column_name for f in model._meta.sorted_fields if f.column_name not in have]
        if missing:
            problems.append(f"{table} lacks {', '.join(missing)}")
    if "incident" in tables and ONE_ACTIVE_INCIDENT_NAME not in {i.name for i in db.get_indexes("incident")}:
        problems.append(f"index {ONE_ACTIVE_INCIDENT_NAME} missing")
    return problems


def check_store() -> dict:
    out = {"ok": False, "url": _store_url()}
    try:
        version = migrations.current_version()
        out["reachable"] = True
        out["schema_version"] = version
        out["schema_current"] = version == migrations.LATEST
        if is_sqlite():
            out["journal_mode"] = db.execute_sql("PRAGMA journal_mode").fetchone()[0]
            out["integrity"] = db.execute_sql("PRAGMA quick_check").fetchone()[0]
            out["ok"] = bool(out["schema_current"]) and out["integrity"] == "ok"
        else:
            out["server"] = db.execute_sql("SHOW server_version").fetchone()[0]
            problems = _schema_problems()
            out["schema_check"] = "; ".join(problems) if problems else "ok"
            out["ok"] = bool(out["schema_current"]) and not problems
    except Exception as exc:  # health reports, it does not raise
        from batchops.store.db import unreachable

        if unreachable(exc) is not None:
            out["reachable"] = False
        out["error"] = f"{exc.__class__.__name__}: {str(exc).strip()}"
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

    out: dict[str, Any] = {"ok": False}
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


def record_tick(worker: str) -> None:
    """The worker's tick ran (called by ``services.tasks.tick``): health can tell a tick that never runs."""
    from batchops.store.db import write
    from batchops.store.models import AppState

    now = clock.utc_now()
    value = {"at": clock.iso(now), "worker": worker}

    def change():
        if not AppState.update(value=value, updated_at=now).where(AppState.key == LAST_TICK_KEY).execute():
            AppState.insert(key=LAST_TICK_KEY, value=value, updated_at=now).on_conflict_ignore().execute()

    write(change)


def check_scheduler(now=None) -> dict:
    """Overdue jobs and the last tick."""
    from batchops.services.scheduler import grace_seconds
    from batchops.store.models import AppState, Job

    out: dict = {"ok": False}
    try:
        now = now or clock.utc_now()
        grace = timedelta(seconds=grace_seconds())
        overdue = [
            f"{j.name} (due {clock.fmt(j.next_run_at)})"
            for j in Job.select(Job.name, Job.next_run_at)
            .where(Job.enabled & ~Job.paused & Job.next_run_at.is_null(False) & (Job.next_run_at < now - grace))
            .order_by(Job.next_run_at)
        ]
        out["overdue"] = len(overdue)
        if overdue:
            out["overdue_jobs"] = "; ".join(overdue[:5]) + (f" and {len(overdue) - 5} more" if len(overdue) > 5 else "")
        state = AppState.get_or_none(AppState.key == LAST_TICK_KEY)
        last = clock.as_utc(state.updated_at) if state is not None else None
        out["last_tick"] = clock.ago(last, now) if last else "never"
        online = workers_online(now=now)
        oldest = clock.as_utc(min((w["started_at"] for w in online), default=None))
        # a worker ticks within a minute of starting: only one up for longer than that is stalled
        stalled = oldest is not None and now - oldest > grace and (last is None or now - last > grace)
        out["ok"] = not overdue and not stalled
        if stalled:
            out["note"] = "workers are alive but their scheduler tick has not run: see the worker log"
        elif overdue:
            out["note"] = "jobs are overdue: is a worker running?"
    except Exception as exc:  # noqa: BLE001
        out["error"] = f"{exc.__class__.__name__}: {exc}"
    return out


CHECKS = {"store": check_store, "queue": check_queue, "workers": check_workers, "scheduler": check_scheduler}


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


def unreachable(error) -> dict:
    """The report when the store cannot even be opened: what is known (the queue), and why not the rest."""
    store = {"ok": False, "url": _store_url(), "reachable": False, "error": f"{error.code}: {error.message}"}
    unknown = {"ok": False, "error": "unknown: the store cannot be reached"}
    return {
        "healthy": False,
        "checks": {"store": store, "queue": check_queue(), "workers": dict(unknown), "scheduler": dict(unknown)},
    }
