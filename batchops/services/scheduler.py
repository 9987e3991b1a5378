"""Which stored Jobs are due, dispatched exactly once per fire time.

``dispatch_due(now)`` runs on every scheduler tick (a Huey periodic task that
fires once a minute in each consumer). The store is the single source of truth:
for every enabled, un-paused Job whose ``next_run_at`` has come, it works out
the fire times since then with croniter *in the job's own zone* (stored in
UTC), claims each one it acts on with a ``ScheduleClaim`` row - UNIQUE(job,
fire_time), so with several consumers exactly one wins (the loser gets an
IntegrityError and moves on) - and advances ``next_run_at``.

A fire time is *on time* when it is at most ``grace`` old (two ticks plus 30 s);
older ones were *missed* (no worker was running). Missed fires follow the job's
policy, within its maximum lateness:

* ``skip`` - none are run;
* ``once`` (default) - the latest missed fire runs once, as a catch-up, unless an
  on-time fire runs anyway;
* ``all`` - every missed fire within the window runs, oldest first.

Catch-up runs have ``catch_up=True`` and trigger ``catch-up``. Missed fires not
run are recorded (claims with outcome ``skipped-missed`` and one ``skipped`` run
saying how many), so a silent gap never goes unnoticed. A fire that finds the
job's previous run still queued or running is recorded as a ``skipped`` run
(``E_JOB_OVERLAP``): a job never overlaps itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import peewee

from batchops import clock
from batchops.clock import as_utc, utc_now
from batchops.errors import BatchOpsError
from batchops.services import runs
from batchops.store.db import db, lock, retry_busy
from batchops.store.models import Job, JobRun, ScheduleClaim

logger = logging.getLogger("batchops.scheduler")

MAX_RECORDED_SKIPS = (
    500  # claims written for skipped missed fires per dispatch (the count is always exact up to 10,000)
)


def grace_seconds() -> float:
    from batchops.queue.app import tick_seconds

    return 2 * tick_seconds() + 30


@dataclass
class Dispatch:
    job_id: int
    job_name: str
    enqueued: list[int] = field(default_factory=list)  # run ids
    skipped: list[int] = field(default_factory=list)  # run ids recorded as skipped
    missed: int = 0
    lost_race: int = 0  # fire times another dispatcher claimed first
    next_run_at: datetime | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "job_id": self.job_id,
            "job_name": self.job_name,
            "enqueued": self.enqueued,
            "skipped": self.skipped,
            "missed": self.missed,
            "lost_race": self.lost_race,
            "next_run_at": clock.iso(self.next_run_at),
            "error": self.error,
        }


def _plan(job: Job, now: datetime, grace: float) -> tuple[list[tuple[datetime, bool]], list[datetime], int]:
    """(fires to run as (time, catch_up), missed fires to record as skipped, count of older missed fires)."""
    from batchops.cron import fire_times_between

    start = as_utc(job.next_run_at)
    lateness = timedelta(minutes=max(0, job.max_lateness_min or 0))
    window_start = now - max(lateness, timedelta(seconds=grace))
    lower = start - timedelta(seconds=1)  # fire times are whole minutes: (start - 1 s, x] includes start
    too_old = 0
    if start <= window_start:  # beyond any window: only counted (capped), never a month of minutes in memory
        too_old = len(fire_times_between(job.cron, job.timezone, lower, window_start, limit=10000))
        lower = window_start
    due = fire_times_between(job.cron, job.timezone, lower, now, limit=10000)
    on_time = [t for t in due if (now - t).total_seconds() <= grace]
    missed = [t for t in due if (now - t).total_seconds() > grace]  # all within the lateness window here

    run: list[tuple[datetime, bool]] = []
    if on_time:
        run.append((on_time[-1], False))
    policy = job.misfire_policy
    if policy == "all":
        run = [(t, True) for t in missed] + run
    elif policy == "once" and missed and not on_time:
        run = [(missed[-1], True)]
    chosen = {t for t, _ in run}
    skipped = [t for t in due if t not in chosen]
    return run, skipped, too_old


def _busy_run(job_id: int) -> JobRun | None:
    return (
        JobRun.select(JobRun.id, JobRun.status)
        .where((JobRun.job == job_id) & (JobRun.status.in_(("queued", "running"))))
        .order_by(JobRun.id)
        .first()
    )


def _claim(job: Job, fire: datetime, who: str, outcome: str) -> ScheduleClaim | None:
    try:
        with db.atomic():  # a savepoint: a lost race must not spoil the outer transaction (PostgreSQL)
            return ScheduleClaim.create(job=job.id, fire_time=fire, claimed_by=who, outcome=outcome)
    except peewee.IntegrityError:
        return None


def _skipped_run(job: Job, fire: datetime | None, code: str, message: str, catch_up: bool) -> JobRun:
    now = utc_now()
    return JobRun.create(
        kind="job",
        job=job.id,
        job_name=job.name,
        trigger="catch-up" if catch_up else "schedule",
        status="skipped",
        fire_time=fire,
        catch_up=catch_up,
        error_code=code,
        error_message=message,
        exit_code=0,
        started_at=now,
        finished_at=now,
        duration_s=0.0,
        log=f"{clock.fmt(now, seconds=True)} {message}\n",
    )


@retry_busy
def _dispatch_job(job_id: int, now: datetime, grace: float, who: str) -> tuple[Dispatch, list[int]]:
    from batchops.cron import next_fire_time
    from batchops.services.job_runs import job_lock

    with db.atomic():  # IMMEDIATE: dispatchers in other processes wait here, then see our claims
        lock(job_lock(job_id))  # PostgreSQL: the same wait, per job (claims of its runs take it too)
        job = Job.get_or_none(Job.id == job_id)
        result = Dispatch(job_id, job.name if job else "?")
        if job is None or job.paused or not job.enabled or job.next_run_at is None or as_utc(job.next_run_at) > now:
            return result, []  # changed since we listed it, or another dispatcher got here first
        to_run, skipped, too_old = _plan(job, now, grace)
        to_enqueue: list[int] = []
        busy = _busy_run(job.id)
        for fire, catch_up in to_run:
            claim = _claim(job, fire, who, "enqueued")
            if claim is None:
                result.lost_race += 1
                continue
            if busy is not None:
                message = (
                    f"skipped the {clock.fmt(fire, job.timezone)} fire: run {busy.id} of this job is still "
                    f"{busy.status} (a job never overlaps itself)"
                )
                skipped_run = _skipped_run(job, fire, "E_JOB_OVERLAP", message, catch_up)
                ScheduleClaim.update(outcome="skipped-overlap", run=skipped_run.id).where(
                    ScheduleClaim.id == claim.id
                ).execute()
                result.skipped.append(skipped_run.id)
                continue
            run = runs.create_run(
                "job", job=job, trigger="catch-up" if catch_up else "schedule", fire_time=fire, catch_up=catch_up
            )
            ScheduleClaim.update(run=run.id).where(ScheduleClaim.id == claim.id).execute()
            to_enqueue.append(run.id)
            result.enqueued.append(run.id)  # several only under policy "all": the runner runs them in turn
        recorded = 0
        for fire in skipped[-MAX_RECORDED_SKIPS:]:
            if _claim(job, fire, who, "skipped-missed") is not None:
                recorded += 1
        result.missed = recorded + too_old
        if result.missed:
            latest = skipped[-1] if skipped else None
            message = (
                f"{result.missed} fire time(s) missed while no worker was running were not run "
                f"(policy {job.misfire_policy}, max lateness {job.max_lateness_min} min)"
            )
            summary = _skipped_run(job, latest, "E_MISSED_RUNS", message, True)
            result.skipped.append(summary.id)
        result.next_run_at = next_fire_time(job.cron, job.timezone, now)
        Job.update(next_run_at=result.next_run_at).where(Job.id == job.id).execute()
    return result, to_enqueue


def dispatch_due(now: datetime | None = None, who: str | None = None) -> list[dict]:
    """Enqueue every due job run once; returns what was done per job (for logs and tests)."""
    from batchops import context
    from batchops.services import tasks

    if context.config().read_only:
        return []
    now = as_utc(now) or utc_now()
    who = who or runs.worker_id()
    grace = grace_seconds()
    _fill_missing_next_run()
    due = [
        j.id
        for j in Job.select(Job.id)
        .where(Job.enabled & ~Job.paused & Job.next_run_at.is_null(False) & (Job.next_run_at <= now))
        .order_by(Job.id)
    ]
    out = []
    for job_id in due:
        try:
            result, to_enqueue = _dispatch_job(job_id, now, grace, who)
        except (BatchOpsError, ValueError, KeyError) as exc:  # a bad cron/zone edited in by hand: pause it
            result, to_enqueue = _pause_broken(job_id, exc), []
        for run_id in to_enqueue:
            tasks.enqueue_job(run_id)
        if result.enqueued or result.skipped or result.error:
            logger.info("dispatch %s", result.to_dict())
        out.append(result.to_dict())
    return out


@retry_busy
def _pause_broken(job_id: int, exc: Exception) -> Dispatch:
    reason = f"paused by the scheduler: {exc}"
    with db.atomic():
        Job.update(paused=True, paused_reason=reason[:1000], updated_at=utc_now()).where(Job.id == job_id).execute()
    job = Job.get_or_none(Job.id == job_id)
    logger.error("job %s: %s", job_id, reason)
    return Dispatch(job_id, job.name if job else "?", error=reason)


@retry_busy
def _fill_missing_next_run() -> None:
    """A job inserted without next_run_at (by hand, or an old store) gets one from now on."""
    from batchops.cron import next_fire_time

    missing = list(Job.select().where(Job.enabled & ~Job.paused & Job.next_run_at.is_null(True)))
    for job in missing:
        try:
            nxt = next_fire_time(job.cron, job.timezone)
        except Exception:  # noqa: BLE001 - left for _pause_broken on a later pass
            continue
        with db.atomic():
            Job.update(next_run_at=nxt).where((Job.id == job.id) & Job.next_run_at.is_null(True)).execute()
