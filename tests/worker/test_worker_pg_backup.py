"""Backup and restore of a PostgreSQL store: pg_dump's custom format, verified, rotated, restored.

Runs on ``--backend server`` (a real PostgreSQL; the SQLite twins are in test_worker_callables.py).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

pytestmark = pytest.mark.server_only


def test_daily_backup_job_dumps_verifies_rotates_and_restores(wctx):
    from batchops.automation import registry
    from batchops.services import backup, jobs
    from batchops.store.models import Job

    first = registry.resolve("run_daily_backup")()  # the seeded job's callable: it must not fail on PostgreSQL
    folder = Path(first["path"])
    assert folder.parent == wctx.home / "backups" and first["verified"]
    (item,) = first["files"]
    assert item["file"] == "batchops.pgdump" and item["integrity"].startswith("ok")
    assert (folder / "batchops.pgdump").read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["schema_version"] and manifest["format"] == "pg_dump custom"

    jobs_before = Job.select().count()
    jobs.add_job("added-after-backup", "worker_helpers:noop", "0 1 * * *")
    for _ in range(3):
        backup.backup(keep=2)
    assert len(backup.list_backups()) == 2 and not folder.exists()

    restored_from = backup.list_backups()[0]
    Job.delete().execute()
    result = backup.restore(restored_from)
    assert Job.select().count() == jobs_before + 1
    assert Path(result["previous_store_kept_as"]).is_file()


def test_restore_refuses_a_live_worker_and_a_bad_archive(wctx, tmp_path):
    from batchops.clock import utc_now
    from batchops.errors import InputError
    from batchops.services import backup
    from batchops.store.models import WorkerHeartbeat

    out = backup.backup(to=tmp_path / "usb")
    assert Path(out["path"]).parent == tmp_path / "usb" and out["rotated"] == []
    WorkerHeartbeat.create(
        worker_id=f"{socket.gethostname()}:{os.getpid()}:x",
        host=socket.gethostname(),
        pid=os.getpid(),
        last_seen=utc_now(),
    )
    with pytest.raises(InputError) as info:
        backup.restore(out["path"])
    assert info.value.code == "E_WORKER_ALIVE"
    assert backup.restore(out["path"], force=True)["forced"] is True
    corrupt = tmp_path / "corrupt.pgdump"
    corrupt.write_bytes(b"PGDMP" + b"\x00" * 2000)
    with pytest.raises(InputError) as info:
        backup.restore(corrupt, force=True)
    assert info.value.code == "E_RESTORE_INVALID"


def test_cli_backup_and_restore(wctx, run_cli, tmp_path):
    env = {"BATCHOPS_CONFIG": wctx.config_path}
    made = run_cli("backup", "--json", env=env)
    assert made.returncode == 0, made.stderr
    path = json.loads(made.stdout)["path"]
    restored = run_cli("restore", path, "--yes", "--json", env=env)
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["restored_from"].startswith(path)
    missing = run_cli("restore", str(tmp_path / "nope"), "--yes", env=env)
    assert missing.returncode == 2 and "E_FILE_NOT_FOUND" in missing.stderr


def test_missing_pg_dump_is_a_coded_error(wctx, monkeypatch):
    from batchops.errors import WorkError
    from batchops.services import backup

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(WorkError) as info:
        backup.backup()
    assert info.value.code == "E_BACKUP_TOOL_MISSING" and "postgresql-client" in info.value.message
    assert backup.list_backups() == []  # nothing half-made left behind
