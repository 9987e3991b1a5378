"""The store: Peewee models, connection set-up, migrations, seeds, files."""

from __future__ import annotations

from pathlib import Path

from batchops.errors import ConfigError
from batchops.store.db import bind, db, make_database, sync_clock, unreachable


def open_store(cfg, *, seed: bool = True):
    """Bind the database from ``cfg`` and bring the schema up to date.

    A brand-new store is seeded (default jobs, known errors); an existing one
    is only upgraded, so operator edits are never overwritten.
    """
    from batchops.store import migrations

    home = Path(cfg.data_dir)
    try:
        home.mkdir(parents=True, exist_ok=True)
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


def _seed(cfg) -> None:
    from batchops.store import seeds

    seeds.seed_known_errors()
    seeds.seed_jobs(cfg)


__all__ = ["db", "open_store"]
