"""Run one job run: claim it, call the registered callable, record the outcome.

* **Never overlaps itself.** The claim (queued -> running) happens in one
  IMMEDIATE transaction (on PostgreSQL: under the job's advisory lock, which
  the scheduler takes too) that first looks for another running run of the same
  job. A *scheduled* fire that finds one is recorded as ``skipped``
  (``E_JOB_OVERLAP``); a manual, retry or catch-up run waits its turn (it is
  re-queued a few seconds later).
* **Timeout.** Huey's ``timeout=`` needs process workers; we run thread
  workers, so the callable runs in a thread of its own while this thread keeps
  the run's heartbeat and watches the deadline. Past it the run fails with
  ``E_JOB_TIMEOUT``. Python cannot kill a thread: callables that loop call
  ``check_deadline()`` so they stop themselves; the rest are abandoned (daemon
  thread) and their late result is ignored.
* **Retries.** A failure goes to ``services.failures``: incident triage decides
  (known error first, else the job's own ``retries``/``retry_delay_s``) and the
  retry's run is written with the decision (``services.jobs.reserve_run``) and
  queued after the commit; the delay doubles with each attempt. Triage never
  raises; a failure it could not record is triaged again by the tick
  (``services.runs.triage_untriaged``).
* A successful run goes through ``failures.handle_success`` (auto-resolve).

Callables get their context (run id, log, deadline) through
``automation.job_context``, which this module binds to the callable's thread.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback

from batchops import clock, context
from batchops.automation import job_context
from batchops.automation.job_context import JobContext
from batchops.clock import utc_now
from batchops.errors import BatchOpsError, JobError, disk_full
from batchops.services import runs
from batchops.store.db import db, lock, retry_busy, write
from batchops.store.models import Job, JobRun, ScheduleClaim

logger = logging.getLogger("batchops.jobs")

DEFER_SECONDS = 5.0  # a manual/retry/catch-up run waiting for the job's running run checks again after this
MAX_LOG_CHARS = 200_000


# ------------------------------------------------------------------ claim


def job_lock(job_id: int) -> str:
    """The lock every decision about one job's runs takes (claim here, dispatch in the scheduler)."""
    return f"job:{job_id}"


@retry_busy
def _claim(run_id: int, job: Job) -> tuple[str, int | None]:
    """('claimed'|'skipped'|'busy'|'gone', id of the run in the way)."""
    now = utc_now()
    with db.atomic():
        lock(job_lock(job.id))
        run = JobRun.get_or_none(JobRun.id == run_id)
        if run is None or run.status != "queued":
            return "gone", None
        other = (
            JobRun.select(JobRun.id)
            .where((JobRun.job == job.id) & (JobRun.status == "running") & (JobRun.id != run_id))
            .first()
        )
        if other is not None:
            if run.trigger == "schedule":
                message = f"skipped: run {other.id} of this job was still running (a job never overlaps itself)"
                JobRun.update(
                    status="skipped",
                    started_at=now,
                    finished_at=now,
                    duration_s=0.0,
                    error_code="E_JOB_OVERLAP",
                    error_message=message,
                    exit_code=0,
                    log=JobRun.log + f"{clock.fmt(now, seconds=True)} {message}\n",
                ).where(JobRun.id == run_id).execute()
                ScheduleClaim.update(outcome="skipped-overlap").where(ScheduleClaim.run == run_id).execute()
                return "skipped", other.id
            return "busy", other.id
        JobRun.update(status="running", started_at=now, heartbeat_at=now, worker_id=runs.worker_id(), pid=_pid()).where(
            (JobRun.id == run_id) & (JobRun.status == "queued")
        ).execute()
        Job.update(last_run_at=now).where(Job.id == job.id).execute()
        return "claimed", None


def _pid() -> int:
    import os

    return os.getpid()


@retry_busy
def _cancel(run_id: int, message: str) -> None:
    now = utc_now()
    with db.atomic():
        JobRun.update(
            status="cancelled",
            finished_at=now,
            error_code="E_JOB_CANCELLED",
            error_message=message,
            log=JobRun.log + f"{clock.fmt(now, seconds=True)} {message}\n",
        ).where((JobRun.id == run_id) & (JobRun.status == "queued")).execute()


# ------------------------------------------------------------------ execute


def execute(run_id: int) -> dict:
    """Run a queued job run in this process; returns the run as a dict. Never raises for job failures."""
    run = JobRun.get_or_none(JobRun.id == run_id)
    if run is None:
        logger.warning("job run %s no longer exists", run_id)
        return {"id": run_id, "status": "gone"}
    if run.status != "queued":
        return runs.run_dict(run, full=True)  # a duplicate delivery, or already recovered
    job = Job.get_or_none(Job.id == run.job_id) if run.job_id else None
    if job is None:
        _cancel(run.id, "cancelled: the job was deleted before this run started")
        return runs.run_dict(JobRun.get_by_id(run.id), full=True)
    if run.trigger in ("schedule", "catch-up") and (job.paused or not job.enabled):
        _cancel(run.id, "cancelled: the job was paused before this scheduled run started")
        return runs.run_dict(JobRun.get_by_id(run.id), full=True)

    state, other = _claim(run.id, job)
    if state == "busy":
        from batchops.queue import app
        from batchops.services import tasks

        if app.immediate_mode():
            _cancel(run.id, f"cancelled: run {other} of this job is still running")
        else:
            tasks.enqueue_job(run.id, delay=DEFER_SECONDS)
            logger.info("run %s waits for run %s of job %s", run.id, other, job.name)
        return runs.run_dict(JobRun.get_by_id(run.id), full=True)
    if state != "claimed":
        return runs.run_dict(JobRun.get_by_id(run.id), full=True)
    return _run_claimed(JobRun.get_by_id(run.id), job)


