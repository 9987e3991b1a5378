"""scheduler.dispatch_due: due jobs, exactly-once claims, missed-run policies, overlap, DST."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc


@pytest.fixture
def enqueued(monkeypatch):
    """Record enqueue_job calls instead of running the jobs."""
    from batchops.services import tasks

    calls = []
    monkeypatch.setattr(tasks, "enqueue_job", lambda run_id, delay=None: calls.append((run_id, delay)))
    return calls


def _job(name="tick-job", cron="0 * * * *", tz="UTC", policy="once", lateness=240, next_run_at=None, **extra):
    from batchops.services import jobs
    from batchops.store.models import Job

    job = jobs.add_job(
        name, "worker_helpers:noop", cron, timezone=tz, misfire_policy=policy, max_lateness_min=lateness, **extra
    )
    if next_run_at is not None:
        Job.update(next_run_at=next_run_at).where(Job.id == job["id"]).execute()
    return Job.get_by_id(job["id"])


def _runs(job):
    from batchops.store.models import JobRun

    return list(JobRun.select().where(JobRun.job == job.id).order_by(JobRun.id))


def _claims(job):
    from batchops.store.models import ScheduleClaim

    return list(ScheduleClaim.select().where(ScheduleClaim.job == job.id).order_by(ScheduleClaim.fire_time))


def _finish_all():
    from batchops.store.models import JobRun

    JobRun.update(status="succeeded").where(JobRun.status.in_(("queued", "running"))).execute()


def _pause_seeded():
    from batchops.store.models import Job

    Job.update(paused=True).where(~Job.callable.startswith("worker_helpers")).execute()


def test_on_time_fire_is_dispatched_once_and_next_run_advances(wctx, enqueued):
    from batchops.services.scheduler import dispatch_due

    _pause_seeded()
    fire = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    job = _job(next_run_at=fire)
    out = dispatch_due(fire + timedelta(seconds=20))
    assert [o["job_name"] for o in out] == ["tick-job"]
    runs = _runs(job)
    assert len(runs) == 1 and runs[0].trigger == "schedule" and not runs[0].catch_up
    assert runs[0].fire_time == fire and runs[0].status == "queued"
    assert enqueued == [(runs[0].id, None)]
    assert [c.outcome for c in _claims(job)] == ["enqueued"] and _claims(job)[0].run_id == runs[0].id
    from batchops.store.models import Job

    assert Job.get_by_id(job.id).next_run_at == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    # the same tick again (a second consumer): nothing new
    assert dispatch_due(fire + timedelta(seconds=25)) == []
    assert len(_runs(job)) == 1


def test_not_due_paused_and_disabled_jobs_are_left_alone(wctx, enqueued):
    from batchops.services import jobs
    from batchops.services.scheduler import dispatch_due

    _pause_seeded()
    now = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)
    _job("future", next_run_at=now + timedelta(minutes=30))
    paused = _job("paused", next_run_at=now - timedelta(seconds=30))
    jobs.pause_job(paused.id)
    assert dispatch_due(now) == [] and enqueued == []


@pytest.mark.parametrize(
    "policy, expect",
    [
        ("skip", []),
        ("once", [("catch-up", "10:00")]),
        ("all", [("catch-up", "07:00"), ("catch-up", "08:00"), ("catch-up", "09:00"), ("catch-up", "10:00")]),
    ],
)
def test_missed_run_policies(wctx, enqueued, policy, expect):
    from batchops.services.scheduler import dispatch_due

    _pause_seeded()
    job = _job(policy=policy, lateness=240, next_run_at=datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    dispatch_due(datetime(2026, 3, 2, 10, 20, tzinfo=UTC))  # the worker was down 07:00-10:20
    runs = _runs(job)
    queued = [(r.trigger, f"{r.fire_time:%H:%M}") for r in runs if r.status == "queued"]
    assert queued == expect
    assert all(r.catch_up for r in runs if r.status == "queued")
    skipped = [r for r in runs if r.status == "skipped"]
    missed_not_run = 4 - len(expect)
    if missed_not_run:
        assert len(skipped) == 1 and skipped[0].error_code == "E_MISSED_RUNS"
        assert f"{missed_not_run} fire time(s) missed" in skipped[0].error_message
    else:
        assert skipped == []
    outcomes = sorted(c.outcome for c in _claims(job))
    assert outcomes.count("skipped-missed") == missed_not_run and outcomes.count("enqueued") == len(expect)


def test_missed_runs_beyond_max_lateness_are_only_counted(wctx, enqueued):
    from batchops.services.scheduler import dispatch_due

    _pause_seeded()
    job = _job(policy="all", lateness=90, next_run_at=datetime(2026, 2, 20, 0, 0, tzinfo=UTC))
    dispatch_due(datetime(2026, 3, 2, 10, 20, tzinfo=UTC))  # ten days down
    runs = _runs(job)
    assert [f"{r.fire_time:%H:%M}" for r in runs if r.status == "queued"] == ["09:00", "10:00"]
    summary = [r for r in runs if r.status == "skipped"]
    assert len(summary) == 1 and summary[0].error_message.startswith(
        f"{10 * 24 + 9} fire time(s)"
    )  # Feb 20 00:00 .. Mar 2 08:00


def test_on_time_fire_wins_over_catch_up_with_policy_once(wctx, enqueued):
    from batchops.services.scheduler import dispatch_due

    _pause_seeded()
    job = _job(cron="*/10 * * * *", policy="once", next_run_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    dispatch_due(datetime(2026, 3, 2, 10, 0, 40, tzinfo=UTC))
    queued = [r for r in _runs(job) if r.status == "queued"]
    assert [(r.trigger, r.catch_up, f"{r.fire_time:%H:%M}") for r in queued] == [("schedule", False, "10:00")]


def test_fire_while_previous_run_is_running_is_recorded_as_skipped(wctx, enqueued):
    from batchops.services import runs
    from batchops.services.scheduler import dispatch_due
    from batchops.store.models import JobRun

    _pause_seeded()
    fire = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    job = _job(next_run_at=fire)
    previous = runs.create_run("job", job=job, trigger="schedule")
    JobRun.update(status="running").where(JobRun.id == previous.id).execute()
    dispatch_due(fire + timedelta(seconds=10))
    new = [r for r in _runs(job) if r.id != previous.id]
    assert len(new) == 1 and new[0].status == "skipped" and new[0].error_code == "E_JOB_OVERLAP"
    assert f"run {previous.id}" in new[0].error_message
    assert [c.outcome for c in _claims(job)] == ["skipped-overlap"]
    assert enqueued == []


def test_daylight_saving_fires_in_the_jobs_zone(wctx, enqueued):
    """Europe/Berlin 30 2 * * *: 03:00 local on the spring-forward day, twice on the fall-back day."""
    from batchops.services.scheduler import dispatch_due

    _pause_seeded()
    job = _job(cron="30 2 * * *", tz="Europe/Berlin", next_run_at=datetime(2025, 3, 30, 1, 0, tzinfo=UTC))
    dispatch_due(datetime(2025, 3, 30, 1, 0, 30, tzinfo=UTC))
    from batchops.store.models import Job

    job = Job.get_by_id(job.id)
    assert job.next_run_at == datetime(2025, 3, 31, 0, 30, tzinfo=UTC)
    Job.update(next_run_at=datetime(2025, 10, 26, 0, 30, tzinfo=UTC)).where(Job.id == job.id).execute()
    _finish_all()
    dispatch_due(datetime(2025, 10, 26, 0, 30, 20, tzinfo=UTC))
    assert Job.get_by_id(job.id).next_run_at == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)
    _finish_all()
    dispatch_due(datetime(2025, 10, 26, 1, 30, 20, tzinfo=UTC))
    fires = [r.fire_time for r in _runs(job) if r.trigger == "schedule"]
    assert fires == [
        datetime(2025, 3, 30, 1, 0, tzinfo=UTC),
        datetime(2025, 10, 26, 0, 30, tzinfo=UTC),
        datetime(2025, 10, 26, 1, 30, tzinfo=UTC),
    ]


def test_a_broken_job_is_paused_with_the_reason(wctx, enqueued):
    from batchops.services.scheduler import dispatch_due
    from batchops.store.models import Job

    _pause_seeded()
    job = _job(next_run_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    Job.update(cron="99 * * * *").where(Job.id == job.id).execute()  # edited by hand behind our back
    out = dispatch_due(datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC))
    assert out[0]["error"]
    job = Job.get_by_id(job.id)
    assert job.paused and "paused by the scheduler" in job.paused_reason


def test_editing_a_job_changes_the_next_tick(wctx, enqueued):
    from batchops.services import jobs
    from batchops.services.scheduler import dispatch_due

    _pause_seeded()
    job = _job(cron="0 * * * *")
    edited = jobs.edit_job(job.id, cron="* * * * *")
    fire = edited["next_run_at"]
    assert (fire - datetime.now(UTC)).total_seconds() <= 60
    dispatch_due(fire + timedelta(seconds=5))
    assert [r.fire_time for r in _runs(job)] == [fire]


DISPATCH_SCRIPT = r"""
import sys, time
from datetime import datetime, timezone
from batchops import context
from batchops.services.setup import configure
configure()
from batchops.services.scheduler import dispatch_due
start_at, now = float(sys.argv[1]), datetime.fromisoformat(sys.argv[2])
while time.time() < start_at:
    time.sleep(0.001)
