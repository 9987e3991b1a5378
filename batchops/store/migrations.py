"""Schema version and the path from any older schema to the current one.

A fresh store gets every table at the current version. An older store is
upgraded one numbered step at a time inside a transaction; a store newer than
this code is refused rather than guessed at.

Several processes - on several machines, with PostgreSQL - may start on one
store at once: creating and upgrading run under one advisory lock
(``session_lock``; SQLite's write lock does the same there), and every step
checks what is already there, so running one twice changes nothing.
"""

from __future__ import annotations

from playhouse.migrate import SchemaMigrator, migrate

from batchops.clock import utc_now
from batchops.errors import ConfigError
from batchops.store.db import db, session_lock
from batchops.store.models import (
    ACTIVE_INCIDENT_STATES,
    ALL_MODELS,
    ONE_ACTIVE_INCIDENT,
    Incident,
    IncidentEvent,
    JobRun,
    SchemaVersion,
    Upload,
)

LOCK_NAME = "batchops:schema"


def _v2_sheet_and_catch_up(migrator: SchemaMigrator) -> None:
    """v2: uploads remember the chosen sheet; runs remember their fire time and catch-up flag."""
    have_upload = {c.name for c in db.get_columns(Upload._meta.table_name)}
    have_run = {c.name for c in db.get_columns(JobRun._meta.table_name)}
    ops = []
    if "sheet" not in have_upload:
        ops.append(migrator.add_column(Upload._meta.table_name, "sheet", Upload.sheet))
    if "fire_time" not in have_run:
        ops.append(migrator.add_column(JobRun._meta.table_name, "fire_time", JobRun.fire_time))
    if "catch_up" not in have_run:
        ops.append(migrator.add_column(JobRun._meta.table_name, "catch_up", JobRun.catch_up))
    migrate(*ops)


def _v3_read_options(migrator: SchemaMigrator) -> None:
    """v3: uploads remember how to read the file: the chosen PDF table, an operator's
    --force-publish and a forced text encoding."""
    have = {c.name for c in db.get_columns(Upload._meta.table_name)}
    ops = []
    for column in ("table_index", "force_publish", "encoding"):
        if column not in have:
            ops.append(migrator.add_column(Upload._meta.table_name, column, getattr(Upload, column)))
    migrate(*ops)


def _v4_one_active_incident(migrator: SchemaMigrator) -> None:
    """v4: at most one active incident per signature (a unique partial index).

    Twins opened by racing workers before this index existed are merged into the
    oldest: their occurrences are added to it and each twin is resolved with a
    timeline event naming the one it was merged into. Nothing is deleted.
    """
    from peewee import fn

    now = utc_now()
    twins = (
        Incident.select(Incident.signature)
        .where(Incident.state.in_(ACTIVE_INCIDENT_STATES))
        .group_by(Incident.signature)
        .having(fn.COUNT(Incident.id) > 1)
    )
    for twin in list(twins):
        rows = list(
            Incident.select()
            .where((Incident.signature == twin.signature) & Incident.state.in_(ACTIVE_INCIDENT_STATES))
            .order_by(Incident.id)
        )
        keep, others = rows[0], rows[1:]
        extra = sum(o.occurrences for o in others)
        Incident.update(occurrences=Incident.occurrences + extra, updated_at=now).where(
            Incident.id == keep.id
        ).execute()
        for other in others:
            message = f"merged into incident {keep.id} (same failure, opened twice before schema v4)"
            Incident.update(state="resolved", resolved_at=now, updated_at=now, resolution=message).where(
                Incident.id == other.id
            ).execute()
            IncidentEvent.create(
                incident=other.id, at=now, kind="resolve", from_state=other.state, to_state="resolved", message=message
            )
    db.execute(ONE_ACTIVE_INCIDENT.safe(True))


