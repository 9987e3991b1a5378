"""Two processes doing read-then-write transactions on one store.

With SQLite's default DEFERRED transactions a read that upgrades to a write fails
with "database is locked" under contention, whatever busy_timeout says (see
TECH-NOTES). The store opens IMMEDIATE transactions, so both processes queue on
the write lock instead: no errors and no lost updates. On PostgreSQL the read
takes its row lock (``for_update``): the same result.
"""

from __future__ import annotations

import subprocess
import sys
import time

WORKER = r"""
import sys, time
from pathlib import Path
import peewee
from batchops import context
from batchops.services.setup import configure
from batchops.store.db import db, for_update, write
from batchops.store.models import AppState

home, n, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
configure(home=home)
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:  # start together
    time.sleep(0.005)
errors = 0


def bump():
    value = for_update(AppState.select().where(AppState.key == "counter")).get().value  # read ...
    AppState.update(value=value + 1).where(AppState.key == "counter").execute()  # ... then write


with db.connection_context():
    for _ in range(n):
        try:
            write(bump)
        except peewee.OperationalError as exc:
            errors += 1
            print("ERROR", exc, file=sys.stderr)
print("ERRORS", errors)
"""

PER_PROCESS = 300


def test_two_processes_read_then_write(app_ctx, home, tmp_path):
    from batchops.store.models import AppState

    AppState.create(key="counter", value=0)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(home), str(PER_PROCESS), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # let both import and open the store
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert "locked" not in err.lower(), err
        assert out.strip().endswith("ERRORS 0"), out + err
    assert AppState.get_by_id("counter").value == 2 * PER_PROCESS
