"""Job runs: create, record progress, list (keyset-paged), show, recover the stranded.

A run belongs to whichever process claims it (``worker_id`` = host:pid:uuid,
new in every process, so two containers that are both "pid 1 on host web"
never share one) and proves it is alive through ``heartbeat_at``. A run whose
owner died is failed with ``E_WORKER_LOST`` by ``recover_stale`` and handed to
triage, so no upload stays ``processing`` forever.

Who is lost is decided from heartbeats, stamped and compared in the database
server's time (``clock.utc_now``). Only on SQLite - one machine by definition -
a dead process id on this host also counts at once.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from peewee import JOIN

from batchops import context
from batchops.clock import utc_now
from batchops.redact import redact, redact_data
from batchops.services.common import as_id, before_bound, check_filter, get_record, row_dict
from batchops.services.workers import pid_alive
from batchops.store.db import atomic, db, is_sqlite, retry_busy
from batchops.store.models import RUN_KINDS, RUN_STATUSES, Job, JobRun, Upload

LIGHT_FIELDS = [f for name, f in JobRun._meta.fields.items() if name not in ("log", "findings", "steps", "result")]


_process_id: str | None = None


def worker_id() -> str:
    """This process's identity: host:pid for people, a uuid for uniqueness (new after a fork too)."""
    global _process_id
    if _process_id is None:
        _process_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:16]}"
    return _process_id


def _forget_process_id() -> None:
    global _process_id
    _process_id = None


os.register_at_fork(after_in_child=_forget_process_id)


def host_of(owner: str | None) -> str | None:
    return owner.split(":", 1)[0] if owner else None


def dead_here(owner: str | None, pid: int | None) -> bool:
    """SQLite only: the owner ran on this host and its process is gone (no need to wait for heartbeats)."""
    return is_sqlite() and host_of(owner) == socket.gethostname() and not pid_alive(pid)


def run_dict(run: JobRun, full: bool = False) -> dict:
    exclude = () if full else ("log", "findings", "steps", "result")
    out = row_dict(run, exclude=exclude)
    if run.upload_id is not None:
        out["upload_name"] = getattr(run, "upload_name", None) or _upload_name(run.upload_id)
    return out


def _upload_name(upload_id: int) -> str | None:
    row = Upload.select(Upload.original_name).where(Upload.id == upload_id).first()
    return row.original_name if row else None


@retry_busy
def create_run(
    kind: str,
    *,
    upload_id: int | None = None,
    job: Job | None = None,
    trigger: str = "cli",
    attempt: int = 1,
    fire_time=None,
    catch_up: bool = False,
) -> JobRun:
    with atomic():
        return JobRun.create(
            kind=kind,
            upload=upload_id,
            job=job,
            job_name=job.name if job else None,
            trigger=trigger,
            attempt=attempt,
            fire_time=fire_time,
            catch_up=catch_up,
            status="queued",
        )


@retry_busy
def mark_running(run_id: int, owner: str | None = None) -> None:
    now = utc_now()
    with db.atomic():
        JobRun.update(
            status="running", started_at=now, heartbeat_at=now, worker_id=owner or worker_id(), pid=os.getpid()
        ).where(JobRun.id == run_id).execute()


@retry_busy
def heartbeat(run_id: int) -> None:
    with db.atomic():
        JobRun.update(heartbeat_at=utc_now()).where((JobRun.id == run_id) & (JobRun.status == "running")).execute()


@retry_busy
def save_progress(run_id: int, steps: list[dict], log: str) -> None:
    """Steps so far and the log of a running run (a late save after the run finished changes nothing)."""
    with db.atomic():
        JobRun.update(steps=steps, log=redact(log), heartbeat_at=utc_now()).where(
            (JobRun.id == run_id) & (JobRun.status == "running")
        ).execute()


@retry_busy
def finish(run_id: int, status: str, started_at=None, **fields) -> JobRun:
    """Record the outcome; ``started_at`` (when the caller claimed the run) saves reading it back."""
    now = utc_now()
    for key in ("log", "error_message", "result"):  # a traceback or a library's message can carry a password
        if key in fields:
            fields[key] = redact_data(fields[key])
    with atomic():
        if started_at is None:
            run = JobRun.get_by_id(run_id)
            started_at = run.started_at or run.queued_at
        JobRun.update(status=status, finished_at=now, duration_s=(now - started_at).total_seconds(), **fields).where(
            JobRun.id == run_id
        ).execute()
    return JobRun.get_by_id(run_id)


