"""Real `batchops worker` processes: queued uploads, the tick, catch-up, overlap, timeout, backup,
exactly-once with two consumers, SIGTERM, and recovery after SIGKILL.

Two workers share one data home for the whole module (BATCHOPS_TICK_SECONDS=2 so the
scheduler ticks every 2 s instead of every minute). On ``--backend server`` they also share one
database and queue name of their own for the module: the per-test database the server backend
gives each test is not theirs (it did not exist when they started). An every-minute job is added first
and checked last, so waiting for its fire overlaps the other tests. Tests that stop or
kill workers start their own, so every test passes alone, in any order and under xdist.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import serverlib
from workerlib import BASE_SETTINGS, WorkerProcess, merge, wait_for, worker_env, write_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
UTC = timezone.utc
TICK = 2  # BATCHOPS_TICK_SECONDS: the scheduler ticks every 2 s here, not every minute


class Cluster:
    def __init__(self, base: Path, settings: dict, servers: dict | None = None):
        self.home = base / "home"
        self.home.mkdir(parents=True)
        self.config = write_config(base / "batchops.toml", merge(BASE_SETTINGS, settings))
        self.servers = servers or {}  # BATCHOPS_DATABASE_URL & co. when not the running test's own
        self.env = worker_env(self.home, self.config, BATCHOPS_TICK_SECONDS=TICK, **self.servers)
        self.workers: list[WorkerProcess] = []
        self.base = base

    def cli(self, *args, env=None, timeout=120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "batchops", *map(str, args)],
            env={**self.env, **(env or {})},
            cwd=str(self.base),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def cli_json(self, *args):
        out = self.cli(*args, "--json")
        assert out.returncode in (0, 1), out.stderr
        return json.loads(out.stdout)

    def start_worker(self, *args, **env) -> WorkerProcess:
        proc = WorkerProcess(
            self.home,
            {**self.env, **{k: str(v) for k, v in env.items()}},
            self.base / f"worker-{len(self.workers) + 1}.log",
            *args,
        )
        self.workers.append(proc)
        proc.wait_ready()
        return proc

    def open_store(self):
        from batchops.services.setup import configure

        return configure(self.config, self.home)

    def close(self):
        for worker in self.workers:
            worker.stop(signal.SIGKILL)
        from batchops import context
        from batchops.store.db import db

        if db.obj is not None and not db.obj.is_closed():
            db.obj.close()
        context.reset()


def _pause_seeded(cluster: Cluster) -> None:
    for job in cluster.cli_json("jobs", "list"):
        if not job["paused"]:
            assert cluster.cli("jobs", "pause", job["id"]).returncode == 0


@pytest.fixture(scope="module")
def module_servers(request):
    """On --backend server: a database and queue name for the module's workers (the per-test ones
    the autouse backend fixture makes come after a module fixture, and go with each test)."""
    if request.config.getoption("backend") != "server":
        yield {}
        return
    url, queue = serverlib.create_database("rw"), f"rw_{uuid.uuid4().hex[:10]}"
    yield serverlib.env_for(url, queue)
    serverlib.drop_database(url)
    serverlib.flush_queue(queue)


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory, module_servers):
    c = Cluster(tmp_path_factory.mktemp("real-worker"), {}, module_servers)
    assert c.cli("init").returncode == 0
    _pause_seeded(c)
    minutely = c.cli_json(
        "jobs", "add", "--name", "minutely", "--callable", "worker_helpers:noop", "--cron", "* * * * *"
    )
    c.minutely = minutely
    c.start_worker("--workers", "2", "--shutdown-timeout", "2")
    c.start_worker("--workers", "1", "--shutdown-timeout", "2")
    yield c
    c.close()


@pytest.fixture
def cluster(shared_cluster, monkeypatch):
    """The module's two workers; the store is bound to their home (and database) again (a test with
    its own Cluster points it elsewhere), so these tests pass in any order and under xdist."""
    for key, value in shared_cluster.servers.items():
        monkeypatch.setenv(key, value)
    shared_cluster.open_store()
    return shared_cluster


def _one(data):
    return data[0] if isinstance(data, list) else data


def _run(run_id):
    from batchops.store.models import JobRun

    return JobRun.get_by_id(run_id)


def test_worker_heartbeats_show_in_health(cluster):
    health = wait_for(
        lambda: (h := cluster.cli_json("health"))["checks"]["workers"]["count"] == 2 and h,
        20,
        what="two workers online",
    )
    assert health["checks"]["queue"]["reachable"]
    assert {w["pid"] for w in health["checks"]["workers"]["online"]} == {w.pid for w in cluster.workers}


def test_real_worker_publishes_a_queued_upload(cluster, samples_dir):
    from batchops.store.models import Upload

    queued = _one(cluster.cli_json("process", samples_dir / "gradebook_science.csv", "--queue"))
    assert queued["status"] == "queued"
    upload = wait_for(
        lambda: (u := Upload.get_by_id(queued["upload_id"])).status == "published" and u,
        60,
        what="the queued upload to publish",
    )
    assert upload.rows_out == 40 and (cluster.home / upload.report_pdf_path).is_file()
    assert _run(queued["run_id"]).worker_id.split(":")[1] in {str(w.pid) for w in cluster.workers}


def test_real_worker_makes_a_verified_backup(cluster):
    from batchops.services import backup

    backup_job = next(j for j in cluster.cli_json("jobs", "list") if j["callable"] == "run_daily_backup")
    out = cluster.cli("jobs", "trigger", backup_job["id"], "--wait", "--wait-timeout", "60", "--json")
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout)
    assert run["status"] == "succeeded"
    folder = Path(run["result"]["path"])
    assert folder.parent == cluster.home / "backups"
    if cluster.servers:  # PostgreSQL: a pg_dump archive (read back); a Redis queue is not backed up
        from batchops.services import pg_backup

        assert [f["file"] for f in run["result"]["files"]] == [pg_backup.ARCHIVE]
        assert pg_backup.verify(folder / pg_backup.ARCHIVE)["entries"] > 0
    else:
        assert backup.integrity(folder / "batchops.db") == "ok" and backup.integrity(folder / "queue.db") == "ok"


def test_real_worker_times_out_a_job(cluster):
    job = cluster.cli_json(
        "jobs",
        "add",
        "--name",
        "sleepy",
        "--callable",
        "worker_helpers:sleepy",
        "--cron",
        "0 0 1 1 *",
        "--kwargs",
        '{"seconds": 30}',
        "--timeout",
        "1",
    )
    out = cluster.cli("jobs", "trigger", job["id"], "--wait", "--wait-timeout", "30", "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout)["error_code"] == "E_JOB_TIMEOUT"


def _add_long_job(cluster) -> dict:
    """A paused every-minute job whose run lasts 12 s: long enough for the next fire to find it running."""
    args = ["--callable", "worker_helpers:cooperative", "--cron", "* * * * *", "--kwargs", '{"seconds": 12}']
    return cluster.cli_json("jobs", "add", "--name", "long", *args, "--paused")


def _hour_clear_of_its_edges(margin_s: float) -> datetime:
    """This hour's start, once ``margin_s`` away from either end of it (sleeping if need be).

    The latest fire must stay clearly missed, and it must not change while the test waits: an hour
    that begins during the wait adds a fire (seen in CI at 10:00 UTC: the catch-up ran the 10:00 fire
    while the test, moved back an hour, expected 09:00).
    """
    now = datetime.now(UTC)
    into = (now - now.replace(minute=0, second=0, microsecond=0)).total_seconds()
    if into < margin_s:
        time.sleep(margin_s - into)
    elif into > 3600 - margin_s:
        time.sleep(3600 - into + margin_s)
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def test_real_worker_catches_up_a_missed_run(cluster):
    from batchops.store.models import Job, JobRun

    hour = _hour_clear_of_its_edges(3 * TICK + 40)  # before the job exists: no on-time fire meanwhile
    job = cluster.cli_json(
        "jobs",
        "add",
        "--name",
        "hourly",
        "--callable",
        "worker_helpers:noop",
        "--cron",
        "0 * * * *",
        "--missed",
        "once",
        "--max-lateness",
        "300",
        "--timezone",
        "UTC",
    )
    Job.update(next_run_at=hour - timedelta(hours=3)).where(Job.id == job["id"]).execute()  # down 3+ hours
    runs = wait_for(
        lambda: (r := list(JobRun.select().where((JobRun.job == job["id"]) & (JobRun.status == "succeeded")))) and r,
        3 * TICK + 20,
        what="the catch-up run",
    )
    assert len(runs) == 1 and runs[0].catch_up and runs[0].trigger == "catch-up" and runs[0].fire_time == hour
    skipped = JobRun.get((JobRun.job == job["id"]) & (JobRun.status == "skipped"))
    assert skipped.error_code == "E_MISSED_RUNS" and skipped.error_message.startswith("3 fire time(s)")
    assert Job.get_by_id(job["id"]).next_run_at == hour + timedelta(hours=1)


def test_real_worker_skips_a_fire_that_would_overlap(cluster):
    from batchops.store.models import Job, JobRun, ScheduleClaim

    job = _add_long_job(cluster)
    first = cluster.cli_json("jobs", "trigger", job["id"])
    wait_for(lambda: _run(first["run_id"]).status == "running", 20, what="the long run to start")
    fire = _floor_minute(datetime.now(UTC))
    Job.update(paused=False, next_run_at=fire).where(Job.id == job["id"]).execute()
    claim = wait_for(
        lambda: ScheduleClaim.get_or_none((ScheduleClaim.job == job["id"]) & (ScheduleClaim.fire_time == fire)),
        3 * TICK + 10,
        what="the tick to claim the fire",
    )
    assert claim.outcome == "skipped-overlap"
    skipped = JobRun.get_by_id(claim.run_id)
    assert skipped.status == "skipped" and skipped.error_code == "E_JOB_OVERLAP"
    Job.update(paused=True).where(Job.id == job["id"]).execute()
    wait_for(lambda: _run(first["run_id"]).status == "succeeded", 30, what="the long run to finish")


def test_every_minute_job_fires_exactly_once_with_two_consumers(cluster):
    """Added when the module started; both consumers tick every TICK seconds; one run per fire time."""
    from batchops.store.models import JobRun, ScheduleClaim

    job_id = cluster.minutely["id"]
    first_fire = _floor_minute(
        cluster.minutely["next_run_at"]
        and datetime.fromisoformat(cluster.minutely["next_run_at"].replace("Z", "+00:00"))
    )
    wait_for(
        lambda: (
            JobRun.select()
            .where((JobRun.job == job_id) & (JobRun.status == "succeeded") & (JobRun.fire_time == first_fire))
            .exists()
        ),
        max(5, (first_fire - datetime.now(UTC)).total_seconds()) + 3 * TICK + 15,
        interval=0.5,
        what="the every-minute job to fire",
    )
    time.sleep(TICK + 1)  # one more tick from each consumer for the same fire time
    claims = list(ScheduleClaim.select().where(ScheduleClaim.job == job_id))
    fires = [c.fire_time for c in claims]
    assert len(fires) == len(set(fires)) and first_fire in fires
    runs = list(JobRun.select().where(JobRun.job == job_id))
    assert len(runs) == len(claims) and len({r.fire_time for r in runs}) == len(runs)
    run = next(r for r in runs if r.fire_time == first_fire)
    assert run.trigger == "schedule" and (run.started_at - first_fire).total_seconds() < 3 * TICK + 10


def test_sigterm_stops_both_workers_within_seconds(tmp_path):
    """Two workers of their own (stopping the module's would break whatever runs after this)."""
    from batchops.store.models import JobRun, WorkerHeartbeat

    c = Cluster(tmp_path, {})
    try:
        assert c.cli("init").returncode == 0
        _pause_seeded(c)
        job = _add_long_job(c)
        c.start_worker("--workers", "2", "--shutdown-timeout", "2")
        c.start_worker("--workers", "1", "--shutdown-timeout", "2")
        c.open_store()
        run = c.cli_json("jobs", "trigger", job["id"])
        wait_for(lambda: _run(run["run_id"]).status == "running", 20, what="a run in progress")
        for w in c.workers:
            w.stop(signal.SIGTERM)  # SIGKILLed if still there after 15 s: the exit code would show it
        assert all(w.proc.returncode == 0 for w in c.workers), [w.text()[-2000:] for w in c.workers]
        # the 12 s job was not waited for: past --shutdown-timeout 2 it was put back on the queue
        again = JobRun.get_by_id(run["run_id"])
        assert again.status == "queued" and "re-queued" in again.log
        rows = list(WorkerHeartbeat.select().where(WorkerHeartbeat.pid.in_([w.pid for w in c.workers])))
        assert len(rows) == 2 and all(r.stopped_at is not None for r in rows)
        assert c.cli_json("health")["checks"]["queue"]["depth"] >= 1
    finally:
        c.close()


def test_sigkill_mid_run_is_recovered_and_retried(tmp_path):
    """A worker killed in the middle of a large upload: the next worker fails the run with
    E_WORKER_LOST, triage opens an incident and retries it (the known error allows it), and the
    retry publishes. The upload never stays 'processing'."""
    from batchops.store.models import Incident, JobRun, KnownError, Upload

    c = Cluster(tmp_path, {"worker": {"lost_after_seconds": 30.0}})
    try:
        assert c.cli("init").returncode == 0
        _pause_seeded(c)
        c.open_store()
        KnownError.update(retry_delay_s=1).where(KnownError.error_code == "E_WORKER_LOST").execute()
        big = tmp_path / "big_gradebook.csv"
        with open(big, "w", encoding="utf-8") as fh:
            fh.write("student_id,name,math,science,english\n")
            for i in range(20000):
                fh.write(f"S{i:06d},Student {i},{i % 101},{(i * 7) % 101},{(i * 13) % 101}\n")
        doomed = c.start_worker("--workers", "1", BATCHOPS_TEST_PAUSE_STEP="validate", BATCHOPS_TEST_PAUSE_SECONDS=60)
        queued = _one(c.cli_json("process", big, "--queue"))
        wait_for(
            lambda: any(s["name"] == "validate" for s in (_run(queued["run_id"]).steps or [])),
            60,
            what="the run to reach validate",
        )
        assert Upload.get_by_id(queued["upload_id"]).status == "processing"
        doomed.stop(signal.SIGKILL)

        c.start_worker("--workers", "1")  # recovers at start; triage queues the retry
        lost = wait_for(lambda: (r := _run(queued["run_id"])).status == "failed" and r, 30, what="recovery")
        assert lost.error_code == "E_WORKER_LOST"
        assert Upload.get_by_id(queued["upload_id"]).status != "processing"
        # failing the run and triaging it are two transactions: the incident follows a moment later
        incident = wait_for(
            lambda: Incident.get_or_none(Incident.upload == queued["upload_id"]), 15, what="the lost run's incident"
        )
        assert incident.error_code == "E_WORKER_LOST"
        upload = wait_for(
            lambda: (u := Upload.get_by_id(queued["upload_id"])).status == "published" and u,
            90,
            what="the retry to publish",
        )
        retry = JobRun.select().where((JobRun.upload == upload.id) & (JobRun.id != lost.id)).get()
        assert retry.trigger == "retry" and retry.status == "succeeded" and retry.attempt == 2
        assert upload.rows_out == 20000
    finally:
        c.close()


# An audit hook reports each watched package the moment something first imports it (before the
# import finishes), so the proof is in the log before the test stops the worker: it does not
# depend on the worker exiting cleanly (the old atexit line was lost when a slow stop ended in SIGKILL).
PROBE = r"""
import os, sys
sys.argv = ["batchops", *sys.argv[1:]]
WATCH, seen = {"textual", "pandas", "huey"}, set()

def report(event, args):
    if event == "import" and (top := args[0].partition(".")[0]) in WATCH and top not in seen:
        seen.add(top)
        os.write(2, f"\nIMPORTED {top}\n".encode())

sys.addaudithook(report)
from batchops.cli.main import run
run()
"""


def test_worker_never_imports_textual(tmp_path, samples_dir):
    c = Cluster(tmp_path, {})
    try:
        assert c.cli("init").returncode == 0
        log = tmp_path / "probe.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-c", PROBE, "worker", "--workers", "1"],
                env=c.env,
                cwd=str(tmp_path),
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        worker = WorkerProcess.__new__(WorkerProcess)
        worker.proc, worker.log_path, worker.log = proc, log, open(log, "ab")
        c.workers.append(worker)
        worker.wait_ready()
        # real work, so the worker loads what a pipeline run needs; the log then shows the hook saw it
        queued = _one(c.cli_json("process", samples_dir / "gradebook_science.csv", "--queue"))
        c.open_store()
        from batchops.store.models import Upload

        wait_for(
            lambda: Upload.get_by_id(queued["upload_id"]).status == "published",
            90,
            what="the worker to publish the upload",
        )
        imported = {line.split()[1] for line in worker.text().splitlines() if line.startswith("IMPORTED ")}
        assert {"huey", "pandas"} <= imported, worker.text()[-2000:]  # the probe works
        assert "textual" not in imported, worker.text()[-2000:]
    finally:
        c.close()
