"""The one database handle, bound at start-up from the configuration.

SQLite by default (WAL, busy_timeout, foreign keys, IMMEDIATE write
transactions so a read never has to upgrade to a write under contention);
``database.url`` may name PostgreSQL instead. Connections are per thread:
wrap thread and task bodies in ``db.connection_context()``.
"""

from __future__ import annotations

import random
import sqlite3
import time
from functools import wraps
from pathlib import Path

import peewee

db = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "synchronous": "normal",
    "foreign_keys": 1,
    "cache_size": -16000,
}


# Read-only: no journal_mode (setting it rewrites the file header: a backup would no longer
# match its manifest's hash) and SQLite itself refuses every write (mode=ro).
SQLITE_READ_ONLY_PRAGMAS = {k: v for k, v in SQLITE_PRAGMAS.items() if k not in ("journal_mode", "synchronous")}


def make_database(url: str, home: Path, read_only: bool = False) -> peewee.Database:
    if not url:
        path = home / "batchops.db"
        if read_only:
            from urllib.parse import quote

            return peewee.SqliteDatabase(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=10,
                                         pragmas=SQLITE_READ_ONLY_PRAGMAS, thread_safe=True)
        return peewee.SqliteDatabase(
            str(path),
            timeout=10,
            lock_type="IMMEDIATE",
            pragmas=SQLITE_PRAGMAS,
            thread_safe=True,
        )
    from playhouse.db_url import connect

    return connect(url)


def bind(database: peewee.Database) -> peewee.Database:
    if db.obj is not None and db.obj is not database and not db.obj.is_closed():
        db.obj.close()
    db.initialize(database)
    return database


def is_sqlite() -> bool:
    return isinstance(db.obj, peewee.SqliteDatabase)


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def retry_busy(fn=None, *, attempts: int = 8, base_delay: float = 0.05):
    """Retry a transaction on a transient 'database is locked' with jittered backoff.

    busy_timeout covers most contention; this is the second line for the rare
    cases SQLite reports busy at once (e.g. a WAL checkpoint racing a writer).
    """

    def decorate(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            for attempt in range(attempts):
                try:
                    return func(*args, **kwargs)
                except (peewee.OperationalError, sqlite3.OperationalError) as exc:
                    if not _is_busy(exc) or attempt == attempts - 1:
                        raise
                    time.sleep(base_delay * (2**attempt) * (0.5 + random.random()))
            raise AssertionError("unreachable")

        return wrapper

    return decorate(fn) if fn is not None else decorate


def write(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in one short write transaction (IMMEDIATE on SQLite), retried while busy."""

    @retry_busy
    def attempt():
        with db.atomic():
            return fn(*args, **kwargs)

    return attempt()