# version -> step that brings version-1 up to version
MIGRATIONS = {
    2: _v2_sheet_and_catch_up,
    3: _v3_read_options,
    4: _v4_one_active_incident,
}
LATEST = max(MIGRATIONS) if MIGRATIONS else 1
# version -> {table: columns} that step adds (a store older than the version may lack them)
ADDED_COLUMNS = {
    2: {"upload": {"sheet"}, "job_run": {"fire_time", "catch_up"}},
    3: {"upload": {"table_index", "force_publish", "encoding"}},
}


def check_restorable(path) -> int:
    """The schema version of the SQLite file at ``path`` if it is a BatchOps store we may swap in.

    Read-only, with plain sqlite3 (it is not the live store). Refused (E_RESTORE_INVALID):
    no or an unknown schema version, a newer one than this code, a missing table or column,
    and any trigger or view - a backup is data, never code that runs on the next write.
    """
    import sqlite3

    from batchops.errors import InputError

    def refuse(why: str) -> InputError:
        return InputError(f"{path} is not a BatchOps store this version can restore: {why}", code="E_RESTORE_INVALID")

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise refuse(f"cannot open it ({exc})") from None
    try:
        objects = conn.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master").fetchall()
        code = sorted(f"{kind} {name}" for kind, name, _ in objects if kind in ("trigger", "view"))
        if code:
            raise refuse(f"it holds {', '.join(code)} (a store has none)")
        virtual = sorted(name for kind, name, sql in objects if kind == "table" and "VIRTUAL" in sql.upper()[:30])
        if virtual:
            raise refuse(f"it holds virtual table(s) {', '.join(virtual)}")
        tables = {name for kind, name, _ in objects if kind == "table"}
        if SchemaVersion._meta.table_name not in tables:
            raise refuse("no schema_version table")
        version = conn.execute(f"SELECT max(version) FROM {SchemaVersion._meta.table_name}").fetchone()[0]
        if not isinstance(version, int) or version < 1:
            raise refuse(f"schema version {version!r}")
        if version > LATEST:
            raise refuse(f"its schema version {version} is newer than this BatchOps ({LATEST}); upgrade BatchOps")
        for model in ALL_MODELS:
            table = model._meta.table_name
            if table not in tables:
                raise refuse(f"table {table} is missing")
            have = {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
            later = set().union(*(ADDED_COLUMNS.get(v, {}).get(table, set()) for v in range(version + 1, LATEST + 1)))
            missing = sorted({f.column_name for f in model._meta.sorted_fields} - have - later)
            if missing:
                raise refuse(f"table {table} lacks column(s) {', '.join(missing)}")
        return version
    except sqlite3.Error as exc:
        raise refuse(f"{exc.__class__.__name__}: {exc}") from None
    finally:
        conn.close()


def current_version() -> int | None:
    if not db.table_exists(SchemaVersion._meta.table_name):
        return None
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else None


def _refuse_newer(version: int | None) -> None:
    if version is not None and version > LATEST:
        raise ConfigError(
            f"the store is at schema version {version}, newer than this BatchOps ({LATEST}); upgrade BatchOps"
        )


def upgrade(seed=None) -> tuple[int | None, int]:
    """Create or upgrade the schema; returns (version before, version after).

    A current store costs one read and no write lock, so every command can call
    this while another process holds a long write. The version is read again
    under the schema lock and inside the write transaction: of several processes
    starting on a fresh store, exactly one creates the schema and calls ``seed()``
    in the same transaction, so the others find both or neither.
    """
    before = current_version()
    _refuse_newer(before)
    if before == LATEST:
        return before, before
    with session_lock(LOCK_NAME), db.atomic():
        before = current_version()
        _refuse_newer(before)
        if before is None:
            db.create_tables(ALL_MODELS, safe=True)
            SchemaVersion.create(version=LATEST)
            if seed is not None:
                seed()
            return None, LATEST
        if before == LATEST:
            return before, before
        migrator = SchemaMigrator.from_database(db.obj)
        for version in range(before + 1, LATEST + 1):
            MIGRATIONS[version](migrator)
            SchemaVersion.create(version=version)
        # tables added since (safe=True leaves existing ones alone)
        db.create_tables(ALL_MODELS, safe=True)
    return before, LATEST
