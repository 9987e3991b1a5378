"""Backups of a PostgreSQL store with the server's own tools: ``pg_dump`` and ``pg_restore``.

``dump(target)`` writes a custom-format archive (``pg_dump -Fc``: one consistent
snapshot while workers keep writing, compressed, restorable table by table) and
verifies it by reading its table of contents back (``pg_restore --list``).
``load(archive)`` replaces the store's tables with the archive's in one
transaction (``--clean --if-exists --single-transaction``).

The password never appears on a command line (``PGPASSWORD`` in the child's
environment); the tools must be on PATH, from a PostgreSQL release at least as
new as the server (``apt-get install postgresql-client``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from batchops.errors import InputError, WorkError

ARCHIVE = "batchops.pgdump"
# peewee's own URL options, which libpq would refuse
PEEWEE_PARAMS = {
    "max_connections",
    "stale_timeout",
    "timeout",
    "prefer_psycopg3",
    "register_unicode",
    "isolation_level",
    "autorollback",
    "autoconnect",
}
TIMEOUT_S = 3600


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """(a libpq URI without the password, extra environment carrying it)."""
    parts = urlsplit(url)
    env = {"PGCONNECT_TIMEOUT": "5"}
    netloc = parts.netloc
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in PEEWEE_PARAMS])
    return urlunsplit(("postgresql", netloc, parts.path, query, "")), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise WorkError(
            f"{name} not found on PATH: install the PostgreSQL client tools "
            f"(apt-get install postgresql-client) of the server's version or newer",
            code="E_BACKUP_TOOL_MISSING",
        )
    return found


def _run(args: list[str], env: dict[str, str], what: str, code: str) -> str:
    try:
        proc = subprocess.run(
            args, env={**os.environ, **env}, capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise WorkError(f"{what} did not finish within {TIMEOUT_S} s", code=code) from None
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise WorkError(f"{what} failed: {lines[-1] if lines else f'exit {proc.returncode}'}", code=code)
    return proc.stdout


def dump(url: str, target: Path) -> dict:
    """pg_dump -Fc into ``target``, then verified; returns {"entries": n tables with data}."""
    uri, env = libpq_target(url)
    _run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}", f"--dbname={uri}"],
        env,
        "pg_dump",
        "E_BACKUP_FAILED",
    )
    return verify(target)


def verify(archive: Path) -> dict:
    """Read the archive's table of contents back; it must hold BatchOps' tables."""
    listing = _run(
        [_tool("pg_restore"), "--list", str(archive)], {}, f"pg_restore --list {archive.name}", "E_BACKUP_CORRUPT"
    )
    data = [line for line in listing.splitlines() if " TABLE DATA " in line]
    if not any(" schema_version " in line for line in data):
        raise WorkError(f"{archive} holds no BatchOps store (no schema_version table)", code="E_BACKUP_CORRUPT")
    return {"entries": len(data)}


def load(url: str, archive: Path) -> None:
    """Replace the store's tables with the archive's, all or nothing."""
    if not archive.is_file():
        raise InputError(f"backup not found: {archive}", code="E_FILE_NOT_FOUND")
    uri, env = libpq_target(url)
    _run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={uri}",
            str(archive),
        ],
        env,
        "pg_restore",
        "E_RESTORE_FAILED",
    )
