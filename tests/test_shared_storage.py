"""Shared storage on a real S3 API server (moto's standalone server, never mocks).

Two data homes stand for two machines: they share the store (an SQLite file outside both homes here;
PostgreSQL on real servers) and the bucket, and nothing else. Skipped when ``moto[server]``/boto3 are
not installed (``pip install -e ".[test]"``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from s3lib import SECRET_ENV, keys, storage_settings


def _write_config(path: Path, endpoint: str, url: str, **sections) -> Path:
    lines = ["[storage]", *(f"{k} = {v!r}".replace("'", '"') for k, v in storage_settings(endpoint, url).items())]
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def machines(s3, tmp_path, monkeypatch):
    """configure(name) switches this process to machine ``name``: its own data home, the shared store and bucket."""
    from batchops import context
    from batchops.services.setup import configure
    from batchops.store.db import db

    endpoint, bucket, client = s3
    shared_db = tmp_path / "shared" / "batchops.db"
    shared_db.parent.mkdir()
    config = _write_config(
        tmp_path / "batchops.toml",
        endpoint,
        f"s3://{bucket}/school",
        database={"url": f"sqlite:///{shared_db}"},
        automation={"path_roots": [str(tmp_path)]},
    )
    monkeypatch.setenv("BATCHOPS_CONFIG", str(config))
    monkeypatch.chdir(tmp_path)

    class Machines:
        pass

    m = Machines()
    m.bucket, m.client, m.config, m.base = bucket, client, config, tmp_path

    def switch(name: str):
        if db.obj is not None and not db.obj.is_closed():
            db.obj.close()
        context.reset()
        home = tmp_path / name
        home.mkdir(exist_ok=True)
        return configure(home=home)

    m.switch = switch
    yield m
    if db.obj is not None and not db.obj.is_closed():
        db.obj.close()
    context.reset()


def test_submit_on_one_machine_process_on_another_export_from_a_third(machines, samples_dir, monkeypatch):
    from batchops.services import processing, reports
    from batchops.store.models import Upload

    machines.switch("a")
    submitted = processing.process_file(samples_dir / "gradebook_science.csv", queue=True)
    assert submitted["status"] == "queued"
    shutil.rmtree(machines.base / "a")  # machine A is gone: B may rely on the bucket only

    machines.switch("b")
    monkeypatch.setattr(processing, "MAX_STORED_CSV", 10)  # as a CSV over 5 MB: kept only in storage
    done = processing.execute(submitted["run_id"])
    assert done["status"] == "published", done["error"]
    upload = Upload.get_by_id(done["upload_id"])
    assert upload.report_csv is None
    for key in (upload.blob_path, upload.report_csv_path, upload.report_pdf_path):
        assert key and not os.path.isabs(key) and not key.startswith(str(machines.base)), key
        assert f"school/{key}" in keys(machines.client, machines.bucket)
    assert done["reports"]["csv"] == f"s3://{machines.bucket}/school/{upload.report_csv_path}"
    expected = (machines.base / "b" / upload.report_csv_path).read_bytes()

    machines.switch("c")
    assert not (machines.base / "c" / "exports").exists()
    data, _ = reports.report_bytes(upload_id=upload.id, fmt="csv")
    assert data == expected and b"Statistics" in data
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "batchops",
            "--home",
            str(machines.base / "d"),
            "report",
            "export",
            "--upload",
            str(upload.id),
            "--format",
            "pdf",
            "-o",
            str(machines.base / "out.pdf"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (machines.base / "out.pdf").read_bytes()[:5] == b"%PDF-"


def test_an_original_missing_from_the_bucket_fails_the_run_with_an_incident(machines, samples_dir):
    from batchops.services import processing
    from batchops.store.models import Incident, JobRun, Upload

    machines.switch("a")
    submitted = processing.process_file(samples_dir / "gradebook_science.csv", queue=True)
    upload = Upload.get_by_id(submitted["upload_id"])
    machines.client.delete_object(Bucket=machines.bucket, Key=f"school/{upload.blob_path}")

    machines.switch("b")
    done = processing.execute(submitted["run_id"])
    assert done["status"] == "failed" and done["error"]["code"] == "E_OBJECT_MISSING"
    assert JobRun.get_by_id(submitted["run_id"]).status == "failed"  # never left `running`
    assert Incident.get_by_id(done["incident_id"]).state == "open"


def test_old_absolute_report_paths_still_export(machines, samples_dir):
    """A store written before keys: absolute paths under the home are read as their keys."""
    from batchops.services import processing, reports
    from batchops.store.models import Upload

    machines.switch("b")
    done = processing.process_file(samples_dir / "gradebook_science.csv")
    upload = Upload.get_by_id(done["upload_id"])
    old_style = str(machines.base / "b" / upload.report_pdf_path)
    Upload.update(report_pdf=None, report_pdf_path=old_style).where(Upload.id == upload.id).execute()
    machines.switch("c")
    data, _ = reports.report_bytes(upload_id=upload.id, fmt="pdf")
    assert data[:5] == b"%PDF-"


def test_ingest_from_s3_takes_stable_objects_once_and_failures_open_incidents(machines, samples_dir, tmp_path):
    from batchops.automation import registry
    from batchops.store.models import Incident, Upload

    client, bucket = machines.client, machines.bucket
    client.put_object(Bucket=bucket, Key="inbox/science.csv", Body=(samples_dir / "gradebook_science.csv").read_bytes())
    client.put_object(
        Bucket=bucket, Key="inbox/broken.csv", Body=(samples_dir / "broken" / "missing_columns.csv").read_bytes()
    )
    client.put_object(Bucket=bucket, Key="inbox/copying.csv.part", Body=b"half")
    client.put_object(Bucket=bucket, Key="inbox/sub/nested.csv", Body=b"x")
    machines.switch("a")
    drop = tmp_path / "drop"
    drop.mkdir()
    ingest = registry.resolve("schedule_file_ingest")

    young = ingest(folder=str(drop), s3_url=f"s3://{bucket}/inbox", min_age_s=3600)
    assert young["fetched"] == [] and Upload.select().count() == 0  # just written: not stable yet

    out = ingest(folder=str(drop), s3_url=f"s3://{bucket}/inbox", min_age_s=0)
    assert sorted(out["fetched"]) == ["broken.csv", "science.csv"]
    assert [p["file"] for p in out["published"]] == ["science.csv"]
    assert [f["error"]["code"] for f in out["failed"]] == ["E_MISSING_COLUMNS"]
    failed = Upload.get(Upload.original_name == "broken.csv")
    assert Incident.select().where(Incident.upload == failed.id).count() == 1

    again = ingest(folder=str(drop), s3_url=f"s3://{bucket}/inbox", min_age_s=0)
    assert again["fetched"] == [] and Upload.select().count() == 2


@pytest.mark.sqlite_only  # a batchops.db snapshot; test_backup_objects.py covers both backends
def test_backup_is_written_to_object_storage(s3, home, monkeypatch, tmp_path):
    from batchops import context
    from batchops.services import backup
    from batchops.services.setup import configure
    from batchops.store.db import db

    endpoint, bucket, client = s3
    config = _write_config(tmp_path / "batchops.toml", endpoint, f"s3://{bucket}/")
    configure(config_path=config, home=home)
    try:
        out = backup.backup()
        stamp = Path(out["path"]).name
        assert out["stored_at"] == f"s3://{bucket}/backups/{stamp}"
        assert {f"backups/{stamp}/{n}" for n in ("batchops.db", "manifest.json", "objects.json")} <= set(
            keys(client, bucket)
        )
        body = client.get_object(Bucket=bucket, Key=f"backups/{stamp}/batchops.db")["Body"].read()
        assert body == (Path(out["path"]) / "batchops.db").read_bytes()
    finally:
        db.obj.close()
        context.reset()


def test_missing_bucket_and_unreachable_server_are_coded_errors_and_incidents(s3, home, tmp_path, samples_dir, run_cli):
    from batchops import context
    from batchops.services import health, jobs
    from batchops.services.setup import configure
    from batchops.store.db import db
    from batchops.store.models import Incident

    endpoint, bucket, _ = s3
    missing = _write_config(
        tmp_path / "missing.toml", endpoint, "s3://no-such-bucket/x", automation={"path_roots": [str(tmp_path)]}
    )
    proc = run_cli("--config", missing, "process", samples_dir / "gradebook_science.csv", env={SECRET_ENV: "testing"})
    assert proc.returncode == 1 and "E_STORAGE_NO_BUCKET" in proc.stderr and "Traceback" not in proc.stderr

    configure(config_path=missing, home=home)
    try:
        assert health.check_storage()["ok"] is False
        job = jobs.add_job(
            "s3 ingest",
            "schedule_file_ingest",
            "0 5 * * *",
            kwargs={"folder": str(tmp_path), "s3_url": "s3://no-such-bucket/in", "min_age_s": 0},
        )
        run = jobs.run_job_now(job["id"])
        assert run["status"] == "failed" and run["error_code"] == "E_STORAGE_NO_BUCKET"
        assert Incident.select().where(Incident.error_code == "E_STORAGE_NO_BUCKET").count() == 1
    finally:
        db.obj.close()
        context.reset()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    down = _write_config(tmp_path / "down.toml", f"http://127.0.0.1:{closed}", f"s3://{bucket}/x")
    proc = run_cli("--config", down, "process", samples_dir / "gradebook_science.csv", env={SECRET_ENV: "testing"})
    assert proc.returncode == 1 and "E_STORAGE_UNREACHABLE" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("--config", down, "health", "--json", env={SECRET_ENV: "testing"})
    assert proc.returncode == 1 and '"reachable": false' in proc.stdout


def test_keys_are_never_absolute_or_climbing():
    from batchops.errors import InputError
    from batchops.store.objects import check_key, key_of

    assert check_key("exports/3/a_report.csv") == "exports/3/a_report.csv"
    for bad in ("/etc/passwd", "files/../../x", "", "a\\b"):
        with pytest.raises(InputError):
            check_key(bad)
    home = Path("/srv/home-a")
    assert key_of("/srv/home-a/exports/3/r.csv", home) == "exports/3/r.csv"
    assert key_of("/elsewhere/home-b/exports/3/r.csv", home) == "exports/3/r.csv"
    assert key_of("exports/3/r.csv", home) == "exports/3/r.csv"


def test_an_s3_url_without_the_extra_names_the_extra(home, tmp_path, samples_dir):
    """boto3 made unimportable in the child process: a coded error naming batchops[s3], no traceback."""
    config = _write_config(tmp_path / "batchops.toml", "http://127.0.0.1:9", "s3://bucket/x")
    script = (
        "import sys; sys.modules['boto3'] = None; from batchops.cli.main import run; "
        f"sys.argv = ['batchops', '--config', {str(config)!r}, '--home', {str(home)!r}] + sys.argv[1:]; run()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "process", str(samples_dir / "gradebook_science.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "E_STORAGE_EXTRA_MISSING" in proc.stderr, proc.stderr
    assert 'pip install "batchops[s3]"' in proc.stderr and "Traceback" not in proc.stderr


def test_a_parked_message_has_one_sender_at_a_time(app_ctx, tmp_path):
    """With a shared outbox every worker's tick flushes it: a claim in the store keeps sends single."""
    from batchops.clock import utc_now
    from batchops.services import outbox
    from batchops.store.models import AppState

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    parked = outbox.post_webhook(f"http://127.0.0.1:{closed}/hook", {"x": 1})
    assert parked["delivered"] is False
    (msg,) = outbox.list_outbox()
    assert outbox.claim(msg["file"])  # another worker is sending it
    assert not outbox.claim(msg["file"])
    assert outbox.flush() == {"delivered": 0, "failed": 0, "waiting": 0}
    assert outbox.list_outbox()[0]["attempts"] == 1  # untouched
    outbox.release(msg["file"])
    assert outbox.flush()["failed"] == 1 and outbox.list_outbox()[0]["attempts"] == 2
    assert not AppState.select().where(AppState.key.startswith("outbox:")).exists()  # released again
    assert outbox.claim(msg["file"])
    AppState.update(updated_at=utc_now() - outbox.CLAIM_TTL * 2).where(AppState.key.startswith("outbox:")).execute()
    assert outbox.claim(msg["file"])  # a stale claim (its sender died) is taken over


@pytest.mark.server_only
def test_the_server_suite_keeps_each_tests_files_under_its_own_prefix_in_s3(app_ctx, samples_dir):
    """--backend server: a test's originals and reports land in the bucket (BATCHOPS_STORAGE_*), under its prefix."""
    from s3lib import client_for

    from batchops.services import processing
    from batchops.store.models import Upload
    from batchops.store.objects import objects

    url = app_ctx.storage.url
    assert url.startswith("s3://") and url.endswith("/" + os.environ["BATCHOPS_QUEUE_NAME"]) and objects().remote
    bucket, prefix = url[len("s3://") :].split("/", 1)
    done = processing.process_file(samples_dir / "gradebook_science.csv")
    assert done["status"] == "published", done["error"]
    upload = Upload.get_by_id(done["upload_id"])
    stored = keys(client_for(app_ctx.storage.endpoint_url), bucket, prefix + "/")
    for key in (upload.blob_path, upload.report_csv_path, upload.report_pdf_path):
        assert f"{prefix}/{key}" in stored, key
