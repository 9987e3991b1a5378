"""Huey tasks and the two functions the services call to queue work.

Task bodies are thin: each opens a store connection for its thread
(``db.connection_context()``; connections are per thread) and calls one service.
The run row in the store is the truth about a run; a Huey task only carries its
id, so a duplicate delivery is harmless (the run is claimed atomically).

* ``run_pipeline(run_id)`` -> ``services.processing.execute``
* ``run_job(run_id)`` -> ``services.job_runs.execute``
* ``tick()`` every minute -> ``services.scheduler.dispatch_due``,
  ``services.runs.recover_stale``, ``requeue_lost`` and ``recover_orphans``
* ``ping()`` -> 1 (health probes and the queue benchmark)

A task interrupted by a stopping worker (SIGINT, or a graceful stop that ran
past its timeout) is put back: its run returns to ``queued`` and is enqueued
again, so the next worker starts it afresh.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from batchops.queue import app

log = logging.getLogger("batchops.queue")
_registering = threading.Lock()


def huey():
    """The running Huey instance (``queue.app.get_huey``) with every BatchOps task registered on it."""
    instance = app.get_huey()
    if not hasattr(instance, "batchops_tasks"):
        with _registering:
            if not hasattr(instance, "batchops_tasks"):
                register(instance)
    return instance


def _store():
    """A connection for this thread unless one is open already (immediate mode runs in the caller)."""
    from batchops.store.db import db

    return db.connection_context() if db.is_closed() else contextlib.nullcontext()


def run_pipeline(run_id: int) -> None:
    from batchops.services import processing

    _execute_logged(run_id, processing.execute)


def run_job(run_id: int) -> None:
    from batchops.services import job_runs

    _execute_logged(run_id, job_runs.execute)


def _execute_logged(run_id: int, execute) -> None:
    """Run ``execute(run_id)`` on this thread's store connection, with a started and an outcome line."""
    with _store():
        what = describe_run(run_id)  # named once: the run's upload or job does not change while it runs
        log.info("%s: started", what)
        log.info("%s: %s", what, outcome(execute(run_id)))


def describe_run(run_id: int) -> str:
    """What an operator reading the worker log needs: the run and its upload or job, by id and name."""
    from batchops.store.models import JobRun, Upload

    run = JobRun.get_or_none(JobRun.id == run_id)
    if run is None:
        return f"run {run_id} (gone)"
    if run.upload_id:
        name = Upload.select(Upload.original_name).where(Upload.id == run.upload_id).scalar()
        return f"run {run.id} (upload {run.upload_id} {name or '?'}, try {run.attempt})"
    return f"run {run.id} (job {run.job_name or run.job_id}, try {run.attempt})"


def outcome(result: dict | None) -> str:
    """'published, 40 rows in 1.2 s' or 'failed E_MISSING_COLUMNS in 0.3 s', from the result the run returned
    (both kinds carry ``duration_s``: no second look at the run row)."""
    from batchops.clock import fmt_duration

    result = result or {}
    error = result.get("error") if isinstance(result.get("error"), dict) else None
    code = (error or {}).get("code") or result.get("error_code")
    rows = result.get("rows_out")
    took = result.get("duration_s")
    return (
        f"{result.get('status', '?')}"
        + (f" {code}" if code else "")
        + (f", {rows} rows" if rows is not None else "")
        + (f" in {fmt_duration(took)}" if took is not None else "")
    )


def tick() -> None:
    """The one periodic task: dispatch due jobs (croniter, each job's zone), then recover orphans."""
    from batchops.services import runs, scheduler

    with _store():
        try:
            scheduler.dispatch_due()
            _record_tick()
        finally:
            runs.recover_stale()
            requeue_lost()
            recover_orphans()
            _flush_outbox()


def _record_tick() -> None:
    from batchops.services import health, runs

    try:
        health.record_tick(runs.worker_id())
    except Exception:  # noqa: BLE001 - health shows the tick as late; the tick itself goes on
        log.exception("could not record the tick")


def _flush_outbox() -> None:
    """Undelivered mail and webhooks are retried every tick (cheap when the outbox is empty)."""
    from batchops.services import outbox

    try:
        outbox.flush()
    except Exception:  # a broken message must not stop the tick
        log.exception("outbox flush failed")


