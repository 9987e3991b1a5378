"""The one database handle, bound at start-up from the configuration.

SQLite by default (WAL, busy_timeout, foreign keys, IMMEDIATE write
transactions so a read never has to upgrade to a write under contention);
``database.url`` may name PostgreSQL instead. Connections are per thread:
wrap thread and task bodies in ``db.connection_context()``.

SQLite has one writer at a time, so a read-then-write inside ``write()`` is
safe there. PostgreSQL runs writers side by side (READ COMMITTED), so code
that decides from what it read takes a lock first: ``lock(name)`` (an advisory
transaction lock; nothing on SQLite, whose IMMEDIATE transaction already is
one) or ``for_update(query)``. Deadlocks and serialization failures are retried
like SQLite's "database is locked".
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
import zlib
from functools import wraps
from pathlib import Path
from urllib.parse import urlsplit

import peewee

from batchops.errors import ConfigError, WorkError

db = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10000,
    "synchronous": "normal",
    "foreign_keys": 1,
    "cache_size": -16000,
}
POSTGRES_SCHEMES = ("postgres", "postgresql", "postgres+pool", "postgresql+pool")
# SQLSTATEs worth trying again: serialization_failure, deadlock_detected, lock_not_available
RETRY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
CONNECT_TIMEOUT_S = 5
DRIVER_HINT = 'pip install "batchops[postgres]"'


def is_postgres_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in POSTGRES_SCHEMES if url else False


def _postgres_driver() -> None:
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigError(
                f"database.url names PostgreSQL but no driver is installed: {DRIVER_HINT}", code="E_DB_DRIVER_MISSING"
            ) from None


# Read-only: no journal_mode (setting it rewrites the file header: a backup would no longer
# match its manifest's hash) and SQLite itself refuses every write (mode=ro).
SQLITE_READ_ONLY_PRAGMAS = {k: v for k, v in SQLITE_PRAGMAS.items() if k not in ("journal_mode", "synchronous")}


def make_database(url: str, home: Path, read_only: bool = False) -> peewee.Database:
    if not url:
        path = home / "batchops.db"
        if read_only:
            from urllib.parse import quote

            return peewee.SqliteDatabase(
                f"file:{quote(str(path))}?mode=ro",
                uri=True,
                timeout=10,
                pragmas=SQLITE_READ_ONLY_PRAGMAS,
                thread_safe=True,
            )
        return peewee.SqliteDatabase(
            str(path),
            timeout=10,
            lock_type="IMMEDIATE",
            pragmas=SQLITE_PRAGMAS,
            thread_safe=True,
        )
    from playhouse.db_url import connect

    from batchops.config import redact_url

    params: dict[str, object] = {}
    if is_postgres_url(url):
        _postgres_driver()
        # a server that does not answer is an error in seconds, not a hang
        params["connect_timeout"] = CONNECT_TIMEOUT_S
        params["application_name"] = "batchops"
    try:
        return connect(url, **params)
    except (RuntimeError, ValueError, TypeError) as exc:  # unknown scheme, no database name, bad port
        raise ConfigError(f"database.url {redact_url(url)} is not usable: {exc}", code="E_DB_URL") from None


def bind(database: peewee.Database) -> peewee.Database:
    if db.obj is not None and db.obj is not database and not db.obj.is_closed():
        db.obj.close()
    db.initialize(database)
    return database


def is_sqlite() -> bool:
    return isinstance(db.obj, peewee.SqliteDatabase)


def is_postgres() -> bool:
    return isinstance(db.obj, peewee.PostgresqlDatabase)


# ------------------------------------------------------------------ errors


def sqlstate(error: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind a (peewee-wrapped) driver error, if any."""
    seen = 0
    exc: BaseException | None = error
    while exc is not None and seen < 5:
        code = getattr(exc, "pgcode", None) or getattr(exc, "sqlstate", None)
        if code:
            return code
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = inner or exc.__cause__ or exc.__context__
        seen += 1
    return None


def _is_busy(exc: BaseException) -> bool:
    if sqlstate(exc) in RETRY_SQLSTATES:
        return True
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def unreachable(exc: BaseException) -> WorkError | None:
    """A coded error when ``exc`` says the database server cannot be reached, else None."""
    if not isinstance(exc, (peewee.OperationalError, peewee.InterfaceError)) or is_sqlite():
        return None
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    state = sqlstate(exc)
    if state and not state.startswith(("08", "57P", "53")):  # connection, shutdown, resources
        return None
    return WorkError(f"the database server cannot be reached: {text}", code="E_DB_UNREACHABLE")


def retry_busy(fn=None, *, attempts: int = 8, base_delay: float = 0.05):
    """Retry a transaction on a transient 'database is locked' with jittered backoff.

    busy_timeout covers most contention; this is the second line for the rare
    cases SQLite reports busy at once (e.g. a WAL checkpoint racing a writer).
    On PostgreSQL it retries deadlocks and serialization failures - only at the
    outermost transaction: inside another one the whole transaction must go again.
    """

    def decorate(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            nested = not is_sqlite() and db.obj is not None and db.in_transaction()
            for attempt in range(attempts):
                try:
                    return func(*args, **kwargs)
                except (peewee.OperationalError, peewee.InternalError, sqlite3.OperationalError) as exc:
                    if nested or not _is_busy(exc) or attempt == attempts - 1:
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


def atomic():
    """A transaction, or - inside one already - part of it (no savepoint: two statements fewer).

    For functions that are called both on their own and inside a caller's ``write()``; where
    a failure must be undone without spoiling the caller's transaction, use ``db.atomic()``.
    """
    return contextlib.nullcontext() if db.in_transaction() else db.atomic()


# ------------------------------------------------------------------ locks


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for an advisory lock (every process, every machine, the same)."""
    return zlib.crc32(name.encode("utf-8")) | (0x42 << 32)


def lock(name: str) -> None:
    """Serialise this transaction with every other one that locks ``name``, until it ends.

    PostgreSQL: ``pg_advisory_xact_lock``. SQLite: nothing to do - the write
    transaction already holds the one write lock.
    """
    if is_postgres():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (lock_key(name),))


def for_update(query):
    """``SELECT ... FOR UPDATE`` where the database has it (SQLite's write transaction needs none)."""
    return query.for_update() if is_postgres() else query


class session_lock:
    """A session-level advisory lock held across transactions (schema changes); no-op on SQLite."""

    def __init__(self, name: str):
        self.key = lock_key(name)

    def __enter__(self):
        if is_postgres():
            db.execute_sql("SELECT pg_advisory_lock(%s)", (self.key,))
        return self

    def __exit__(self, *exc):
        if is_postgres():
            db.execute_sql("SELECT pg_advisory_unlock(%s)", (self.key,))
        return False


# ------------------------------------------------------------------ server time


def server_clock_offset() -> float:
    """Seconds to add to this machine's clock to read the database server's (0 on SQLite).

    Measured around one round trip, so the error is at most half of it. Every
    machine then stamps heartbeats and claims in the server's time, and one
    machine's fast clock cannot make another's worker look lost.
    """
    if not is_postgres():
        return 0.0
    before = time.time()
    server = db.execute_sql("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0]
    after = time.time()
    return float(server) - (before + after) / 2


def sync_clock() -> float:
    """Align ``clock.utc_now()`` with the database server; returns the offset in seconds."""
    from batchops import clock

    offset = server_clock_offset()
    clock.set_offset(offset)
    return offset
