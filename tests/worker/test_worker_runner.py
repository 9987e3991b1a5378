"""services.job_runs: success, failure + triage, timeout, overlap, retries, run-time registry check."""

from __future__ import annotations

import pytest


def _job(name, func, **extra):
    from batchops.services import jobs
    from batchops.store.models import Job

    data = jobs.add_job(name, func, "0 3 * * *", **extra)
    return Job.get_by_id(data["id"])


def _run(job, trigger="cli", attempt=1):
    from batchops.services import job_runs, runs

    run = runs.create_run("job", job=job, trigger=trigger, attempt=attempt)
    return job_runs.execute(run.id)


def test_success_records_result_log_and_job_state(wctx):
    from batchops.store.models import Job

    job = _job("echo", "worker_helpers:echo", kwargs={"x": 1})
    out = _run(job)
    assert out["status"] == "succeeded" and out["exit_code"] == 0
    assert out["result"] == {"args": [], "kwargs": {"x": 1}}
    assert "start run" in out["log"] and out["duration_s"] is not None
    job = Job.get_by_id(job.id)
    assert job.last_status == "succeeded" and job.last_success_at and job.last_run_at


def test_failure_is_recorded_and_triaged(wctx):
    from batchops.store.models import Incident, Job

    job = _job("boom", "worker_helpers:boom", kwargs={"message": "the printer is on fire"})
    out = _run(job)
    assert out["status"] == "failed" and out["exit_code"] == 1
    assert out["error_code"] == "E_JOB_FAILED" and "printer is on fire" in out["error_message"]
    assert "RuntimeError" in out["log"]  # the traceback is in the run log, not in front of the operator
    assert Job.get_by_id(job.id).last_status == "failed"
    incident = Incident.get_or_none(Incident.run == out["id"])
    assert incident is not None and incident.job_id == job.id


def test_success_after_failure_resolves_the_incident(wctx):
    from batchops.services import jobs
    from batchops.store.models import Incident

    job = _job("flaky", "worker_helpers:boom")
    failed = _run(job)
    incident = Incident.get(Incident.run == failed["id"])
    jobs.edit_job(job.id, callable="worker_helpers:noop", kwargs={})
    assert _run(job)["status"] == "succeeded"
    assert Incident.get_by_id(incident.id).state == "resolved"


def test_timeout_fails_with_e_job_timeout(wctx):
    import worker_helpers

    worker_helpers.RELEASE.clear()
    worker_helpers.FINISHED.clear()
    job = _job("slow", "worker_helpers:held", timeout_s=1)
    try:
        out = _run(job)
        # the runner gave up on the callable, which is still waiting (no clock in this proof)
        assert not worker_helpers.FINISHED.is_set()
    finally:
        worker_helpers.RELEASE.set()
    assert out["status"] == "failed" and out["error_code"] == "E_JOB_TIMEOUT"
    assert "abandoned" in out["log"]


def test_cooperative_callable_stops_at_its_deadline(wctx):
    job = _job("coop", "worker_helpers:cooperative", kwargs={"seconds": 5}, timeout_s=1)
    out = _run(job)
    assert out["status"] == "failed" and out["error_code"] == "E_JOB_TIMEOUT"
    assert "abandoned" not in out["log"]


def test_scheduled_run_never_overlaps_a_running_one(wctx):
    from batchops.services import runs
    from batchops.store.models import JobRun, ScheduleClaim

    job = _job("single", "worker_helpers:noop")
    busy = runs.create_run("job", job=job)
    JobRun.update(status="running").where(JobRun.id == busy.id).execute()
    scheduled = runs.create_run("job", job=job, trigger="schedule")
    ScheduleClaim.create(job=job.id, fire_time=busy.queued_at, run=scheduled.id)
    from batchops.services import job_runs

    out = job_runs.execute(scheduled.id)
    assert out["status"] == "skipped" and out["error_code"] == "E_JOB_OVERLAP"
    assert ScheduleClaim.get(ScheduleClaim.run == scheduled.id).outcome == "skipped-overlap"
    # a manual run waits its turn instead (re-queued with a delay; in immediate mode it is cancelled)
    manual = _run(job)
    assert manual["status"] == "cancelled" and f"run {busy.id}" in manual["error_message"]


def test_busy_manual_run_is_requeued_with_a_delay(wctx, monkeypatch):
    from batchops.queue import app
    from batchops.services import job_runs, runs, tasks
    from batchops.store.models import JobRun

    job = _job("wait", "worker_helpers:noop")
    busy = runs.create_run("job", job=job)
    JobRun.update(status="running").where(JobRun.id == busy.id).execute()
    calls = []
    monkeypatch.setattr(app, "immediate_mode", lambda: False)
    monkeypatch.setattr(tasks, "enqueue_job", lambda run_id, delay=None: calls.append((run_id, delay)))
    run = runs.create_run("job", job=job, trigger="retry", attempt=2)
    assert job_runs.execute(run.id)["status"] == "queued"
    assert calls == [(run.id, job_runs.DEFER_SECONDS)]


