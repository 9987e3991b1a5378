"""Regressions found by the soak: recovery under concurrent writers, failures left untriaged."""

from __future__ import annotations

import sqlite3

import pytest


def _dead_for() -> float:
    """How long ago a dead owner's run finished: at once on SQLite (its pid is checked on this one
    machine); on a server store an owner is lost only when silent for longer than lost_after."""
    from batchops.store.db import is_sqlite

    return 0.0 if is_sqlite() else 3600.0


def _orphan(upload_name: str):
    """A pipeline run left 'running' by a process that no longer exists."""
    import socket

    from batchops.clock import utc_now
    from batchops.services import runs
    from batchops.store.models import JobRun, Upload

    upload = Upload.create(
        original_name=upload_name, sha256="0" * 64, size=1, kind="csv", blob_path="files/x", status="processing"
    )
    run = runs.create_run("pipeline", upload_id=upload.id)
    JobRun.update(
        status="running",
        started_at=utc_now(),
        heartbeat_at=utc_now(),
        worker_id=f"{socket.gethostname()}:999999",
        pid=999999,
    ).where(JobRun.id == run.id).execute()
    return upload.id, run.id


@pytest.mark.sqlite_only  # about SQLite's WAL snapshots
def test_recover_stale_while_another_process_commits(app_ctx, home):
    """Each recovery used to write while the SELECT over running runs was still open: the open
    cursor pins a WAL snapshot, so once another process committed, BEGIN IMMEDIATE failed at once
    with 'database is locked' (every retry too) and the CLI command died with E_INTERNAL."""
    from batchops.services import runs
    from batchops.store.models import Incident, JobRun, Upload

    ids = [_orphan(f"lost-{i}.csv") for i in range(3)]
    other = sqlite3.connect(home / "batchops.db", timeout=10, isolation_level=None)
    real = runs.is_orphaned

    def orphaned_while_someone_writes(run, *args, **kwargs):
        other.execute(  # a commit from "another process"
            "INSERT INTO app_state (key, value, updated_at) VALUES (?, '1', '2026-01-01') "
            "ON CONFLICT(key) DO UPDATE SET value = value + 1",
            (f"soak-{run.id}",),
        )
        return real(run, *args, **kwargs)

    runs.is_orphaned = orphaned_while_someone_writes
    try:
        recovered = runs.recover_stale()
    finally:
        runs.is_orphaned = real
        other.close()
    assert sorted(recovered) == sorted(r for _, r in ids)
    for upload_id, run_id in ids:
        assert JobRun.get_by_id(run_id).error_code == "E_WORKER_LOST"
        assert Upload.get_by_id(upload_id).status in ("failed", "queued")
        assert Incident.select().where(Incident.upload == upload_id).exists()


def _failed_untriaged(name: str, pid: int, finished_ago: float = 0.0):
    """A run failed the way processing records it, by a process that died before triaging it."""
    import socket
    from datetime import timedelta

    from batchops.clock import utc_now
    from batchops.errors import PipelineError
    from batchops.services import processing, runs
    from batchops.store.models import JobRun, Upload

    upload = Upload.create(
        original_name=name, sha256="1" * 64, size=1, kind="pdf", blob_path="files/y", status="processing"
    )
    run = runs.create_run("pipeline", upload_id=upload.id)
    JobRun.update(status="running", started_at=utc_now(), worker_id=f"{socket.gethostname()}:{pid}", pid=pid).where(
        JobRun.id == run.id
    ).execute()
    error = PipelineError(f"{name} has text but no table.", code="E_PDF_NO_TABLE", step="standardize")
    processing._record_failure(run.id, upload.id, error, [], "log")
    JobRun.update(finished_at=utc_now() - timedelta(seconds=finished_ago)).where(JobRun.id == run.id).execute()
    return upload.id, run.id


def test_a_failure_whose_process_died_before_triage_gets_its_incident(app_ctx):
    """Killed between recording the failure and triaging it, a process left a failed upload with
    no incident forever (found by the soak: SIGKILLed CLI runs). The next recovery triages it."""
    import os

    from batchops.services import runs
    from batchops.store.models import Incident, IncidentEvent

    dead_upload, dead_run = _failed_untriaged("dead.pdf", pid=999999, finished_ago=_dead_for())
    live_upload, live_run = _failed_untriaged("live.pdf", pid=os.getpid())
    old_live_upload, old_live_run = _failed_untriaged("old.pdf", pid=os.getpid(), finished_ago=3600)
    runs.recover_stale()
    assert Incident.select().where(Incident.upload == dead_upload).exists()
    assert IncidentEvent.select().where(IncidentEvent.run == dead_run).exists()
    incident = Incident.get(Incident.upload == dead_upload)
    assert incident.error_code == "E_PDF_NO_TABLE" and "standardize" in incident.signature
    # a live owner is left to triage its own failure, unless it has had far too long
    assert not Incident.select().where(Incident.upload == live_upload).exists()
    assert Incident.select().where(Incident.upload == old_live_upload).exists()
    # and nothing is triaged twice
    runs.recover_stale()
    assert Incident.get(Incident.upload == dead_upload).occurrences == 1


