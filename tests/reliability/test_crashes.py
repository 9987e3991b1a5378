"""Crashes: SIGKILL the worker in every pipeline step and mid-publish, SIGKILL the CLI, restore a backup.

The worker is held in a step with the test hook (``BATCHOPS_TEST_PAUSE_STEP``),
killed with SIGKILL (its whole process group), and then the next ``batchops``
command must find the run failed with ``E_WORKER_LOST`` and the upload failed or
queued for its automatic retry, never ``processing``; no half-written report may
be visible under ``exports/<id>/`` (temp files are dot-prefixed). A later worker
retries every killed upload and must publish byte-identical CSVs.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import corpus
import pytest
from reliability_helpers import (
    assert_clean_stderr,
    batchops,
    integrity,
    json_out,
    kill_group,
    query,
    runs_not_done,
    spawn,
    stop,
    wait_for,
)

pytestmark = pytest.mark.slow

STEPS = ("standardize", "validate", "transform", "summarize", "publish")
CONFIG = """\
[worker]
heartbeat_seconds = 0.5
lost_after_seconds = 20.0
"""
PLAN = ("--plan", "custom", "--instructions", "crash test")  # publishes the dataset: CSV bytes comparable


class Lab:
    """One data home shared by the kill tests (setup once: a few seconds)."""

    def __init__(self, base: Path):
        self.base = base
        self.home = base / "home"
        self.home.mkdir()
        (base / "batchops.toml").write_text(CONFIG)
        self.env = {"BATCHOPS_CONFIG": base / "batchops.toml", "BATCHOPS_TICK_SECONDS": "2"}
        assert self.cli("init").returncode == 0
        ke = [k for k in json_out(self.cli("known-errors", "list", "--json")) if k["error_code"] == "E_WORKER_LOST"]
        # no automatic retry here: a retry picked up by the next (pausing) worker would hold its thread;
        # the retry test below retries each killed upload itself
        r = self.cli("known-errors", "edit", ke[0]["id"], "--no-auto-retry")
        assert r.returncode == 0, r.stderr
        self.inputs = base / "in"
        self.inputs.mkdir()
        self.small = corpus.gradebook(400)
        self.big = corpus.gradebook(60_000)
        self.reference = {}  # content kind -> CSV bytes of an uninterrupted run
        for kind, text in (("small", self.small), ("big", self.big)):
            path = self.write(f"reference_{kind}.csv", text)
            res = json_out(self.cli("process", "--json", *PLAN, "--", path))
            assert res["status"] == "published", res
            self.reference[kind] = Path(res["reports"]["csv"]).read_bytes()
        self.killed: dict[int, str] = {}  # upload id -> content kind
        self.caught_publishing = 0

    def cli(self, *args, env=None, timeout=120):
        return batchops(self.home, *args, env={**self.env, **(env or {})}, timeout=timeout, cwd=self.base)

    def write(self, name: str, text: str) -> Path:
        path = self.inputs / name
        path.write_text(text, encoding="utf-8")
        return path

    def worker(self, log: str, workers: int = 1, **env):
        proc = spawn(
            self.home, "worker", "--workers", str(workers), env={**self.env, **env}, log=self.base / log, cwd=self.base
        )
        wait_for(
            lambda: query(
                self.home, "SELECT COUNT(*) FROM worker_heartbeat WHERE pid = ? AND stopped_at IS NULL", (proc.pid,)
            )[0][0],
            30,
            what="worker heartbeat",
        )
        return proc

    def run_of(self, upload_id: int):
        rows = query(
            self.home,
            "SELECT id, status, steps, error_code FROM job_run WHERE upload_id = ? ORDER BY id DESC LIMIT 1",
            (upload_id,),
        )
        return rows[0] if rows else None

    def step_running(self, upload_id: int, step: str) -> bool:
        run = self.run_of(upload_id)
        if not run or run[1] != "running" or not run[2]:
            return False
        return any(s.get("name") == step and s.get("status") == "running" for s in json.loads(run[2]))

    def assert_no_partial_reports(self, upload_id: int, kind: str) -> None:
        folder = self.home / "exports" / str(upload_id)
        if not folder.exists():
            return
        for p in folder.iterdir():
            if p.name.startswith("."):
                assert p.name.endswith(".tmp"), p.name  # an abandoned temp file, never a report
                continue
            if p.suffix == ".csv":
                assert p.read_bytes() == self.reference[kind], f"partial CSV visible: {p}"
            else:
                data = p.read_bytes()
                assert data.startswith(b"%PDF") and b"%%EOF" in data[-32:], f"partial PDF visible: {p}"

    def assert_recovered(self, upload_id: int, killed_run: int) -> None:
        """The next command (any command) recovers the run; the upload is never left processing."""
        shown = json_out(self.cli("uploads", "show", upload_id, "--json"))
        assert shown["status"] in ("failed", "queued"), shown["status"]
        run = {r["id"]: r for r in shown["runs"]}[killed_run]
        assert run["status"] == "failed" and run["error_code"] == "E_WORKER_LOST", run
        assert shown["incidents"], "the lost run opened no incident"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return Lab(tmp_path_factory.mktemp("crash"))


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_worker_in_each_step(lab, step):
    path = lab.write(f"killed_in_{step}.csv", lab.small)
    worker = lab.worker(f"worker-{step}.log", BATCHOPS_TEST_PAUSE_STEP=step, BATCHOPS_TEST_PAUSE_SECONDS="60")
    try:
        res = json_out(lab.cli("process", "--queue", "--json", *PLAN, "--", path))
        upload_id, run_id = res["upload_id"], res["run_id"]
        wait_for(lambda: lab.step_running(upload_id, step), 30, every=0.1, what=f"{step} to start")
        kill_group(worker, signal.SIGKILL)
        worker.wait(10)
    finally:
        stop(worker)
    lab.killed[upload_id] = "small"
    lab.assert_no_partial_reports(upload_id, "small")
    lab.assert_recovered(upload_id, run_id)


@pytest.mark.parametrize("offset", [0.0, 0.05, 0.3])
def test_sigkill_worker_while_publish_writes(lab, offset):
    """No pause: kill a moment into publishing a 60,000-row dataset (CSV + PDF being written)."""
    path = lab.write(f"killed_publishing_{offset}.csv", lab.big)
    worker = lab.worker(f"worker-publish-{offset}.log")
    try:
        res = json_out(lab.cli("process", "--queue", "--json", *PLAN, "--", path))
        upload_id, run_id = res["upload_id"], res["run_id"]
        wait_for(
            lambda: lab.step_running(upload_id, "publish") or lab.run_of(upload_id)[1] == "succeeded",
            60,
            every=0.02,
            what="publish to start",
        )
        time.sleep(offset)
        kill_group(worker, signal.SIGKILL)
        worker.wait(10)
    finally:
        stop(worker)
    lab.killed[upload_id] = "big"
    lab.assert_no_partial_reports(upload_id, "big")
    if lab.run_of(upload_id)[1] != "succeeded":  # too late to catch it mid-write: it simply finished
        lab.assert_recovered(upload_id, run_id)
        lab.caught_publishing += 1


def test_killed_runs_are_retried_to_the_same_reports(lab):
    if not lab.killed:
        pytest.skip("no killed uploads (run the kill tests first)")
    worker = lab.worker("worker-retry.log", workers=2)
    try:
        for uid in lab.killed:
            if query(lab.home, "SELECT status FROM upload WHERE id = ?", (uid,))[0][0] == "failed":
                r = lab.cli("uploads", "retry", uid, "--json")
                assert r.returncode == 0, r.stderr

        def all_published():
            states = dict(
                query(lab.home, f"SELECT id, status FROM upload WHERE id IN ({','.join(map(str, lab.killed))})")
            )
            return all(s == "published" for s in states.values())

        wait_for(
            all_published,
            60,
            every=0.5,
            what="the killed uploads to be retried and published",
            explain=lambda: runs_not_done(lab.home),
        )
    finally:
        stop(worker)
    log = (lab.base / "worker-retry.log").read_text(errors="replace")
    assert "Traceback" not in log and "database is locked" not in log.lower(), log[-3000:]
    for uid, kind in lab.killed.items():
        (csv_path,) = query(lab.home, "SELECT report_csv_path FROM upload WHERE id = ?", (uid,))[0]
        assert not Path(csv_path).is_absolute(), csv_path  # a storage key, never one machine's path
        assert (lab.home / csv_path).read_bytes() == lab.reference[kind], f"upload {uid}: retried CSV differs"
        lab.assert_no_partial_reports(uid, kind)
        runs = query(lab.home, "SELECT status, error_code FROM job_run WHERE upload_id = ? ORDER BY id", (uid,))
        assert runs[-1][0] == "succeeded" and ("failed", "E_WORKER_LOST") in runs or runs == [("succeeded", None)], runs
    assert not query(lab.home, "SELECT id FROM upload WHERE status IN ('processing', 'queued')")
    assert integrity(lab.home) == "ok"
    if "big" in lab.killed.values():
        assert lab.caught_publishing, "no kill landed while publishing (all runs had finished)"


def test_sigkill_cli_mid_process_leaves_nothing_stuck(lab):
    path = lab.write("cli_killed.csv", lab.small)
    import subprocess
    import sys

    from reliability_helpers import _limits, cli_env

    proc = subprocess.Popen(
        [sys.executable, "-m", "batchops", "process", "--json", *PLAN, "--", str(path)],
        env=cli_env(lab.home, {**lab.env, "BATCHOPS_TEST_PAUSE_STEP": "transform"}),
        cwd=str(lab.base),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        preexec_fn=_limits,
    )
    try:

        def upload():
            rows = query(lab.home, "SELECT id FROM upload WHERE original_name = 'cli_killed.csv'")
            return rows[0][0] if rows else None

        upload_id = wait_for(upload, 30, every=0.1, what="the upload row")
        wait_for(lambda: lab.step_running(upload_id, "transform"), 30, every=0.1, what="transform to start")
        run_id = lab.run_of(upload_id)[0]
        assert query(lab.home, "SELECT status FROM upload WHERE id = ?", (upload_id,))[0][0] == "processing"
        kill_group(proc, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            kill_group(proc, signal.SIGKILL)
    # the very next command, whatever it is, finds the upload failed (or queued for its retry)
    listed = json_out(lab.cli("uploads", "list", "--json"))
    status = {u["id"]: u["status"] for u in listed}[upload_id]
    assert status in ("failed", "queued"), status
    lab.assert_recovered(upload_id, run_id)
    assert not (lab.home / "exports" / str(upload_id)).exists() or not [
        p for p in (lab.home / "exports" / str(upload_id)).iterdir() if not p.name.startswith(".")
    ]


def test_restore_latest_backup_lists_the_same_uploads(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert batchops(home, "init").returncode == 0
    files = []
    for i in range(3):
        p = tmp_path / f"before_{i}.csv"
        p.write_text(corpus.gradebook(30, start=i * 100))
        files.append(p)
    assert batchops(home, "process", "--json", "--", *files).returncode == 0
    (tmp_path / "broken.csv").write_bytes(b"")
    assert batchops(home, "process", "--json", "--", tmp_path / "broken.csv").returncode == 1
    before = json_out(batchops(home, "uploads", "list", "--json"))
    backup = json_out(batchops(home, "backup", "--json"))
    assert backup["verified"] and all(f["integrity"] == "ok" for f in backup["files"])

    (tmp_path / "after.csv").write_text(corpus.gradebook(10, start=9000))
    assert batchops(home, "process", "--json", "--", tmp_path / "after.csv").returncode == 0
    assert len(json_out(batchops(home, "uploads", "list", "--json"))) == len(before) + 1

    latest = max((home / "backups").iterdir(), key=lambda p: p.name)
    restored = batchops(home, "restore", latest, "--force", "--yes", "--json")
    assert restored.returncode == 0, restored.stderr
    assert_clean_stderr(restored.stderr)
    assert integrity(home) == "ok"
    after = json_out(batchops(home, "uploads", "list", "--json"))
    key = lambda u: (u["id"], u["original_name"], u["status"], u["sha256"], u["error_code"])  # noqa: E731
    assert sorted(map(key, after)) == sorted(map(key, before))
    shown = json_out(batchops(home, "uploads", "show", before[0]["id"], "--json"))
    assert shown["status"] == before[0]["status"]
    # the restored store keeps working: a new upload goes in after the restored ones
    (tmp_path / "later.csv").write_text(corpus.gradebook(5, start=7000))
    res = json_out(batchops(home, "process", "--json", "--", tmp_path / "later.csv"))
    assert res["status"] == "published" and res["upload_id"] > max(u["id"] for u in before)
