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
