"""Schema version and the path from any older schema to the current one.

A fresh store gets every table at the current version. An older store is
upgraded one numbered step at a time inside a transaction; a store newer than
this code is refused rather than guessed at.
"""

from __future__ import annotations

from playhouse.migrate import SchemaMigrator, migrate

from batchops.errors import ConfigError
from batchops.store.db import db
from batchops.store.models import ALL_MODELS, JobRun, SchemaVersion, Upload


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


# version -> step that brings version-1 up to version
MIGRATIONS = {
    2: _v2_sheet_and_catch_up,
    3: _v3_read_options,
}
LATEST = max(MIGRATIONS) if MIGRATIONS else 1
# version -> {table: columns} that step adds (a store older than the version may lack them)
ADDED_COLUMNS = {
    2: {"upload": {"sheet"}, "job_run": {"fire_time", "catch_up"}},
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


def upgrade() -> tuple[int | None, int]:
    """Create or upgrade the schema; returns (version before, version after).

    A current store costs one read and no write lock, so every command can call
    this while another process holds a long write. The version is read again
    inside the write transaction: of several processes starting on a fresh home,
    exactly one creates the schema.
    """
    before = current_version()
    _refuse_newer(before)
    if before == LATEST:
        return before, before
    with db.atomic():
        before = current_version()
        _refuse_newer(before)
        if before is None:
            db.create_tables(ALL_MODELS, safe=True)
            SchemaVersion.create(version=LATEST)
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
