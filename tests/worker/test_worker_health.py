"""health: the queue and workers checks."""

from __future__ import annotations

import os
import socket
from datetime import timedelta


def _beat(ago_s: float = 0, pid: int | None = None, stopped: bool = False):
    from batchops.clock import utc_now
    from batchops.store.models import WorkerHeartbeat

    now = utc_now()
    pid = pid or os.getpid()
    return WorkerHeartbeat.create(
        worker_id=f"{socket.gethostname()}:{pid}:{ago_s}",
        host=socket.gethostname(),
        pid=pid,
        last_seen=now - timedelta(seconds=ago_s),
        stopped_at=now if stopped else None,
    )


def test_health_reports_queue_and_workers(wctx):
    from batchops import context
    from batchops.services.health import health

    result = health()
    storage = {"storage"} if context.config().storage.url else set()  # the card shows only with shared storage
    assert set(result["checks"]) == {"store", "queue", "workers", "scheduler"} | storage
    if storage:
        assert result["checks"]["storage"]["ok"] and result["checks"]["storage"]["reachable"]
    queue = result["checks"]["queue"]
    assert queue["ok"] and queue["reachable"] and queue["depth"] == 0
    workers = result["checks"]["workers"]
    # the seeds leave three jobs enabled and un-paused: without a worker nothing would run them
    assert workers["scheduled_jobs"] == 3 and workers["count"] == 0 and not workers["ok"]
    assert "batchops worker" in workers["note"] and result["healthy"] is False


def test_workers_check_follows_heartbeats(wctx):
    from batchops.services.health import check_workers, workers_online
    from batchops.store.models import Job

    _beat(ago_s=3600)  # stale
    _beat(stopped=True)  # stopped cleanly
    from batchops.store.db import is_sqlite

    if is_sqlite():  # one machine: a fresh row whose process is gone (same host) is not alive
        _beat(pid=2**22 + 12345)
    assert workers_online() == [] and not check_workers()["ok"]
    alive = _beat(ago_s=1)
    check = check_workers()
    assert check["ok"] and [w["worker_id"] for w in check["online"]] == [alive.worker_id]
    assert check["last_heartbeat"] == alive.last_seen
    alive.delete_instance()
    Job.update(paused=True).execute()
    assert check_workers()["ok"]  # nothing scheduled: no worker needed


def test_health_cli_exit_code(wctx, run_cli):
    env = {"BATCHOPS_CONFIG": wctx.config_path}
    assert run_cli("health", "--json", env=env).returncode == 1
    from batchops.store.models import Job

    Job.update(paused=True).execute()
    assert run_cli("health", "--json", env=env).returncode == 0


def test_queue_url_choices(wctx, tmp_path):
    import importlib.util

    import pytest

    from batchops.errors import ConfigError
    from batchops.queue import app

    cfg = wctx.cfg
    cfg.queue.url = f"sqlite:///{tmp_path}/elsewhere/q.db"
    huey = app.build(cfg, immediate=False)
    from batchops.services import tasks

    tasks.register(huey)
    assert huey.storage.filename == f"{tmp_path}/elsewhere/q.db" and set(huey.batchops_tasks) == {
        "run_pipeline",
        "run_job",
        "tick",
        "ping",
    }
    huey.storage.close()
    cfg.queue.url = "amqp://rabbit"
    with pytest.raises(ConfigError):
        app.build(cfg, immediate=False)
    cfg.queue.url = "redis://127.0.0.1:6379/0"
    if importlib.util.find_spec("redis") is None:
        with pytest.raises(ConfigError) as info:
            app.build(cfg, immediate=False)
        assert 'pip install "batchops[redis]"' in info.value.message
    else:  # plain RedisHuey refuses the tick's priority
        assert type(app.build(cfg, immediate=False)).__name__ == "PriorityRedisHuey"


def test_scheduler_check_flags_overdue_jobs_and_a_tick_that_does_not_run(wctx):
    from batchops.clock import utc_now
    from batchops.services.health import check_scheduler, record_tick
    from batchops.store.models import Job, WorkerHeartbeat

    now = utc_now()
    assert check_scheduler()["ok"] and check_scheduler()["last_tick"] == "never"  # no worker: nothing stalled
    Job.update(next_run_at=now - timedelta(minutes=10)).where(Job.name == "status-digest").execute()
    check = check_scheduler()
    assert not check["ok"] and check["overdue"] == 1 and "status-digest" in check["overdue_jobs"]
    Job.update(next_run_at=now + timedelta(hours=1)).where(Job.name == "status-digest").execute()
    # a worker up for ten minutes (on another machine) whose tick never ran: e.g. a queue refusing it
    WorkerHeartbeat.create(
        worker_id="elsewhere:1:ab", host="elsewhere", pid=1, started_at=now - timedelta(minutes=10), last_seen=now
    )
    check = check_scheduler()
    assert not check["ok"] and "tick" in check["note"]
    record_tick("elsewhere:1:ab")
    assert check_scheduler()["ok"]
