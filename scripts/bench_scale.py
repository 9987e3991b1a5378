#!/usr/bin/env python3
"""N queued uploads through 1, 2 and 4 worker processes: SQLite vs PostgreSQL + Redis, in one run.

    python scripts/bench_scale.py [-n 40] [--rows 300] [--workers 1,2,4]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres --queue-url redis://127.0.0.1:6379/0]

The server URLs default to BATCHOPS_TEST_DATABASE_URL / BATCHOPS_TEST_QUEUE_URL (``source
.ci/servers.sh DIR`` starts both on loopback); the database URL is an admin connection: every
configuration gets a database of its own, dropped afterwards. Without them only SQLite runs.

For each backend and worker count: a fresh store, N distinct gradebooks queued with one
``batchops process --queue``, then W ``batchops worker --workers 1`` processes drain the queue.
runs/s = N / (last run finished - first run started), read from the store, so worker start-up
is not counted. On one machine the processes share its cores: this shows contention and
overhead, not the scale-out several machines would give.

It also counts the SQL statements one pipeline run costs (submit: upload + reserved run; run:
claim, steps, publish, auto-resolve), in-process with peewee's query hooks - the round trips that
grow with every machine added. BEGIN/COMMIT are counted apart as transactions.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
GOAL_STATEMENTS = 20


def gradebook(rows: int, seed: int) -> str:
    lines = ["student_id,name,math,science,english"]
    lines += [
        f"S{seed:04d}{i:05d},Student {i},{(i + seed) % 101},{(i * 7 + seed) % 101},{(i * 13) % 101}"
        for i in range(rows)
    ]
    return "\n".join(lines) + "\n"


class Backend:
    """Where the store and queue live: SQLite files in the home, or a fresh PostgreSQL database + Redis name."""

    def __init__(self, name: str, admin_url: str = "", queue_url: str = ""):
        self.name, self.admin_url, self.queue_url = name, admin_url, queue_url
        self.db_name = ""

    def __enter__(self):
        if self.admin_url:
            self.db_name = f"bench_{uuid.uuid4().hex[:10]}"
            self._admin(f'CREATE DATABASE "{self.db_name}"')
        return self

    def __exit__(self, *exc):
        if self.db_name:
            self._admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        try:
            conn.cursor().execute(sql)
        finally:
            conn.close()

    def env(self, home: Path) -> dict:
        env = dict(os.environ, BATCHOPS_HOME=str(home), PYTHONPATH=str(REPO), NO_COLOR="1")
        for key in (
            "BATCHOPS_CONFIG",
            "BATCHOPS_QUEUE_IMMEDIATE",
            "BATCHOPS_DATABASE_URL",
            "BATCHOPS_QUEUE_URL",
            "BATCHOPS_QUEUE_NAME",
            "BATCHOPS_TICK_SECONDS",
        ):
            env.pop(key, None)
        if self.db_name:
            env["BATCHOPS_DATABASE_URL"] = urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{self.db_name}"))
            env["BATCHOPS_QUEUE_URL"] = self.queue_url
            env["BATCHOPS_QUEUE_NAME"] = self.db_name
        return env


def cli(env: dict, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "batchops", *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SystemExit(f"batchops {' '.join(args[:3])} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def _store(env: dict):
    """Configure this process on the bench's store (for reading results)."""
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("BATCHOPS_")})
    from batchops import context
    from batchops.queue import app
    from batchops.services.setup import configure

    context.reset()
    app.reset()
    try:
        return configure(home=env["BATCHOPS_HOME"])
    finally:
        os.environ.clear()
        os.environ.update(saved)


