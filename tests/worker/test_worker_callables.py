"""The six automation callables against local resources: SMTP, HTTP and FTP on 127.0.0.1, temp folders."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import threading
import time
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import serverlib
from ftp_server import FTP_PASSWORD

from batchops.errors import BatchOpsError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
            return "250 OK"

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


def _call(name, **kwargs):
    from batchops.automation import registry

    return registry.resolve(name)(**kwargs)


# ------------------------------------------------------------------ attendance


def _absent_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["status"].strip().lower() == "absent"]


def test_attendance_reminders_over_smtp_once_per_student_and_day(wctx, smtp_server, samples_dir):
    wctx.reconfigure(
        {
            "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "sender": "office@school.test"},
            "automation": {"path_roots": [str(samples_dir)]},
        }
    )  # a path argument must sit under a root
    sample = samples_dir / "attendance_today.csv"
    absent = _absent_rows(sample)
    day = absent[0]["date"]
    first = _call("send_attendance_reminders", path=str(sample), date=day)
    assert first["absent"] == len(absent) and first["sent"] == len(absent) and first["outbox"] == 0
    assert sorted(r[0][0] for r in smtp_server.messages) == sorted(r["guardian_email"] for r in absent)
    rcpt, msg = smtp_server.messages[0]
    assert msg["From"] == "office@school.test" and "Absence:" in msg["Subject"]
    body = msg.get_payload(decode=True).decode()
    assert "marked absent" in body
    second = _call("send_attendance_reminders", path=str(sample), date=day)
    assert second["sent"] == 0 and second["already_sent"] == len(absent)
    assert len(smtp_server.messages) == len(absent)


def test_attendance_default_is_today_and_outbox_without_smtp(wctx, tmp_path, samples_dir):
    from batchops import clock
    from batchops.clock import utc_now
    from batchops.services import outbox

    today = clock.to_display(utc_now()).date().isoformat()
    folder = tmp_path / "attendance"
    folder.mkdir()
    rows = (samples_dir / "attendance_today.csv").read_text(encoding="utf-8").splitlines()
    header, data = rows[0], rows[1:]
    today_rows = [",".join(r.split(",")[:3] + [today] + r.split(",")[4:]) for r in data]
    (folder / "today.csv").write_text("\n".join([header, *today_rows]) + "\n", encoding="utf-8")
    (folder / "old.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")  # another day: ignored
    wctx.reconfigure({"automation": {"attendance_path": str(folder)}})
    expected = sum(1 for r in data if r.endswith(",absent"))
    dry = _call("send_attendance_reminders", dry_run=True)
    assert dry["sent"] == expected and outbox.list_outbox() == []
    out = _call("send_attendance_reminders")
    assert out["outbox"] == expected and out["sent"] == 0 and out["other_days"] == len(data)
    parked = outbox.list_outbox()
    assert len(parked) == expected and all(m["kind"] == "email" for m in parked)
    assert _call("send_attendance_reminders")["already_sent"] == expected


def test_attendance_reads_xlsx_and_reports_bad_files(wctx, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Roll No", "Name", "Parent Email", "Date", "Attendance"])
    sheet.append(["R1", "Asha", "asha.parent@example.org", "2026-11-27", "Absent"])
    sheet.append(["R2", "Ravi", "not-an-email", "2026-11-27", "A"])
    sheet.append(["R3", "Mira", "mira.parent@example.org", "2026-11-27", "Present"])
    path = tmp_path / "att.xlsx"
    book.save(path)
    wctx.reconfigure({"automation": {"path_roots": [str(tmp_path)]}})
    out = _call("send_attendance_reminders", path=str(path), date="2026-11-27")
    assert out["absent"] == 2 and out["outbox"] == 1 and out["no_email"] == ["R2 (att.xlsx:3)"]
    bad = tmp_path / "bad.csv"
    bad.write_text("who,when\nx,y\n", encoding="utf-8")
    with pytest.raises(BatchOpsError) as info:
        _call("send_attendance_reminders", path=str(bad))
    assert info.value.code == "E_MISSING_COLUMNS"
    with pytest.raises(BatchOpsError) as info:
        _call("send_attendance_reminders", path=str(tmp_path / "nope.csv"))
    assert info.value.code == "E_FILE_NOT_FOUND"


# ------------------------------------------------------------------ digest


def test_status_digest_file_and_email(wctx, smtp_server):
    from batchops.services import runs
    from batchops.store.models import Incident, JobRun

    wctx.reconfigure(
        {"smtp": {"host": "127.0.0.1", "port": smtp_server.port}, "incidents": {"notify_emails": ["desk@school.test"]}}
    )
    yesterday = runs.create_run("job", trigger="schedule")
    JobRun.update(
        status="failed",
        error_code="E_FETCH_FAILED",
        error_message="timed out",
        queued_at=yesterday.queued_at - timedelta(days=1),
    ).where(JobRun.id == yesterday.id).execute()
    Incident.create(title="Notice board unreachable", signature="sig", severity="high")
    from batchops.store.objects import objects

    out = _call("send_system_status_digest")
    (key,) = [i.key for i in objects().list("digests")]  # in the data home or the bucket: the same key
    assert key.startswith("digests/digest-") and out["file"] == objects().location(key)
    text = objects().get_bytes(key).decode("utf-8")
    for section in (
        "HEALTH:",
        "YESTERDAY",
        f"run {yesterday.id} ",
        "E_FETCH_FAILED: timed out",
        "OPEN INCIDENTS: 1",
        "NEXT SCHEDULED JOBS",
        "Notice board unreachable",
    ):
        assert section in text
    assert out["delivered"] and smtp_server.messages[0][0] == ["desk@school.test"]
    assert "1 open incident" in smtp_server.messages[0][1]["Subject"]


# ------------------------------------------------------------------ scrape


class _Site:
    pages: dict = {}
    delay = 0.0


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/slow":
            time.sleep(2)
        page = _Site.pages.get(self.path)
        if page is None:
            self.send_response(404)
            self.end_headers()
            return
        status, headers, body = page
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def web():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Site.pages = {}
    yield f"http://127.0.0.1:{server.server_address[1]}", _Site.pages
    server.shutdown()
    server.server_close()


def _html(*links):
    items = "".join(f'<li><a href="{href}">{text}</a></li>' for text, href in links)
    return f"<html><head><title>Notice board</title></head><body><ul>{items}</ul></body></html>".encode()


def test_web_scrape_snapshots_and_reports_changes(wctx, web, monkeypatch):
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    base, pages = web
    html = {"Content-Type": "text/html; charset=utf-8"}
    pages["/notices"] = (
        200,
        html,
        _html(("Exam timetable", "/exam.pdf"), ("Sports day", "/sports"), ("Holiday on Friday", "holiday.html")),
    )
    first = _call("run_web_scrape", urls=[f"{base}/notices"])
    result = first["results"][0]
    assert result["first_snapshot"] and result["notices"] == 2 and result["title"] == "Notice board"
    assert {n["url"] for n in result["new"]} == {f"{base}/exam.pdf", f"{base}/holiday.html"}
    from batchops.jobs.scrape import _snapshot_prefix
    from batchops.store.objects import objects

    latest = f"{_snapshot_prefix(f'{base}/notices')}/latest.json"
    assert latest.startswith("scrapes/") and result["snapshot"] == objects().location(latest)
    assert json.loads(objects().get_bytes(latest))["title"] == "Notice board"
    pages["/notices"] = (200, html, _html(("Exam timetable", "/exam.pdf"), ("Results declared", "/results")))
    second = _call("run_web_scrape", urls=[f"{base}/notices"])["results"][0]
    assert [n["title"] for n in second["new"]] == ["Results declared"]
    assert [n["title"] for n in second["removed"]] == ["Holiday on Friday"]


@pytest.mark.parametrize(
    "case, code",
    [
        ("file", "E_URL_SCHEME"),
        ("redirect-to-file", "E_URL_SCHEME"),
        ("too-large", "E_SCRAPE_TOO_LARGE"),
        ("404", "E_FETCH_FAILED"),
        ("refused", "E_FETCH_FAILED"),
        ("timeout", "E_FETCH_FAILED"),
    ],
)
def test_web_scrape_refuses_and_fails_clearly(wctx, web, case, code, tmp_path):
    base, pages = web
    wctx.reconfigure({"automation": {"scrape_timeout": 0.5, "scrape_max_bytes": 1000}})
    pages["/redirect"] = (302, {"Location": "file:///etc/passwd"}, b"")
    pages["/big"] = (200, {}, b"x" * 5000)
    pages["/slow"] = (200, {}, b"late")
    url = {
        "file": f"file://{tmp_path}/x.html",
        "redirect-to-file": f"{base}/redirect",
        "too-large": f"{base}/big",
        "404": f"{base}/missing",
        "refused": f"http://127.0.0.1:{_free_port()}/",
        "timeout": f"{base}/slow",
    }[case]
    with pytest.raises(BatchOpsError) as info:
        _call("run_web_scrape", urls=[url])
    assert info.value.code == code


# ------------------------------------------------------------------ ingest


def test_file_ingest_drop_folder_and_ftp(wctx, tmp_path, samples_dir, ftp_server):
    from batchops.store.models import Upload

    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(samples_dir / "gradebook_science.csv", drop / "science.csv")
    shutil.copy(samples_dir / "broken" / "missing_columns.csv", drop / "broken.csv")
    (drop / "~$lock.xlsx").write_bytes(b"lock file")
    (drop / "copying.csv.part").write_bytes(b"half")
    ftp_root, port = ftp_server
    shutil.copy(samples_dir / "roster_commerce.xlsx", ftp_root / "roster.xlsx")
    wctx.reconfigure(
        {
            "automation": {
                "ingest_folder": str(drop),
                "ingest_department": "Science",
                "ingest_ftp_url": f"ftp://teacher:{FTP_PASSWORD}@127.0.0.1:{port}/",
            }
        }
    )
    out = _call("schedule_file_ingest", min_age_s=0)
    assert out["fetched"] == ["roster.xlsx"]
    assert sorted(p["file"] for p in out["published"]) == ["roster.xlsx", "science.csv"]
    assert [f["file"] for f in out["failed"]] == ["broken.csv"]
    assert out["failed"][0]["error"]["code"] == "E_MISSING_COLUMNS"
    assert sorted(p.name for p in (drop / "processed").iterdir()) == ["roster.xlsx", "science.csv"]
    assert sorted(p.name for p in (drop / "failed").iterdir()) == ["broken.csv", "broken.csv.error.txt"]
    assert (drop / "~$lock.xlsx").exists() and (drop / "copying.csv.part").exists()
    uploads = list(Upload.select().order_by(Upload.id))
    assert {u.department for u in uploads} == {"Science"} and len(uploads) == 3
    # the same content dropped again is not processed again; the FTP file is not fetched again
    shutil.copy(samples_dir / "gradebook_science.csv", drop / "science-again.csv")
    again = _call("schedule_file_ingest", min_age_s=0)
    assert again["fetched"] == [] and again["duplicates"] == ["science-again.csv"] and again["published"] == []
    assert Upload.select().count() == 3
    # a file still being written waits for the next run
    (drop / "fresh.csv").write_bytes((samples_dir / "gradebook_science.csv").read_bytes() + b"\n")
    waiting = _call("schedule_file_ingest", min_age_s=60, ftp_url="")
    assert waiting["waiting"] == 1 and (drop / "fresh.csv").exists()


def test_file_ingest_needs_a_folder(wctx, tmp_path):
    with pytest.raises(BatchOpsError) as info:
        _call("schedule_file_ingest")
    assert info.value.code == "E_CONFIG"
    wctx.reconfigure({"automation": {"path_roots": [str(tmp_path)]}})
    with pytest.raises(BatchOpsError) as info:
        _call("schedule_file_ingest", folder=str(tmp_path / "nope"))
    assert info.value.code == "E_FILE_NOT_FOUND"


# ------------------------------------------------------------------ purge


def test_purge_old_records_dry_run_then_real(wctx):
    from batchops.clock import utc_now
    from batchops.services import runs
    from batchops.store.models import Incident, IncidentEvent, JobRun

    now = utc_now()

    def run_at(status, days):
        run = runs.create_run("job", trigger="schedule")
        JobRun.update(status=status, queued_at=now - timedelta(days=days)).where(JobRun.id == run.id).execute()
        return run.id

    keep = [run_at("succeeded", 5), run_at("failed", 40), run_at("running", 400)]
    gone = [run_at("succeeded", 40), run_at("skipped", 40), run_at("failed", 200)]
    linked = Incident.create(title="t", signature="s", run=gone[2])
    old = Incident.create(title="old", signature="o", state="archived", archived_at=now - timedelta(days=400))
    IncidentEvent.create(incident=old.id, kind="open")
    home = wctx.home
    old_export = home / "exports" / "7"
    old_export.mkdir(parents=True)
    (old_export / "r.csv").write_text("x")
    new_export = home / "exports" / "8"
    new_export.mkdir(parents=True)
    ancient = time.time() - 200 * 86400
    os.utime(old_export, (ancient, ancient))
    (home / "outbox").mkdir(exist_ok=True)
    stale = home / "outbox" / "old.json"
    stale.write_text(json.dumps({"kind": "email", "to": ["a@b.c"], "subject": "s"}))
    os.utime(stale, (ancient, ancient))

    dry = _call("purge_old_records", dry_run=True)
    assert dry["counts"]["successful_runs"] == 2 and dry["counts"]["failed_runs"] == 1
    assert dry["counts"]["archived_incidents"] == 1 and dry["counts"]["export_folders"] == 1
    assert dry["counts"]["outbox_messages"] == 1 and not dry["vacuumed"]
    assert JobRun.select().count() == 6 and old_export.exists()

    out = _call("purge_old_records")
    from batchops.store.db import is_sqlite

    assert out["vacuumed"] == is_sqlite() and out["counts"] == dry["counts"]  # PostgreSQL autovacuums
    assert sorted(r.id for r in JobRun.select()) == sorted(keep)
    assert Incident.get_by_id(linked.id).run_id is None
    assert Incident.get_or_none(Incident.id == old.id) is None and IncidentEvent.select().count() == 0
    assert not old_export.exists() and new_export.exists() and not stale.exists()


# ------------------------------------------------------------------ backup and restore


def _assert_store_snapshot(folder: Path, made: dict) -> None:
    """The snapshot of the store the test runs on: SQLite's files, or PostgreSQL's pg_dump archive."""
    from batchops.services import backup

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["schema_version"]
    if serverlib.active():
        (item,) = made["files"]
        assert item["file"] == "batchops.pgdump" and item["integrity"].startswith("ok")
        assert (folder / "batchops.pgdump").read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
        assert manifest["format"] == "pg_dump custom"
    else:
        assert {f["file"] for f in made["files"]} >= {"batchops.db"}
        assert all(f["integrity"] == "ok" for f in made["files"])
        assert manifest["files"][0]["sha256"]
        assert backup.integrity(folder / "batchops.db") == "ok"


def test_backup_verified_rotated_and_restored(wctx):
    from batchops.services import backup, jobs
    from batchops.store.models import Job

    first = _call("run_daily_backup")  # the seeded job's callable: it must not fail on either store
    folder = Path(first["path"])
    assert folder.parent == wctx.home / "backups" and first["verified"]
    _assert_store_snapshot(folder, first)

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


def test_backup_elsewhere_is_not_rotated_and_restore_refuses_while_a_worker_lives(wctx, tmp_path):
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
    if serverlib.active():
        corrupt = tmp_path / "corrupt.pgdump"
        corrupt.write_bytes(b"PGDMP" + b"\x00" * 2000)
    else:
        corrupt = tmp_path / "corrupt.db"
        corrupt.write_bytes(b"SQLite format 3\x00" + b"\x00" * 2000)
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


@pytest.mark.server_only
def test_missing_pg_dump_is_a_coded_error(wctx, monkeypatch):
    from batchops.errors import WorkError
    from batchops.services import backup

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(WorkError) as info:
        backup.backup()
    assert info.value.code == "E_BACKUP_TOOL_MISSING" and "postgresql-client" in info.value.message
    assert backup.list_backups() == []  # nothing half-made left behind


def test_file_ingest_killed_after_taking_a_file_in_does_not_take_it_twice(wctx, tmp_path, samples_dir):
    """An ingest killed between creating the upload and remembering the file (its job retried
    after E_WORKER_LOST) used to make a second upload of the same file on the next run."""
    from batchops.services import processing
    from batchops.store.models import Upload

    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(samples_dir / "gradebook_science.csv", drop / "science.csv")
    wctx.reconfigure({"automation": {"ingest_folder": str(drop)}})
    first = processing.process_file(drop / "science.csv", trigger="ingest", original_name="science.csv")
    out = _call("schedule_file_ingest", min_age_s=0)
    assert [(p["file"], p["upload_id"]) for p in out["published"]] == [("science.csv", first["upload_id"])]
    assert Upload.select().count() == 1 and (drop / "processed" / "science.csv").exists()