@retry_busy
def abandon(run_id: int, reason: str, upload_status: str | None = None) -> None:
    """A run that never started (it could not be queued): cancel it and give the upload back
    its ``upload_status``; an upload with none to go back to (it was new) fails with the same code."""
    reason = reason[:500]
    back = (
        {"status": upload_status}
        if upload_status
        else {"status": "failed", "error_code": "E_QUEUE_UNAVAILABLE", "error_message": reason}
    )
    with db.atomic():
        JobRun.update(
            status="cancelled", finished_at=utc_now(), error_code="E_QUEUE_UNAVAILABLE", error_message=reason
        ).where(JobRun.id == run_id).execute()
        Upload.update(updated_at=utc_now(), **back).where(
            Upload.id == JobRun.select(JobRun.upload).where(JobRun.id == run_id)
        ).execute()


def get_run(ident) -> JobRun:
    return get_record(JobRun, ident, "run")


def list_runs(
    status: str | None = None,
    kind: str | None = None,
    upload_id: int | None = None,
    job_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict]:
    """Newest first; ``before_id`` pages by key, so the 100,000th page costs what the first does."""
    check_filter(status, RUN_STATUSES, "run status")
    check_filter(kind, RUN_KINDS, "run kind")
    query = (
        JobRun.select(*LIGHT_FIELDS, Upload.original_name.alias("upload_name"))
        .join(Upload, on=(JobRun.upload == Upload.id), join_type=JOIN.LEFT_OUTER)
        .order_by(JobRun.id.desc())
        .limit(max(1, min(limit, 10000)))
    )
    if status:
        query = query.where(JobRun.status == status)
    if kind:
        query = query.where(JobRun.kind == kind)
    if upload_id:
        query = query.where(JobRun.upload == as_id(upload_id, "upload"))
    if job_id:
        query = query.where(JobRun.job == as_id(job_id, "job"))
    if before_id:
        query = query.where(JobRun.id < before_bound(before_id))
    return [run_dict(r) for r in query.objects()]


def show_run(ident) -> dict:
    return run_dict(get_run(ident), full=True)


def is_orphaned(run: JobRun, now=None, lost_after: float | None = None) -> bool:
    """No heartbeat for ``lost_after`` seconds (or, on SQLite, a dead owner on this host)."""
    lost_after = lost_after if lost_after is not None else context.config().worker.lost_after_seconds
    now = now or utc_now()
    if dead_here(run.worker_id, run.pid):
        return True
    beat = run.heartbeat_at or run.started_at or run.queued_at
    return (now - beat) > timedelta(seconds=lost_after)


@retry_busy
def _fail_lost(run: JobRun, message: str) -> int:
    with db.atomic():
        changed = (
            JobRun.update(
                status="failed",
                finished_at=utc_now(),
                error_code="E_WORKER_LOST",
                error_message=message,
                exit_code=1,
                log=JobRun.log + f"\nrecovered: {message}\n",
            )
            .where((JobRun.id == run.id) & (JobRun.status == "running"))
            .execute()
        )
        if changed and run.upload_id:
            Upload.update(
                status="failed", error_code="E_WORKER_LOST", error_message=message, updated_at=utc_now()
            ).where((Upload.id == run.upload_id) & (Upload.status == "processing")).execute()
    return changed


def queued_without_task(min_age_s: float, task_run_ids) -> dict[int, str]:
    """Runs ``queued`` for more than ``min_age_s`` seconds whose id ``task_run_ids()`` does not name.

    ``task_run_ids`` is a callable giving the run ids that have a task in the queue
    (pending or scheduled); it is only called when some run is old enough to ask
    about. Returns {run id: kind} of the lost ones; nothing in read-only mode.
    """
    if context.config().read_only:
        return {}
    cutoff = utc_now() - timedelta(seconds=min_age_s)
    stale = {
        r.id: r.kind
        for r in JobRun.select(JobRun.id, JobRun.kind).where((JobRun.status == "queued") & (JobRun.queued_at < cutoff))
    }
    if not stale:
        return {}
    known = set(task_run_ids())
    return {run_id: kind for run_id, kind in sorted(stale.items()) if run_id not in known}