def test_failed_job_is_retried_with_backoff(wctx, monkeypatch):
    """Triage schedules the job's own retries (no known error matches) through jobs.reserve_run, which backs off."""
    from batchops.services import tasks
    from batchops.store.models import JobRun

    calls = []
    real = tasks.enqueue_job

    def record(run_id, delay=None):
        calls.append((run_id, delay))
        if not delay:
            real(run_id)

    monkeypatch.setattr(tasks, "enqueue_job", record)
    job = _job("retrying", "worker_helpers:boom", retries=2, retry_delay_s=30)
    first = _run(job)
    assert first["status"] == "failed"
    retry = JobRun.select().where((JobRun.job == job.id) & (JobRun.id != first["id"])).get()
    assert (retry.trigger, retry.attempt, retry.status) == ("retry", 2, "queued")
    assert calls[-1] == (retry.id, 30.0)
    from batchops.services import job_runs

    job_runs.execute(retry.id)  # attempt 2 fails too: attempt 3 waits twice as long
    third = JobRun.select().where(JobRun.job == job.id).order_by(JobRun.id.desc()).get()
    assert third.attempt == 3 and calls[-1] == (third.id, 60.0)


def test_unregistered_callable_is_refused_at_run_time(wctx):
    job = _job("helper", "worker_helpers:noop")
    wctx.reconfigure({"automation": {"allowed_modules": []}})
    out = _run(job)
    assert out["status"] == "failed" and out["error_code"] == "E_CALLABLE_NOT_REGISTERED"


def test_deleted_or_paused_job_runs_are_cancelled(wctx):
    from batchops.services import job_runs, jobs, runs

    job = _job("gone", "worker_helpers:noop")
    run = runs.create_run("job", job=job, trigger="schedule")
    jobs.pause_job(job.id)
    assert job_runs.execute(run.id)["status"] == "cancelled"
    run = runs.create_run("job", job=job)
    jobs.delete_job(job.id)
    out = job_runs.execute(run.id)
    assert out["status"] == "cancelled" and "deleted" in out["error_message"]


def test_duplicate_delivery_does_nothing(wctx):
    from batchops.services import job_runs

    job = _job("once", "worker_helpers:noop")
    out = _run(job)
    again = job_runs.execute(out["id"])
    assert again["status"] == "succeeded" and again["finished_at"] == out["finished_at"]
    assert job_runs.execute(999999)["status"] == "gone"


@pytest.mark.parametrize("name", ["run_pipeline", "run_job"])
def test_interrupted_task_is_put_back_on_the_queue(wctx, monkeypatch, name):
    """What the SIGNAL_INTERRUPTED handler does when a stopping worker abandons a running task."""
    from batchops.services import runs, tasks
    from batchops.store.models import JobRun, Upload

    calls = []
    monkeypatch.setattr(tasks, "enqueue_job", lambda run_id, delay=None: calls.append(("job", run_id)))
    monkeypatch.setattr(tasks, "enqueue_pipeline", lambda run_id, delay=None: calls.append(("pipeline", run_id)))
    if name == "run_job":
        run = runs.create_run("job", job=_job("long", "worker_helpers:noop"))
    else:
        upload = Upload.create(
            original_name="x.csv", sha256="0" * 64, kind="csv", blob_path="files/x", status="processing"
        )
        run = runs.create_run("pipeline", upload_id=upload.id)
    runs.mark_running(run.id)
    assert tasks.requeue_interrupted(name, run.id) is True
    run = JobRun.get_by_id(run.id)
    assert run.status == "queued" and run.worker_id is None and "re-queued" in run.log
    assert calls == [("job" if name == "run_job" else "pipeline", run.id)]
    if run.upload_id:
        assert Upload.get_by_id(run.upload_id).status == "queued"
    assert tasks.requeue_interrupted(name, run.id) is False  # not running any more: left alone


def test_queued_runs_without_a_task_are_queued_again(wctx, monkeypatch):
    """A worker killed between taking a task and claiming its run leaves it 'queued' with no task: the tick re-queues it."""
    from datetime import timedelta

    from batchops.queue import app
    from batchops.services import runs, tasks
    from batchops.store.models import JobRun

    monkeypatch.setenv("BATCHOPS_QUEUE_IMMEDIATE", "0")  # a real SQLite queue, with no consumer
    app.reset()
    job = _job("lost", "worker_helpers:noop")
    in_queue = runs.create_run("job", job=job)
    tasks.enqueue_job(in_queue.id)
    lost = runs.create_run("job", job=job)
    fresh = runs.create_run("job", job=job)
    old = lost.queued_at - timedelta(minutes=30)
    JobRun.update(queued_at=old).where(JobRun.id.in_([in_queue.id, lost.id])).execute()
    assert tasks.requeue_lost() == [lost.id]
    pending = [t.args[0] for t in tasks.huey().pending()]
    assert sorted(pending) == sorted([in_queue.id, lost.id]) and fresh.id not in pending
    assert tasks.requeue_lost() == []  # now it has its task
