"""Worker heartbeats: each consumer registers, beats and stops; ``online()`` lists the live ones.

The worker (a front door) calls these; health, metrics, backup and the CLI read
``online()``, so every process agrees on which workers are alive: a heartbeat
within ``worker.lost_after_seconds`` (in the database server's time) and not
stopped. On SQLite (one machine) a worker whose process is gone drops out at once.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from batchops import clock, context
from batchops.clock import utc_now
from batchops.store.db import db, is_sqlite, retry_busy
from batchops.store.models import WorkerHeartbeat

FORGET_AFTER = timedelta(days=1)


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists on this host (someone else's process counts)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, it is just not ours
        return True
    return True


@retry_busy
def register(worker_id: str, workers: int) -> None:
    """A fresh heartbeat row for this worker; rows of workers gone for a day are forgotten."""
    now = utc_now()
    with db.atomic():
        WorkerHeartbeat.delete().where(WorkerHeartbeat.worker_id == worker_id).execute()
        WorkerHeartbeat.delete().where(WorkerHeartbeat.last_seen < now - FORGET_AFTER).execute()
        WorkerHeartbeat.create(
            worker_id=worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            workers=workers,
            started_at=now,
            last_seen=now,
        )


@retry_busy
def beat(worker_id: str, stopped: bool = False) -> None:
    """This worker is alive (``last_seen`` now); with ``stopped``, it has also stopped cleanly."""
    now = utc_now()
    fields = {"last_seen": now}
    if stopped:
        fields["stopped_at"] = now
    with db.atomic():
        WorkerHeartbeat.update(**fields).where(WorkerHeartbeat.worker_id == worker_id).execute()


def stop(worker_id: str) -> None:
    """The worker is on its way out."""
    beat(worker_id, stopped=True)


def online(lost_after: float | None = None, now=None) -> list[dict]:
    """Workers with a heartbeat within ``lost_after`` seconds (default worker.lost_after_seconds)
    that have not stopped and, on this host, whose process lives; oldest first."""
    now = now or utc_now()
    if lost_after is None:
        lost_after = context.config().worker.lost_after_seconds
    cutoff = now - timedelta(seconds=lost_after)
    host = socket.gethostname() if is_sqlite() else None
    out = []
    for row in (
        WorkerHeartbeat.select()
        .where(WorkerHeartbeat.stopped_at.is_null(True) & (WorkerHeartbeat.last_seen >= cutoff))
        .order_by(WorkerHeartbeat.started_at)
    ):
        if row.host == host and not pid_alive(row.pid):
            continue
        out.append(
            {
                "worker_id": row.worker_id,
                "host": row.host,
                "pid": row.pid,
                "workers": row.workers,
                "started_at": row.started_at,
                "last_seen": row.last_seen,
                "last_seen_ago": clock.ago(row.last_seen, now),
            }
        )
    return out


def queue_note() -> str:
    """What an operator must hear after queueing work: '' while a worker is alive, else how to start one."""
    from batchops.queue.app import immediate_mode

    if immediate_mode() or online():  # immediate mode (tests) runs queued work inside enqueue
        return ""
    return f"no worker is running, so queued work waits until one starts: batchops --home {context.home()} worker"
