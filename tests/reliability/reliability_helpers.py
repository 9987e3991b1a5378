"""The CLI under resource limits and the store read from outside, for the reliability tests.

(Imported as a plain module: tests are not a package.)

Everything here talks to BatchOps the way an operator or a script does: ``batchops``
subprocesses on a temp data home. The store is inspected with plain ``sqlite3``
(read-only URI), never through the app, so a corrupt store cannot hide behind it.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

MEMORY_LIMIT = 2 * 1024**3  # RLIMIT_AS for every batchops child: bounded memory or a failed test


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    os.setsid()  # own process group: a kill reaches the worker's children too


def cli_env(home: Path, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update({"BATCHOPS_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    env.pop("BATCHOPS_CONFIG", None)
    env.pop("BATCHOPS_READ_ONLY", None)
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def batchops(
    home: Path, *args, env: dict | None = None, timeout: float = 120, cwd: Path | None = None, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run ``batchops ARGS`` on ``home`` (2 GB address-space limit, own session), capture text output."""
    return subprocess.run(
        [sys.executable, "-m", "batchops", *map(str, args)],
        env=cli_env(home, env),
        cwd=str(cwd or home.parent),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        preexec_fn=_limits,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def batchops_here(
    home: Path, *args, env: dict | None = None, timeout: float = 120, cwd: Path | None = None, input: str | None = None
) -> subprocess.CompletedProcess:
    """``batchops(...)`` in this process: for what a command does, not how a process lives or dies."""
    from cli_runner import run_cli_in_process

    env = {"BATCHOPS_CONFIG": None, "BATCHOPS_READ_ONLY": None, **(env or {})}
    return run_cli_in_process(args, home=home, env=env, input=input, cwd=cwd)


def spawn(
    home: Path, *args, env: dict | None = None, log: Path | None = None, cwd: Path | None = None
) -> subprocess.Popen:
    """Start ``batchops ARGS`` in the background (stdout+stderr to ``log``)."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "batchops", *map(str, args)],
            env=cli_env(home, env),
            cwd=str(cwd or home.parent),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_limits,
        )
    finally:
        if log:
            out.close()


def kill_group(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop(proc: subprocess.Popen, timeout: float = 15) -> int | None:
    """SIGTERM, then SIGKILL if it will not go."""
    if proc.poll() is None:
        kill_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc, signal.SIGKILL)
            proc.wait(10)
    return proc.returncode


def json_out(proc: subprocess.CompletedProcess):
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"not JSON (exit {proc.returncode}):\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-3000:]}"
        ) from None


def query(home: Path, sql: str, params=()) -> list[tuple]:
    """SQL straight at the store: the SQLite file, or on --backend server this test's PostgreSQL database."""
    import serverlib

    if serverlib.active():
        return serverlib.query(sql, params)
    conn = sqlite3.connect(f"file:{home / 'batchops.db'}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def integrity(home: Path, name: str = "batchops.db") -> str:
    conn = sqlite3.connect(f"file:{home / name}?mode=ro", uri=True, timeout=30)
    try:
        return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def wait_for(predicate, timeout: float, every: float = 0.2, what: str = "condition", explain=None):
    """``predicate()``'s first truthy value; on a timeout, ``explain()`` (the state that matters) is in the message."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}" + (f": {explain()}" if explain else ""))


def runs_not_done(home) -> list[tuple]:
    """Uploads that are not published, with their newest run's state and error: why a wait timed out."""
    return query(
        home,
        "SELECT u.id, u.status, r.id, r.status, r.error_code, substr(r.error_message, 1, 200) FROM upload u "
        "LEFT JOIN job_run r ON r.id = (SELECT max(id) FROM job_run WHERE upload_id = u.id) "
        "WHERE u.status != 'published'",
    )


def assert_clean_stderr(text: str) -> None:
    assert "Traceback" not in text, text[-4000:]
    assert "E_INTERNAL" not in text, text[-4000:]
    assert "database is locked" not in text.lower(), text[-4000:]
