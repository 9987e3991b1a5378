"""Backups in object storage (``backup --to s3://…``, ``restore s3://…``) on a real moto S3 server.

Runs on both backends: SQLite here, PostgreSQL with ``--backend server`` (then the snapshot is a
pg_dump archive). Files in the data home travel with the snapshot; files already in the bucket
are listed in objects.json instead.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from s3lib import keys, storage_settings


def _config(path: Path, endpoint: str, storage_url: str = "") -> Path:
    lines = ["[storage]", *(f"{k} = {json.dumps(v)}" for k, v in storage_settings(endpoint, storage_url).items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def configured(s3, home, tmp_path):
    """configure(storage_url) -> the app on ``home`` with the test bucket's endpoint and credentials."""
    from batchops import context
    from batchops.services.setup import configure
    from batchops.store.db import db

    endpoint = s3[0]

    def make(storage_url: str = ""):
        config = _config(tmp_path / "batchops.toml", endpoint, storage_url)
        configure(config_path=config, home=home)
        return config

    yield make
    if db.obj is not None and not db.obj.is_closed():
        db.obj.close()
    context.reset()


def _snapshot_file() -> str:
    from batchops import context
    from batchops.store.db import is_postgres_url

    return "batchops.pgdump" if is_postgres_url(context.config().database.url) else "batchops.db"


def test_backup_to_a_url_carries_the_home_files_and_restore_brings_all_back(configured, s3, home, samples_dir):
    from batchops.services import backup, processing, reports
    from batchops.store.models import Upload

    _, bucket, client = s3
    configured()
    done = processing.process_file(samples_dir / "gradebook_science.csv")
    upload = Upload.get_by_id(done["upload_id"])
    report = (home / upload.report_csv_path).read_bytes()

    out = backup.backup(to=f"s3://{bucket}/offsite")
    stamp = Path(out["stored_at"]).name
    assert out["path"] == out["stored_at"] == f"s3://{bucket}/offsite/{stamp}" and out["rotated"] == []
    stored = keys(client, bucket, f"offsite/{stamp}/")
    for name in ("manifest.json", _snapshot_file(), upload.blob_path, upload.report_csv_path, upload.report_pdf_path):
        assert f"offsite/{stamp}/{name}" in stored, name
    assert out["files_copied"] >= 3 and not list(home.glob(".backup-*"))  # the staging folder is gone

    # later work, then the machine loses its files: the bucket's snapshot brings the store and files back
    later = processing.process_file(samples_dir / "attendance_today.csv")["upload_id"]
    shutil.rmtree(home / "files")
    shutil.rmtree(home / "exports")
    restored = backup.restore(f"s3://{bucket}/offsite")  # the newest snapshot under the prefix
    assert restored["restored_from"] == f"s3://{bucket}/offsite/{stamp}/"
    assert restored["files_restored"] == out["files_copied"]
    assert Upload.get_or_none(Upload.id == later) is None
    assert (home / upload.blob_path).read_bytes() == (samples_dir / "gradebook_science.csv").read_bytes()
    assert (home / upload.report_csv_path).read_bytes() == report
    Upload.update(report_csv=None).where(Upload.id == upload.id).execute()  # the export reads the file
    assert reports.report_bytes(upload_id=upload.id, fmt="csv")[0] == report


def test_with_shared_storage_the_backup_lists_the_bucket_and_restore_names_what_is_gone(configured, s3, samples_dir):
    from batchops.services import backup, processing
    from batchops.store.models import Upload

    _, bucket, client = s3
    configured(f"s3://{bucket}/school")
    upload = Upload.get_by_id(processing.process_file(samples_dir / "gradebook_science.csv")["upload_id"])

    out = backup.backup()  # the default backup: local backups/ and the bucket's backups/
    stamp = Path(out["path"]).name
    assert out["stored_at"] == f"s3://{bucket}/school/backups/{stamp}" and out["files_copied"] == 0
    stored = keys(client, bucket, f"school/backups/{stamp}/")
    assert {f"school/backups/{stamp}/{n}" for n in ("manifest.json", "objects.json", _snapshot_file())} == set(stored)
    listed = json.loads(client.get_object(Bucket=bucket, Key=f"school/backups/{stamp}/objects.json")["Body"].read())
    assert {upload.blob_path, upload.report_csv_path} <= {item["key"] for item in listed}

    client.delete_object(Bucket=bucket, Key=f"school/{upload.report_pdf_path}")
    restored = backup.restore(out["stored_at"])
    assert restored["objects_missing"] == [upload.report_pdf_path] and restored["files_restored"] == 0
    assert Upload.get_by_id(upload.id).status == "published"


def test_cli_backup_to_and_restore_from_a_url_and_the_bad_ones(configured, s3, run_cli):
    _, bucket, client = s3
    config = configured()
    made = run_cli("--config", config, "backup", "--to", f"s3://{bucket}/cli", "--json")
    assert made.returncode == 0, made.stderr
    url = json.loads(made.stdout)["stored_at"]
    assert url.startswith(f"s3://{bucket}/cli/") and keys(client, bucket, "cli/")
    restored = run_cli("--config", config, "restore", url, "--yes", "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["restored_from"] == url + "/"

    for bad_url in ("ftp://host/x", "s3:/one-slash/x"):
        bad = run_cli("--config", config, "backup", "--to", bad_url)
        assert bad.returncode == 2 and "s3://bucket/prefix" in bad.stderr and "Traceback" not in bad.stderr
    assert not list(Path().glob("s3*"))  # no local folder made of the typo
    empty = run_cli("--config", config, "restore", f"s3://{bucket}/nothing-here", "--yes")
    assert empty.returncode == 2 and "E_FILE_NOT_FOUND" in empty.stderr
    missing = run_cli("--config", config, "backup", "--to", "s3://no-such-bucket/x")
    assert missing.returncode == 1 and "E_STORAGE_NO_BUCKET" in missing.stderr and "Traceback" not in missing.stderr