@retry_busy
def put_back_interrupted(run_id: int) -> JobRun | None:
    """A run this process owns goes from ``running`` back to ``queued`` (its upload too).

    Returns the run when it was put back (the caller enqueues it again), None when
    it is not running here any more.
    """
    with db.atomic():
        run = JobRun.get_or_none(JobRun.id == run_id)
        if run is None:
            return None
        changed = (
            JobRun.update(
                status="queued",
                started_at=None,
                heartbeat_at=None,
                worker_id=None,
                pid=None,
                log=JobRun.log + f"\nre-queued at {utc_now():%Y-%m-%d %H:%M:%S} UTC: the worker "
                f"{worker_id()} stopped before this run finished\n",
            )
            .where((JobRun.id == run_id) & (JobRun.status == "running") & (JobRun.worker_id == worker_id()))
            .execute()
        )
        if not changed:
            return None
        if run.upload_id:
            Upload.update(status="queued", updated_at=utc_now()).where(
                (Upload.id == run.upload_id) & (Upload.status == "processing")
            ).execute()
        return run


def has_running() -> bool:
    """Is any run marked running (the cheap question before a recovery sweep)?"""
    return JobRun.select(JobRun.id).where(JobRun.status == "running").exists()


def recover_stale(lost_after: float | None = None) -> list[int]:
    """Fail every running run whose owner is gone; triage each. Returns their ids."""
    from batchops.errors import WorkError

    if context.config().read_only:
        return []
    recovered = []
    # Read them all first: a cursor still open pins its WAL snapshot, and BEGIN IMMEDIATE on a
    # pinned snapshot fails at once ("database is locked", busy_timeout cannot help) as soon as
    # any other process has committed since - every retry too, while the loop holds the cursor.
    running = list(JobRun.select().where(JobRun.status == "running"))
    for run in running:
        if not is_orphaned(run, lost_after=lost_after):
            continue
        message = f"the process running this ({run.worker_id or 'unknown'}) stopped without finishing"
        changed = _fail_lost(run, message)
        if changed:
            from batchops.services import failures  # only when there is something to triage

            recovered.append(run.id)
            failures.handle_failure(JobRun.get_by_id(run.id), WorkError(message, code="E_WORKER_LOST"))
    triage_untriaged(lost_after=lost_after)
    return recovered


UNTRIAGED_BUDGET_S = 2.0  # a sweep never holds up the command that runs it; the rest waits for the next


def triage_untriaged(lost_after: float | None = None, now=None, budget_s: float = UNTRIAGED_BUDGET_S) -> list[int]:
    """Triage failed runs that never reached triage; returns their ids.

    A process killed between recording a run's failure and triaging it (two transactions)
    left a failed upload with no incident, and nothing would ever look at it again. A run
    counts as triaged once an incident event names it (open, occurrence, re-open); one whose
    owner is still alive on this host is left to it for ``lost_after`` seconds. The sweep
    stops after ``budget_s`` seconds (every command's start-up runs it).
    """
    import time

    from peewee import fn

    from batchops.store.models import IncidentEvent

    lost_after = lost_after if lost_after is not None else context.config().worker.lost_after_seconds
    now = now or utc_now()
    named = IncidentEvent.select(IncidentEvent.id).where(IncidentEvent.run == JobRun.id)
    candidates = list(
        JobRun.select().where(  # pid: only runs a process actually claimed and ran
            (JobRun.status == "failed")
            & (JobRun.queued_at >= now - timedelta(days=1))
            & JobRun.pid.is_null(False)
            & ~fn.EXISTS(named)
        )
    )
    done = []
    deadline = time.monotonic() + budget_s
    for run in candidates:
        if time.monotonic() > deadline:
            break
        finished = run.finished_at or run.queued_at
        if (now - finished) <= timedelta(seconds=lost_after) and not dead_here(run.worker_id, run.pid):
            continue  # its owner may be triaging it right now
        later = JobRun.select(JobRun.id).where(
            (JobRun.id > run.id)
            & (JobRun.status == "succeeded")
            & ((JobRun.upload == run.upload_id) if run.upload_id else (JobRun.job == run.job_id))
        )
        if (run.upload_id or run.job_id) and later.exists():
            continue  # fixed since: an incident now would be noise
        from batchops.services import failures  # only when there is something to triage

        if failures.handle_failure(run, None) is not None:
            done.append(run.id)
    return done