def requeue_lost(min_age_s: float | None = None) -> list[int]:
    """Queue again any run left ``queued`` with no task for it in Huey (pending or scheduled).

    That happens when a worker is killed between taking a task off the queue and
    claiming its run, when the store is restored without its queue, or when a
    process dies between creating a run and enqueueing it. A run queued less than
    ``min_age_s`` ago (default ``worker.requeue_lost_after_seconds``) is left alone;
    a duplicate delivery is harmless (runs are claimed atomically).
    """
    from batchops import context
    from batchops.services import runs

    if min_age_s is None:
        min_age_s = context.config().worker.requeue_lost_after_seconds

    def task_run_ids() -> set[int]:
        return {
            int(task.args[0])
            for task in [*huey().pending(limit=20000), *huey().scheduled(limit=20000)]
            if type(task).__name__ in ("run_pipeline", "run_job") and task.args
        }

    stale = runs.queued_without_task(min_age_s, task_run_ids)
    lost = sorted(stale)
    for run_id in lost:
        (enqueue_pipeline if stale[run_id] == "pipeline" else enqueue_job)(run_id)
    if lost:
        log.warning("re-queued %d run(s) that had no task in the queue: %s", len(lost), lost)
    return lost


def recover_orphans() -> dict[int, str]:
    """Uploads left staged/queued with no run get one, or fail with E_SUBMIT_LOST (services.recovery)."""
    from batchops.services import recovery

    return recovery.recover_orphan_uploads()


def ping() -> int:
    return 1


def _on_interrupted(signal, task, *args, **kwargs) -> None:
    """SIGNAL_INTERRUPTED: the consumer is exiting while this task runs; put its run back."""
    name = type(task).__name__
    if name not in ("run_pipeline", "run_job") or not task.args:
        return
    try:
        with _store():
            requeue_interrupted(name, int(task.args[0]))
    except Exception:  # noqa: BLE001 - signal handlers must not raise; recover_stale is the backstop
        log.exception("could not re-queue interrupted %s %s", name, task.args)


def requeue_interrupted(task_name: str, run_id: int) -> bool:
    """Return a run this process owns from ``running`` to ``queued`` and enqueue it again."""
    from batchops.services import runs

    run = runs.put_back_interrupted(run_id)
    if run is None:
        return False
    if task_name == "run_pipeline":
        enqueue_pipeline(run_id)
    else:
        enqueue_job(run_id)
    log.warning("run %s was interrupted by the worker stopping; re-queued", run_id)
    return True


def register(instance) -> None:
    """Register every task on a Huey instance (once per instance, through ``huey()``)."""
    from huey import crontab
    from huey.signals import SIGNAL_INTERRUPTED

    instance.batchops_tasks = {
        "run_pipeline": instance.task(name="run_pipeline")(run_pipeline),
        "run_job": instance.task(name="run_job")(run_job),
        # crontab() with no arguments matches every minute, in any zone: which stored
        # Job is due is decided by croniter in the job's own zone, not by Huey.
        # priority: a backlog of pipeline runs must not make scheduled jobs late
        "tick": instance.periodic_task(crontab(), name="tick", priority=100)(tick),
        "ping": instance.task(name="ping")(ping),
    }
    instance.signal(SIGNAL_INTERRUPTED)(_on_interrupted)


def _enqueue(name: str, run_id: int, delay: float | None) -> None:
    task = huey().batchops_tasks[name]
    try:
        if delay:
            task.schedule(args=(int(run_id),), delay=float(delay))
        else:
            task(int(run_id))
    except Exception as exc:
        down = app.unavailable(exc)
        if down is None:
            raise
        raise down from None


def enqueue_pipeline(run_id: int, delay: float | None = None) -> None:
    """Queue a pipeline run (already created, status ``queued``) for the worker."""
    _enqueue("run_pipeline", run_id, delay)


def enqueue_job(run_id: int, delay: float | None = None) -> None:
    """Queue a job run (already created, status ``queued``) for the worker."""
    _enqueue("run_job", run_id, delay)
