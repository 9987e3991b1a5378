"""The server backend for tests: a fresh PostgreSQL database and Redis queue name per test.

``pytest --backend server`` (or ``BATCHOPS_TEST_BACKEND=server``) runs the chosen suites
against the real servers named by ``BATCHOPS_TEST_DATABASE_URL`` (an admin connection:
each test gets its own ``CREATE DATABASE``) and ``BATCHOPS_TEST_QUEUE_URL``; ``.ci/servers.sh``
starts both on loopback. The test's processes find them through ``BATCHOPS_DATABASE_URL``,
``BATCHOPS_QUEUE_URL`` and ``BATCHOPS_QUEUE_NAME``, so CLI and worker subprocesses use them too.

(Imported as a plain module: tests are not a package.)
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

ADMIN_URL_VAR = "BATCHOPS_TEST_DATABASE_URL"
QUEUE_URL_VAR = "BATCHOPS_TEST_QUEUE_URL"


def available() -> bool:
    return bool(os.environ.get(ADMIN_URL_VAR) and os.environ.get(QUEUE_URL_VAR))


def active() -> bool:
    """Whether this process runs against the servers (the per-test variables are set)."""
    return bool(os.environ.get("BATCHOPS_DATABASE_URL"))


_modules: dict = {}


def driver(name: str):
    """psycopg2 or redis, kept from the first use: a test may hide a driver (sys.modules) until its teardown."""
    if name not in _modules:
        import importlib

        _modules[name] = importlib.import_module(name)
    return _modules[name]


def _admin():
    conn = driver("psycopg2").connect(os.environ[ADMIN_URL_VAR])
    conn.autocommit = True
    return conn


def database_url(name: str) -> str:
    parts = urlsplit(os.environ[ADMIN_URL_VAR])
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(prefix: str = "bo") -> str:
    """A new, empty database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = _admin()
    try:
        conn.cursor().execute(f'CREATE DATABASE "{name}" TEMPLATE template0 STRATEGY FILE_COPY')
    finally:
        conn.close()
    return database_url(name)


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = _admin()
    try:
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


def flush_queue(name: str) -> None:
    """Delete the Redis keys of one queue name (Huey's keys all carry it)."""
    client = driver("redis").Redis.from_url(os.environ[QUEUE_URL_VAR])
    try:
        keys = list(client.scan_iter(match=f"*{name}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def env_for(database_url: str, queue_name: str) -> dict[str, str]:
    return {
        "BATCHOPS_DATABASE_URL": database_url,
        "BATCHOPS_QUEUE_URL": os.environ[QUEUE_URL_VAR],
        "BATCHOPS_QUEUE_NAME": queue_name,
    }


def query(sql: str, params=(), url: str | None = None) -> list[tuple]:
    """SQL against this test's database, or ``url`` (``?`` placeholders become ``%s``)."""
    conn = driver("psycopg2").connect(url or os.environ["BATCHOPS_DATABASE_URL"])
    try:
        with conn.cursor() as cur:
            if params:
                cur.execute(sql.replace("%", "%%").replace("?", "%s"), params)
            else:
                cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def execute(sql: str, params=(), url: str | None = None) -> int:
    """A write against this test's database, or ``url``, committed; returns the row count."""
    conn = driver("psycopg2").connect(url or os.environ["BATCHOPS_DATABASE_URL"])
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), params or None)
            return cur.rowcount
    finally:
        conn.close()
