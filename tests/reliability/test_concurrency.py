"""Concurrent writers: three CLI processes and a two-thread worker share one store.

While ``batchops worker --workers 2`` runs queued uploads and its scheduler ticks
every second (``BATCHOPS_TICK_SECONDS=1``: dispatch due jobs + recover stale runs),
three ``batchops process`` processes publish files, a fourth queues more with
``process --queue``, and jobs are triggered. Afterwards every upload is published,
each exactly once with exactly one successful run, the triggered jobs ran, and
"database is locked" appears nowhere (stderr, worker log, run errors).
"""

from __future__ import annotations

from pathlib import Path

import corpus
import pytest
from reliability_helpers import (
    assert_clean_stderr,
    batchops,
    integrity,
    json_out,
    query,
    runs_not_done,
    spawn,
    stop,
    wait_for,
)

pytestmark = pytest.mark.slow

CONFIG = """\
[worker]
heartbeat_seconds = 0.5
lost_after_seconds = 20.0
"""
CLI_PROCESSES = 3
FILES_PER_CLI = 5
QUEUED = 8
ROWS = 300


def _write_files(folder: Path, prefix: str, n: int, start: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"{prefix}_{i}.csv"
        p.write_text(corpus.gradebook(ROWS, start=start + i * ROWS), encoding="utf-8")
        out.append(p)
    return out


def test_three_cli_writers_and_a_worker_lose_nothing(tmp_path):
    import subprocess
    import sys

    from reliability_helpers import _limits, cli_env

    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "batchops.toml").write_text(CONFIG)
    env = {"BATCHOPS_CONFIG": tmp_path / "batchops.toml", "BATCHOPS_TICK_SECONDS": "1"}
    assert batchops(home, "init", env=env).returncode == 0
    job = json_out(
        batchops(
            home,
            "jobs",
            "add",
            "--name",
            "every-minute-digest",
            "--callable",
            "send_system_status_digest",
            "--cron",
            "* * * * *",
            "--json",
            env=env,
        )
    )

    worker_log = tmp_path / "worker.log"
    worker = spawn(home, "worker", "--workers", "2", env=env, log=worker_log)
    try:
        wait_for(
            lambda: query(home, "SELECT COUNT(*) FROM worker_heartbeat WHERE stopped_at IS NULL")[0][0],
            30,
            what="the worker's heartbeat",
        )

        batches = [
            _write_files(tmp_path / "in", f"cli{k}", FILES_PER_CLI, 100_000 * (k + 1)) for k in range(CLI_PROCESSES)
        ]
        queued = _write_files(tmp_path / "in", "queued", QUEUED, 900_000)

        def start(*args):
            return subprocess.Popen(
                [sys.executable, "-m", "batchops", *map(str, args)],
                env=cli_env(home, env),
                cwd=str(tmp_path),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                preexec_fn=_limits,
            )

        procs = [start("process", "--json", "--queue", "--", *queued[: QUEUED // 2])]
        procs += [start("process", "--json", "--", *files) for files in batches]
        procs += [start("process", "--json", "--queue", "--", *queued[QUEUED // 2 :])]
        procs += [start("jobs", "trigger", job["id"], "--json") for _ in range(2)]
        outputs = [(p, *p.communicate(timeout=90)) for p in procs]
        for p, _out, err in outputs:
            assert_clean_stderr(err)
            assert p.returncode == 0, f"exit {p.returncode}: {p.args[3:6]}\n{err[-3000:]}"

        total = CLI_PROCESSES * FILES_PER_CLI + QUEUED

        def settled():
            rows = query(home, "SELECT status, COUNT(*) FROM upload GROUP BY status")
            counts = dict(rows)
            return counts if counts.get("published", 0) == total else None

        wait_for(settled, 45, every=0.5, what="every upload to be published", explain=lambda: runs_not_done(home))
        wait_for(
            lambda: not query(home, "SELECT id FROM job_run WHERE status IN ('queued', 'running')"),
            30,
            every=0.5,
            what="the triggered job runs to finish",
        )
    finally:
        stop(worker)

    log = worker_log.read_text(encoding="utf-8", errors="replace")
    assert "database is locked" not in log.lower(), log[-4000:]
    assert "Traceback" not in log, log[-4000:]

    names = query(home, "SELECT original_name, COUNT(*) FROM upload GROUP BY original_name")
    expected = {p.name for files in batches for p in files} | {p.name for p in queued}
    assert {n for n, _ in names} == expected  # none lost
    assert all(c == 1 for _, c in names), names  # none duplicated
    per_upload = query(
        home,
        "SELECT upload_id, COUNT(*), SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) "
        "FROM job_run WHERE kind = 'pipeline' GROUP BY upload_id",
    )
    assert len(per_upload) == total and all(n == 1 and ok == 1 for _, n, ok in per_upload), per_upload
    assert not query(home, "SELECT id, error_message FROM job_run WHERE error_message LIKE '%locked%'")
    job_runs = query(home, "SELECT status, trigger, error_message FROM job_run WHERE kind = 'job'")
    manual = [s for s, t, _ in job_runs if t != "schedule"]
    assert len(manual) >= 2 and all(s == "succeeded" for s in manual), job_runs
    # a scheduled fire either ran, or was skipped because a triggered run of the job was still going
    assert all(
        s == "succeeded" or (s == "skipped" and "never overlaps itself" in (m or ""))
        for s, t, m in job_runs
        if t == "schedule"
    ), job_runs
    # published reports are complete on disk: no temp files, every CSV has every row
    for (upload_id,) in query(home, "SELECT id FROM upload"):
        folder = home / "exports" / str(upload_id)
        assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    import serverlib

    if not serverlib.active():  # SQLite's files; a server keeps its own
        assert integrity(home) == "ok"
        assert integrity(home, "queue.db") == "ok"
