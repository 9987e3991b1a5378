"""The store: SQLite pragmas, migrations, seeds, the file store, UTC round-trips."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import peewee
import pytest

from batchops.errors import ConfigError, InputError
from batchops.store import files, migrations, seeds
from batchops.store.db import bind, db, make_database
from batchops.store.models import ALL_MODELS, AppState, Job, JobRun, KnownError, SchemaVersion, Upload

# -- connection set-up ----------------------------------------------------------------------


def _pragmas() -> dict:
    return {
        name: db.execute_sql(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
    }


@pytest.mark.sqlite_only
def test_sqlite_pragmas(app_ctx):
    p = _pragmas()
    assert p["journal_mode"] == "wal"
    assert p["busy_timeout"] >= 5000
    assert p["foreign_keys"] == 1
    assert p["synchronous"] == 1  # NORMAL
    assert (app_ctx.home / "batchops.db").is_file()


@pytest.mark.sqlite_only
def test_every_thread_gets_its_own_configured_connection(app_ctx):
    main_conn = db.connection()
    seen = {}

    def worker():
        with db.connection_context():
            seen["conn"] = db.connection()
            seen["pragmas"] = _pragmas()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["conn"] is not main_conn
    assert seen["pragmas"]["busy_timeout"] >= 5000 and seen["pragmas"]["foreign_keys"] == 1


def test_foreign_keys_are_enforced(app_ctx):
    with pytest.raises(peewee.IntegrityError):
        JobRun.create(kind="pipeline", upload=987654)


# -- migrations -----------------------------------------------------------------------------

# columns added after v1 (v2: sheet, fire_time, catch_up; v3: the PDF table choice and --force-publish)
V2_COLUMNS = {"upload": ["sheet", "table_index", "force_publish"], "job_run": ["fire_time", "catch_up"]}


def _columns(table: str) -> set[str]:
    return {c.name for c in db.get_columns(table)}


@pytest.fixture
def v1_store(home):
    """A store as BatchOps schema v1 left it, with one upload in it."""
    database = bind(make_database(os.environ.get("BATCHOPS_DATABASE_URL", ""), home))
    with database.connection_context():
        database.create_tables(ALL_MODELS)
        for table, cols in V2_COLUMNS.items():
            for col in cols:
                database.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{col}"')
        SchemaVersion.delete().execute()
        SchemaVersion.create(version=1)
        database.execute_sql(
            "INSERT INTO upload (original_name, sha256, size, kind, blob_path, notes, status, plan, "
            "plan_config, created_at, updated_at) VALUES (" + ", ".join([database.param] * 11) + ")",
            (
                "marks.csv",
                "ab" * 32,
                12,
                "csv",
                "files/ab/x.csv",
                "old row",
                "published",
                "transform",
                "{}",
                "2025-01-02 03:04:05",
                "2025-01-02 03:04:05",
            ),
        )
    yield database
    database.close()


def test_upgrade_from_v1(v1_store):
    with v1_store.connection_context():
        assert migrations.current_version() == 1
        assert "sheet" not in _columns("upload")
        before, after = migrations.upgrade()
        assert (before, after) == (1, migrations.LATEST)
        assert migrations.current_version() == migrations.LATEST
        for table, cols in V2_COLUMNS.items():
            assert set(cols) <= _columns(table)
        row = Upload.get(Upload.original_name == "marks.csv")
        assert row.notes == "old row" and row.sheet is None
        assert row.created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
        # new columns are usable, and running again is a no-op
        row.sheet = "Marks"
        row.save()
        JobRun.create(kind="job", fire_time=datetime.now(timezone.utc), catch_up=True)
        assert migrations.upgrade() == (migrations.LATEST, migrations.LATEST)


def test_open_store_upgrades_without_reseeding(v1_store, home):
    from batchops.config import load_config
    from batchops.store import open_store

    v1_store.close()
    database = open_store(load_config(home=home))
    with database.connection_context():
        assert migrations.current_version() == migrations.LATEST
        assert Upload.select().count() == 1
        assert Job.select().count() == 0  # an existing store is upgraded, never re-seeded behind the operator's back


def test_store_newer_than_code_is_refused(app_ctx, run_cli):
    SchemaVersion.create(version=migrations.LATEST + 1)
    with pytest.raises(ConfigError, match="newer") as info:
        migrations.upgrade()
    assert info.value.code == "E_CONFIG"
    db.close()
    proc = run_cli("health")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error E_CONFIG:") and "Traceback" not in proc.stderr


# -- seeds ----------------------------------------------------------------------------------

SEEDED_CALLABLES = {
    "send_attendance_reminders",
    "send_system_status_digest",
    "run_web_scrape",
    "schedule_file_ingest",
    "purge_old_records",
    "run_daily_backup",
}


def test_seeds(app_ctx):
    jobs = list(Job.select())
    assert {j.callable for j in jobs} == SEEDED_CALLABLES
    assert len(jobs) == 6
    for job in jobs:
        assert job.next_run_at is not None and job.next_run_at.tzinfo is not None
        if job.paused:
            assert "batchops.toml" in job.paused_reason
    # jobs that need a target start paused with the config key to set; the others run
    by_callable = {j.callable: j for j in jobs}
    for name in ("send_attendance_reminders", "run_web_scrape", "schedule_file_ingest"):
        assert by_callable[name].paused
    for name in ("send_system_status_digest", "purge_old_records", "run_daily_backup"):
        assert not by_callable[name].paused
    assert "automation.attendance_path" in by_callable["send_attendance_reminders"].paused_reason

    known = list(KnownError.select())
    assert len(known) >= 10
    codes = {k.error_code for k in known}
    assert {
        "E_MISSING_COLUMNS",
        "E_NO_ROWS",
        "E_PDF_NO_TABLE",
        "E_PDF_ENCRYPTED",
        "E_XLSX_UNREADABLE",
        "E_BAD_ENCODING",
        "E_FILE_TOO_LARGE",
        "E_WORKER_LOST",
        "E_JOB_TIMEOUT",
    } <= codes
    for k in known:
        assert k.severity in ("low", "medium", "high", "critical")
        assert k.root_cause and k.corrective_action
        assert not k.auto_retry or k.retry_max > 0
    assert any(k.auto_retry for k in known)


def test_each_seed_field_lands_in_its_column(app_ctx):
    # Peewee keeps an unknown keyword as a plain attribute, so a misnamed seed field would be lost silently
    from dataclasses import asdict

    for seed in seeds.KNOWN_ERRORS:
        row = KnownError.get(KnownError.name == seed.name)
        assert {field: getattr(row, field) for field in asdict(seed)} == asdict(seed)
        assert set(asdict(seed)) <= set(KnownError._meta.fields)
    for job in seeds.DEFAULT_JOBS:
        row = Job.get(Job.name == job.name)
        assert (row.callable, row.cron, row.description) == (job.callable, job.cron, job.description)
        assert row.paused == (job.needs is not None)  # the test config sets none of the targets


def test_seeds_idempotent_and_keep_operator_edits(app_ctx):
    from batchops.services import system

    n_known = KnownError.select().count()
    job = Job.get(Job.callable == "run_daily_backup")
    job.cron = "15 3 * * *"
    job.paused = True
    job.save()
    ke = KnownError.get(KnownError.error_code == "E_MISSING_COLUMNS")
    ke.corrective_action = "Call Mrs. Rao in the Science office."
    ke.save()

    for _ in range(2):
        result = system.init()
        assert result["jobs"] == 6
        assert result["known_errors"] == n_known
    assert seeds.seed_jobs(app_ctx) == 0 and seeds.seed_known_errors() == 0

    job = Job.get_by_id(job.id)
    assert (job.cron, job.paused) == ("15 3 * * *", True)
    assert KnownError.get_by_id(ke.id).corrective_action == "Call Mrs. Rao in the Science office."


def test_reconfigure_same_home_does_not_duplicate(app_ctx, home):
    from batchops.services.setup import configure

    configure(home=home)
    assert Job.select().count() == 6


# -- file store -----------------------------------------------------------------------------


def test_same_content_stored_once(tmp_path):
    home = tmp_path / "h"
    a = tmp_path / "a.csv"
    b = tmp_path / "b.CSV"
    a.write_bytes(b"id,name\n1,Asha\n")
    b.write_bytes(b"id,name\n1,Asha\n")
    sha1, rel1, size1 = files.store_original(home, a, "marks.csv")
    sha2, rel2, size2 = files.store_original(home, b, "Marks Copy.CSV")
    assert sha1 == sha2 == files.sha256_file(a)
    assert rel1 == rel2 == f"files/{sha1[:2]}/{sha1}.csv"
    assert size1 == size2 == a.stat().st_size
    stored = [p for p in (home / "files").rglob("*") if p.is_file()]
    assert stored == [home / rel1]  # one blob, no leftover temp files
    assert (home / rel1).read_bytes() == a.read_bytes()


def test_original_name_never_becomes_a_path(tmp_path):
    src = tmp_path / "x"
    src.write_bytes(b"data")
    _, rel, _ = files.store_original(tmp_path / "h", src, "../../etc/passwd")
    assert rel.startswith("files/") and ".." not in rel
    assert files.safe_stem("../../evil name;rm -rf.csv") == "evil_name_rm_-rf"


@pytest.mark.parametrize("parts", [("..", "x"), ("a", "..", "..", "x"), ("/etc/passwd",), ("exports/../../x",)])
def test_safe_join_refuses_escapes(tmp_path, parts):
    with pytest.raises(InputError) as info:
        files.safe_join(tmp_path, *parts)
    assert info.value.code == "E_PATH_ESCAPE"


def test_safe_join_allows_inside(tmp_path):
    assert files.safe_join(tmp_path, "exports", "7", "r.csv") == (tmp_path / "exports" / "7" / "r.csv").resolve()
    assert files.safe_join(tmp_path, "a", "..", "b") == (tmp_path / "b").resolve()


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "report.csv"
    files.atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as tmp:
            tmp.write_text("half-written")
            raise RuntimeError("disk on fire")
    assert target.read_text() == "old"  # the previous version is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.csv"]

    fresh = tmp_path / "out" / "new.pdf"
    with pytest.raises(RuntimeError):
        with files.atomic_path(fresh) as tmp:
            tmp.write_bytes(b"%PDF-")
            raise RuntimeError("boom")
    assert not fresh.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.csv"]


def test_atomic_write_replaces(tmp_path):
    target = tmp_path / "r.csv"
    files.atomic_write_text(target, "one")
    files.atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


# -- time -----------------------------------------------------------------------------------


def test_utc_round_trip(app_ctx):
    ist = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Kolkata"))
    row = Upload.create(
        original_name="t.csv",
        sha256="0" * 64,
        kind="csv",
        blob_path="files/00/x",
        created_at=ist,
        published_at=datetime(2026, 3, 1, 4, 0),
    )  # naive = UTC
    back = Upload.get_by_id(row.id)
    assert back.created_at == ist
    assert back.created_at.tzinfo is not None and back.created_at.utcoffset() == timedelta(0)
    assert back.created_at.hour == 4 and back.created_at.minute == 0  # 09:30:15 IST = 04:00:15 UTC
    assert back.published_at == datetime(2026, 3, 1, 4, 0, tzinfo=timezone.utc)
    # ordering and comparisons happen in UTC
    assert Upload.select().where(Upload.created_at > datetime(2026, 3, 1, 3, 59, tzinfo=timezone.utc)).count() == 1


def test_defaults_are_aware_utc(app_ctx):
    AppState.create(key="last_screen", value={"screen": "incidents"})
    state = AppState.get_by_id("last_screen")
    assert state.value == {"screen": "incidents"}
    assert state.updated_at.tzinfo is not None and state.updated_at.utcoffset() == timedelta(0)
    assert abs((datetime.now(timezone.utc) - state.updated_at).total_seconds()) < 60


def test_display_format_uses_the_zone():
    from batchops import clock

    when = datetime(2026, 11, 28, 16, 13, tzinfo=timezone.utc)
    assert clock.fmt(when, "Asia/Kolkata") == "2026-11-28 21:43 IST"
    assert clock.iso(when) == "2026-11-28T16:13:00Z"
    assert clock.fmt(None) == "-"


def test_time_follows_the_database_server(app_ctx):
    """Heartbeats and claims are stamped with clock.utc_now(): on a server store, the server's clock."""
    from batchops import clock
    from batchops.store.db import is_postgres, sync_clock

    try:
        clock.set_offset(600)  # as if this machine's clock were ten minutes slow
        assert 599 < (clock.utc_now() - datetime.now(timezone.utc)).total_seconds() < 601
        offset = sync_clock()  # what open_store and the worker heartbeat do
        if is_postgres():  # the server runs on this machine here: the two clocks agree
            assert abs(offset) < 1 and abs((clock.utc_now() - datetime.now(timezone.utc)).total_seconds()) < 1
        else:  # SQLite has no other clock than ours
            assert offset == 0 and clock.utc_now() - datetime.now(timezone.utc) < timedelta(seconds=1)
    finally:
        clock.set_offset(0)
