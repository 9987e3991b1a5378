"""Regressions found by the soak: recovery under concurrent writers, failures left untriaged."""

from __future__ import annotations

import sqlite3


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