def drain(backend: Backend, workers: int, n: int, rows: int, root: Path) -> float:
    """Queue n uploads, start the workers, wait until all are published; returns runs/s."""
    from batchops.store.db import db
    from batchops.store.models import Job, JobRun, Upload

    home = root / f"{backend.name}-{workers}"
    env = backend.env(home)
    cli(env, "init")
    _store(env)
    with db.connection_context():
        Job.update(paused=True).execute()  # only the uploads run
    folder = root / f"in-{backend.name}-{workers}"
    folder.mkdir()
    paths = []
    for i in range(n):
        path = folder / f"gradebook_{i:03d}.csv"
        path.write_text(gradebook(rows, seed=workers * 1000 + i), encoding="utf-8")
        paths.append(str(path))
    cli(env, "process", "--queue", "--json", "--", *paths)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "batchops", "worker", "--workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            with db.connection_context():
                done = Upload.select().where(Upload.status.in_(("published", "failed"))).count()
            if done >= n:
                break
            time.sleep(0.25)
        else:
            raise SystemExit(f"{backend.name} with {workers} worker(s): not done in 900 s")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    with db.connection_context():
        runs = list(JobRun.select().where(JobRun.kind == "pipeline"))
        failed = Upload.select().where(Upload.status == "failed").count()
    db.close()
    if failed:
        raise SystemExit(f"{backend.name} with {workers} worker(s): {failed} upload(s) failed")
    first = min(r.started_at for r in runs)
    last = max(r.finished_at for r in runs)
    return n / max(1e-6, (last - first).total_seconds())


def count_statements(backend: Backend, rows: int, root: Path) -> dict:
    """Statements and transactions for one upload: submit (CLI side) and run (worker side)."""
    from batchops.services import processing
    from batchops.store.db import db

    home = root / f"{backend.name}-count"
    env = backend.env(home)
    cli(env, "init")
    _store(env)
    database = db.obj
    counts = {"statements": 0, "transactions": 0}
    database.query_hooks.append(lambda event: counts.__setitem__("statements", counts["statements"] + 1))
    real_begin = database.begin

    def begin(*args, **kwargs):
        counts["transactions"] += 1
        return real_begin(*args, **kwargs)

    database.begin = begin
    phases = {}
    real_execute = processing.execute

    def execute(run_id):
        phases["submit"] = dict(counts)
        return real_execute(run_id)

    processing.execute = execute
    source = root / "count.csv"
    source.write_text(gradebook(rows, seed=7), encoding="utf-8")
    try:
        with db.connection_context():
            db.execute_sql("SELECT 1")  # the connection is open: its set-up is not a run's cost
            counts.update(statements=0, transactions=0)
            result = processing.process_file(source)
    finally:
        processing.execute = real_execute
        database.begin = real_begin
        database.query_hooks.clear()
    assert result["status"] == "published", result
    submit = phases["submit"]
    return {"submit": submit, "run": {k: counts[k] - submit[k] for k in counts}, "total": dict(counts)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="uploads per configuration (default 40)")
    parser.add_argument("--rows", type=int, default=300, help="rows per gradebook (default 300)")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts (default 1,2,4)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BATCHOPS_TEST_DATABASE_URL", ""),
        help="PostgreSQL admin URL (default BATCHOPS_TEST_DATABASE_URL)",
    )
    parser.add_argument(
        "--queue-url",
        default=os.environ.get("BATCHOPS_TEST_QUEUE_URL", ""),
        help="Redis URL (default BATCHOPS_TEST_QUEUE_URL)",
    )
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    backends = [Backend("sqlite")]
    if args.database_url and args.queue_url:
        backends.append(Backend("postgres+redis", args.database_url, args.queue_url))
    else:
        print("(no --database-url/--queue-url: SQLite only)")
    sys.path.insert(0, str(REPO))

    print(f"{os.cpu_count()} CPU(s); {args.n} uploads of {args.rows} rows per configuration")
    print(f"{'backend':<16}{'workers':>8}{'runs/s':>10}")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)
        statements = {}
        for backend in backends:
            for workers in counts:
                with backend:
                    rate = drain(backend, workers, args.n, args.rows, root)
                print(f"{backend.name:<16}{workers:>8}{rate:>10.2f}", flush=True)
            with backend:
                statements[backend.name] = count_statements(backend, args.rows, root)
    print("\nSQL per pipeline run (one upload, in-process; goal <= %d statements):" % GOAL_STATEMENTS)
    for name, c in statements.items():
        print(
            f"  {name:<16} submit {c['submit']['statements']:>3} statements in {c['submit']['transactions']} "
            f"transactions; run {c['run']['statements']:>3} statements in {c['run']['transactions']} transactions; "
            f"total {c['total']['statements']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