def _call(func, args, kwargs, ctx: JobContext, box: dict) -> None:
    job_context.bind(ctx)
    try:
        with db.connection_context():
            box["result"] = func(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
        box["error"] = exc
        box["traceback"] = traceback.format_exc(limit=8)
    finally:
        job_context.bind(None)


def _as_error(exc: BaseException) -> BatchOpsError:
    if isinstance(exc, BatchOpsError):
        if isinstance(exc, JobError):
            return exc
        return JobError(exc.message, code=exc.code)  # an input error inside a job is still a failed job
    full = disk_full(exc)
    if full is not None:
        return JobError(full.message, code=full.code)
    return JobError(f"{exc.__class__.__name__}: {exc}", code="E_JOB_FAILED")


def _save_log(run_id: int, ctx: JobContext) -> None:
    def change():
        JobRun.update(log="\n".join(ctx.lines)[-MAX_LOG_CHARS:] + "\n", heartbeat_at=utc_now()).where(
            (JobRun.id == run_id) & (JobRun.status == "running")
        ).execute()

    try:
        write(change)
    except Exception:  # noqa: BLE001 - a missed beat is not worth failing the run
        logger.exception("could not save progress of run %s", run_id)


def _run_claimed(run: JobRun, job: Job) -> dict:
    cfg = context.config()
    timeout = float(job.timeout_s or 0) or 86400.0
    ctx = JobContext(run_id=run.id, job_name=job.name, timeout_s=timeout, deadline=time.monotonic() + timeout)
    what = f"run {run.id} of job {job.name!r} ({job.callable}), attempt {run.attempt}, trigger {run.trigger}"
    if run.catch_up:
        what += f", catch-up for {clock.fmt(run.fire_time, job.timezone)}"
    ctx.lines.append(f"{clock.fmt(utc_now(), seconds=True)} start {what}")
    box: dict = {}
    try:
        from batchops.automation import registry

        func = registry.resolve(job.callable)
    except BatchOpsError as exc:
        box["error"] = exc
    else:
        thread = threading.Thread(
            target=_call,
            args=(func, list(job.args or []), dict(job.kwargs or {}), ctx, box),
            name=f"job-{run.id}",
            daemon=True,
        )
        thread.start()
        beat = max(0.2, float(cfg.worker.heartbeat_seconds))
        while thread.is_alive():
            thread.join(min(beat, max(0.01, ctx.remaining())))
            if not thread.is_alive():
                break
            if ctx.remaining() <= 0:
                ctx.cancelled.set()
                thread.join(0.5)  # a cooperative callable stops at its next check_deadline()
                box.pop("result", None)
                box["error"] = JobError(f"the job ran longer than its timeout of {timeout:g} s", code="E_JOB_TIMEOUT")
                if thread.is_alive():
                    ctx.lines.append(
                        f"{clock.fmt(utc_now(), seconds=True)} the callable did not stop; "
                        "it was abandoned (its result will be ignored)"
                    )
                break
            _save_log(run.id, ctx)

    if "error" not in box:
        return _succeeded(run, job, ctx, box.get("result"))
    return _failed(run, job, ctx, box["error"], box.get("traceback"))


def _storable_result(value):
    """A callable's result as the run keeps it: a dict, or {"value": ...} (its repr when not JSON)."""
    import json

    if value is None:
        return None
    try:
        json.dumps(value, default=str)
    except (TypeError, ValueError):
        return {"value": repr(value)[:2000]}
    return value if isinstance(value, dict) else {"value": value}


def _succeeded(run: JobRun, job: Job, ctx: JobContext, result) -> dict:
    from batchops.services import failures

    ctx.lines.append(f"{clock.fmt(utc_now(), seconds=True)} succeeded")

    def change():
        done = runs.finish(
            run.id,
            "succeeded",
            exit_code=0,
            result=_storable_result(result),
            log="\n".join(ctx.lines)[-MAX_LOG_CHARS:] + "\n",
            error_code=None,
            error_message=None,
        )
        Job.update(last_status="succeeded", last_success_at=utc_now()).where(Job.id == job.id).execute()
        return done

    done = write(change)
    failures.handle_success(done)
    return runs.run_dict(done, full=True)


def _failed(run: JobRun, job: Job, ctx: JobContext, exc: BaseException, tb: str | None) -> dict:
    error = _as_error(exc)
    ctx.lines.append(f"{clock.fmt(utc_now(), seconds=True)} FAILED {error.code}: {error.message}")
    if tb and not isinstance(exc, BatchOpsError):
        ctx.lines.append(tb.rstrip())

    def change():
        done = runs.finish(
            run.id,
            "failed",
            exit_code=1,
            error_code=error.code,
            error_message=error.message,
            log="\n".join(ctx.lines)[-MAX_LOG_CHARS:] + "\n",
        )
        Job.update(last_status="failed").where(Job.id == job.id).execute()
        return done

    done = write(change)
    from batchops.services import failures

    failures.handle_failure(
        done, error
    )  # never raises; it schedules the retry (a run it missed: runs.triage_untriaged)
    return runs.run_dict(done, full=True)