def test_an_untriaged_failure_fixed_since_is_left_alone(app_ctx):
    from batchops.services import runs
    from batchops.store.models import Incident, JobRun

    upload_id, run_id = _failed_untriaged("fixed.pdf", pid=999999, finished_ago=_dead_for())
    later = runs.create_run("pipeline", upload_id=upload_id)
    JobRun.update(status="succeeded").where(JobRun.id == later.id).execute()
    runs.recover_stale()
    assert not Incident.select().where(Incident.upload == upload_id).exists()


# ---------------------------------------------------------------- uploads that nothing would move


def _age(upload_id: int, seconds: float = 3600) -> None:
    from datetime import timedelta

    from batchops.clock import utc_now
    from batchops.store.models import Upload

    Upload.update(updated_at=utc_now() - timedelta(seconds=seconds)).where(Upload.id == upload_id).execute()


def test_an_upload_is_never_written_without_its_first_run(app_ctx, samples_dir, monkeypatch):
    """The soak SIGKILLed `process` between the upload row and its run: the upload stayed
    'staged' forever. Both are one transaction now: if the run cannot be written, neither is."""
    from batchops.services import processing, runs
    from batchops.store.models import JobRun, Upload

    def dies(*args, **kwargs):
        raise KeyboardInterrupt  # what a kill between the two writes used to look like

    monkeypatch.setattr(runs, "create_run", dies)
    with pytest.raises(KeyboardInterrupt):
        processing.process_file(samples_dir / "gradebook_science.csv", queue=True)
    assert Upload.select().count() == 0 and JobRun.select().count() == 0


def test_a_new_upload_that_cannot_be_queued_fails_instead_of_waiting(app_ctx, samples_dir, monkeypatch):
    from batchops.services import processing, tasks
    from batchops.store.models import JobRun, Upload

    def broken_queue(run_id, delay=None):
        raise OSError("queue.db is on a full disk")

    monkeypatch.setattr(tasks, "enqueue_pipeline", broken_queue)
    with pytest.raises(OSError):
        processing.process_file(samples_dir / "gradebook_science.csv", queue=True)
    upload = Upload.get()
    assert upload.status == "failed" and upload.error_code == "E_QUEUE_UNAVAILABLE"
    assert JobRun.get().status == "cancelled"


def test_recovery_queues_an_orphaned_upload_whose_original_is_intact(app_ctx, samples_dir, immediate):
    from batchops.services import tasks, uploads
    from batchops.store.models import JobRun, Upload

    staged = uploads.create_upload(samples_dir / "gradebook_science.csv")  # as the killed CLI left it
    young = uploads.create_upload(samples_dir / "gradebook_science.csv", original_name="young.csv")
    _age(staged.id)
    assert tasks.recover_orphans() == {staged.id: "queued"}
    upload = Upload.get_by_id(staged.id)
    assert upload.status == "published" and upload.rows_out == 40
    run = JobRun.get(JobRun.upload == staged.id)
    assert run.trigger == "recovery" and run.status == "succeeded"
    assert Upload.get_by_id(young.id).status == "staged"  # within the grace period: its run may be coming
    assert tasks.recover_orphans() == {}


def test_recovery_queues_a_queued_upload_whose_run_was_cancelled(app_ctx, samples_dir, immediate):
    from batchops.services import recovery, uploads
    from batchops.store.models import JobRun, Upload

    upload = uploads.create_upload(samples_dir / "gradebook_science.csv", status="queued")
    JobRun.create(kind="pipeline", upload=upload.id, status="cancelled", error_code="E_QUEUE_UNAVAILABLE")
    assert recovery.orphan_uploads(min_age_s=0) == [upload.id]
    assert recovery.recover_orphan_uploads(min_age_s=0) == {upload.id: "queued"}
    assert Upload.get_by_id(upload.id).status == "published"
    assert [r.attempt for r in JobRun.select().where(JobRun.upload == upload.id).order_by(JobRun.id)] == [1, 2]


def test_recovery_fails_an_orphan_whose_original_is_damaged_with_an_incident(app_ctx, samples_dir, immediate, home):
    from batchops.services import recovery, uploads
    from batchops.store.models import Incident, JobRun, KnownError, Upload

    upload = uploads.create_upload(samples_dir / "gradebook_science.csv")
    (home / upload.blob_path).write_text("student_id\nS1\n")  # not the bytes that were taken in
    _age(upload.id)
    assert recovery.recover_orphan_uploads() == {upload.id: "failed"}
    failed = Upload.get_by_id(upload.id)
    assert failed.status == "failed" and failed.error_code == "E_SUBMIT_LOST"
    assert "upload the file again" in failed.error_message
    run = JobRun.get(JobRun.upload == upload.id)
    assert run.status == "failed" and run.error_code == "E_SUBMIT_LOST" and run.trigger == "recovery"
    incident = Incident.get(Incident.upload == upload.id)
    assert incident.known_error_id == KnownError.get(KnownError.error_code == "E_SUBMIT_LOST").id
    assert recovery.recover_orphan_uploads() == {}


def test_an_upload_with_a_live_run_is_not_an_orphan(app_ctx, samples_dir, monkeypatch):
    from batchops.services import processing, recovery, tasks

    monkeypatch.setattr(tasks, "enqueue_pipeline", lambda run_id, delay=None: None)  # no worker yet
    processing.process_file(samples_dir / "gradebook_science.csv", queue=True)
    assert recovery.orphan_uploads(min_age_s=0) == []