for _ in range(3):
    dispatch_due(now, who=f"proc-{sys.argv[3]}")
"""


@pytest.mark.slow
def test_exactly_once_with_concurrent_dispatchers_in_four_processes(wctx):
    """Four processes dispatch the same fire time of six jobs at the same instant: six runs, each run once."""
    from workerlib import worker_env

    from batchops.store.models import JobRun, ScheduleClaim

    _pause_seeded()
    fire = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    jobs = [_job(f"job-{i}", next_run_at=fire) for i in range(6)]
    env = worker_env(wctx.home, wctx.config_path, BATCHOPS_QUEUE_IMMEDIATE="1")
    start_at = time.time() + 3.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DISPATCH_SCRIPT, str(start_at), (fire + timedelta(seconds=15)).isoformat(), str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    for job in jobs:
        claims = _claims(job)
        assert [(c.fire_time, c.outcome) for c in claims] == [(fire, "enqueued")]
        runs = _runs(job)
        assert len(runs) == 1 and runs[0].status == "succeeded"  # immediate mode: run by its dispatcher
    assert ScheduleClaim.select().count() == 6
    winners = {c.claimed_by for c in ScheduleClaim.select()}
    assert winners <= {f"proc-{i}" for i in range(4)}
    assert JobRun.select().where(JobRun.kind == "job").count() == 6
