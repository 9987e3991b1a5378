"""The store: Peewee models, connection set-up, migrations, seeds, files."""

from __future__ import annotations

from pathlib import Path

from batchops.errors import ConfigError
from batchops.fsutil import private_dir, private_file
from batchops.store.db import bind, db, make_database, sync_clock, unreachable


def open_store(cfg, *, seed: bool = True):
    """Bind the database from ``cfg`` and bring the schema up to date.

    A brand-new store is seeded (default jobs, known errors); an existing one
    is only upgraded, so operator edits are never overwritten.
    """
    from batchops.store import migrations

    home = Path(cfg.data_dir)
    if cfg.read_only:
        return _open_read_only(cfg, home)
    try:
        private_dir(home)  # student names and grades: owner only
        if not cfg.database.url:
            private_file(home / "batchops.db")  # before SQLite creates it 0644; -wal/-shm take its mode
    except OSError as exc:
        raise ConfigError(f"data home {home} cannot be created: {exc.strerror or exc}") from None
    database = bind(make_database(cfg.database.url, home))
    try:
        with database.connection_context():
            sync_clock()
            before, _ = migrations.upgrade(seed=(lambda: _seed(cfg)) if seed else None)
    except Exception as exc:
        down = unreachable(exc)
        if down is not None:
            raise down from None
        raise
    return database


def _open_read_only(cfg, home: Path):
    """Read-only creates, migrates and seeds nothing: the store must exist at the current schema."""
    from batchops.errors import InputError
    from batchops.redact import redact_url
    from batchops.store import migrations

    if not cfg.database.url and not (home / "batchops.db").is_file():
        raise InputError(
            f"no store at {home / 'batchops.db'} (read-only mode creates nothing; run batchops init first)",
            code="E_NO_STORE",
        )
    database = bind(make_database(cfg.database.url, home, read_only=True))
    with database.connection_context():
        version = migrations.current_version()
    if version is None:  # a server database no `batchops init` has set up yet
        raise InputError(
            f"no store in {redact_url(cfg.database.url)} (read-only mode creates nothing; run batchops init first)",
            code="E_NO_STORE",
        )
    if version != migrations.LATEST:
        raise InputError(
            f"the store at {home} is at schema version {version}, not {migrations.LATEST}; "
            "open it once without --read-only to upgrade it",
            code="E_STORE_OUTDATED",
        )
    return database


def _seed(cfg) -> None:
    from batchops.store import seeds

    seeds.seed_known_errors()
    seeds.seed_jobs(cfg)


__all__ = ["db", "open_store"]
