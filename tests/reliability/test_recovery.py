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

    upload = Upload.create(original_name=upload_name, sha256="0" * 64, size=1, kind="csv", blob_path="files/x",
                           status="processing")
    run = runs.create_run("pipeline", upload_id=upload.id)
    JobRun.update(status="running", started_at=utc_now(), heartbeat_at=utc_now(),
                  worker_id=f"{socket.gethostname()}:999999", pid=999999).where(JobRun.id == run.id).execute()
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
            "ON CONFLICT(key) DO UPDATE SET value = value + 1", (f"soak-{run.id}",))
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

    upload = Upload.create(original_name=name, sha256="1" * 64, size=1, kind="pdf", blob_path="files/y",
                           status="processing")
    run = runs.create_run("pipeline", upload_id=upload.id)
    JobRun.update(status="running", started_at=utc_now(), worker_id=f"{socket.gethostname()}:{pid}",
                  pid=pid).where(JobRun.id == run.id).execute()
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
