"""Two "machines" on one PostgreSQL, one Redis and one S3 bucket: different data homes, workers and CLI processes.

Machine A and machine B share ``BATCHOPS_DATABASE_URL``, ``BATCHOPS_QUEUE_URL``, the queue name and
``storage.url`` (a bucket on a real moto S3 server), and nothing else: each has its own data home.
Covered, against the real servers:

* six ``init`` at once on an empty database, and four commands at once upgrading a v1 store;
* a worker SIGKILLed mid-run on A: B finds it lost from its heartbeats alone, triage retries, B publishes;
* failures of one file from both workers and from CLI processes: one incident, every occurrence counted;
* a job triggered from both machines never overlaps itself;
* an every-minute job fires exactly once per fire time with two workers ticking;
* files cross machines only through the bucket: B's worker processes what A submitted, the store
  keeps keys (never a home's path), and A exports a report B published, from the bucket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import serverlib
from s3lib import keys, storage_settings
from workerlib import BASE_SETTINGS, WorkerProcess, merge, wait_for, worker_env, write_config

pytestmark = [pytest.mark.servers, pytest.mark.slow]

SETTINGS = merge(
    BASE_SETTINGS, {"worker": {"heartbeat_seconds": 0.5, "lost_after_seconds": 5.0, "requeue_lost_after_seconds": 5.0}}
)
GOOD = "student_id,name,math,science\n" + "".join(
    f"S{i:04d},Student {i},{i % 90 + 5},{i % 70 + 20}\n" for i in range(400)
)
BROKEN = "Name,Score\nAsha,50\nRavi,61\n"  # no student_id: E_MISSING_COLUMNS


class Machine:
    def __init__(self, name: str, root: Path, env: dict):
        self.name, self.home = name, root / name
        self.home.mkdir(parents=True)
        self.env = env
        self.workers: list[WorkerProcess] = []

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "batchops", *args],
            env=self.env,
            cwd=str(self.home.parent),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        proc = self.popen(*args)
        out, err = proc.communicate(timeout=120)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def json(self, *args: str):
        proc = self.cli(*args, "--json")
        assert proc.returncode == 0, f"{self.name} {args}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
        return json.loads(proc.stdout)

    def start_worker(self, **extra) -> WorkerProcess:
        env = {**self.env, **{k: str(v) for k, v in extra.items()}}
        worker = WorkerProcess(
            self.home, env, self.home.parent / f"worker-{self.name}-{len(self.workers)}.log", "--workers", "2"
        )
        self.workers.append(worker)
        worker.wait_ready()
        return worker


def _finish_all(procs: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    outputs = [p.communicate(timeout=120) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


@pytest.fixture
def servers(tmp_path, s3):
    """(database URL, [machine A, machine B], (boto3 client, bucket)): PostgreSQL, Redis and S3 shared."""
    endpoint, bucket, client = s3
    url = serverlib.create_database("mm")
    queue = f"mm_{uuid.uuid4().hex[:10]}"
    config = write_config(
        tmp_path / "batchops.toml", merge(SETTINGS, {"storage": storage_settings(endpoint, f"s3://{bucket}/district")})
    )
    shared = {**serverlib.env_for(url, queue), "BATCHOPS_TICK_SECONDS": "1"}
    machines = [Machine(n, tmp_path, worker_env(tmp_path / n, config, **shared)) for n in ("a", "b")]
    yield url, machines, (client, bucket)
    for m in machines:
        for w in m.workers:
            w.stop(signal.SIGKILL if w.proc.poll() is None else None, timeout=5)
    serverlib.drop_database(url)
    serverlib.flush_queue(queue)


def test_concurrent_upgrades_of_a_v1_store(tmp_path):
    """Four commands from two machines meet a v1 store at once: one upgrades it, none fails."""
    url = serverlib.create_database("mmv1")
    try:
        _make_v1_store(url, tmp_path / "seed-home")
        config = write_config(tmp_path / "batchops.toml", SETTINGS)
        envs = [worker_env(tmp_path / n, config, **serverlib.env_for(url, "unused")) for n in ("a", "b")]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "batchops", *args],
                env=env,
                cwd=str(tmp_path),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for env in envs
            for args in (("init",), ("uploads", "list"))
        ]
        results = _finish_all(procs)
        assert all(p.returncode == 0 for p in procs), [r[2][-2000:] for r in results]
        from batchops.store.migrations import LATEST

        versions = serverlib.query(
            "SELECT version, COUNT(*) FROM schema_version GROUP BY version ORDER BY version", url=url
        )
        assert versions == [(v, 1) for v in range(1, LATEST + 1)]  # each step applied exactly once
        # the twins an old racing triage left were merged into the oldest, counts kept
        active = serverlib.query(
            "SELECT occurrences FROM incident WHERE signature = 'sig' AND state IN ('open', 'assigned', 'analyzing')",
            url=url,
        )
        assert active == [(5,)]
        assert serverlib.query("SELECT COUNT(*) FROM upload", url=url) == [(1,)]
    finally:
        serverlib.drop_database(url)


def _make_v1_store(url: str, home: Path) -> None:
    """A store as schema v1 left it, with two active twin incidents (the old race)."""
    from batchops.store.db import bind, make_database
    from batchops.store.models import ALL_MODELS, ONE_ACTIVE_INCIDENT_NAME, Incident, SchemaVersion, Upload

    database = bind(make_database(url, home))
    with database.connection_context():
        database.create_tables(ALL_MODELS)
        database.execute_sql(f'DROP INDEX "{ONE_ACTIVE_INCIDENT_NAME}"')
        for table, column in (("upload", "sheet"), ("job_run", "fire_time"), ("job_run", "catch_up")):
            database.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
        SchemaVersion.create(version=1)
        Upload.insert(original_name="old.csv", sha256="ab" * 32, size=1, kind="csv", blob_path="files/x").execute()
        for n in (2, 3):
            Incident.insert(title="twin", signature="sig", occurrences=n).execute()
    database.close()


def test_two_machines_share_one_postgres_one_redis_and_one_bucket(servers):
    url, (a, b), (client, bucket) = servers

    # -- six init at once on an empty database: one creates and seeds, the others find it done
    procs = [m.popen("init") for m in (a, b) for _ in range(3)]
    results = _finish_all(procs)
    assert all(p.returncode == 0 for p in procs), [r[2][-2000:] for r in results]
    from batchops.store.migrations import LATEST
    from batchops.store.seeds import DEFAULT_JOBS, KNOWN_ERRORS

    assert serverlib.query("SELECT version FROM schema_version", url=url) == [(LATEST,)]
    assert serverlib.query("SELECT COUNT(*) FROM known_error", url=url) == [(len(KNOWN_ERRORS),)]
    assert serverlib.query("SELECT COUNT(*) FROM job", url=url) == [(len(DEFAULT_JOBS),)]
    serverlib.execute("UPDATE job SET paused = true", url=url)  # only the jobs this test adds run
    serverlib.execute("UPDATE known_error SET retry_delay_s = 1 WHERE error_code = 'E_WORKER_LOST'", url=url)
    minutely = a.json("jobs", "add", "--name", "minutely", "--callable", "worker_helpers:noop", "--cron", "* * * * *")
    slow = b.json(
        "jobs",
        "add",
        "--name",
        "slow",
        "--callable",
        "worker_helpers:sleepy",
        "--kwargs",
        '{"seconds": 1.5}',
        "--cron",
        "0 0 1 1 *",
    )

    # -- a worker SIGKILLed mid-run on A; B decides from heartbeats alone and finishes the work
    good = a.home.parent / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    doomed = a.start_worker(BATCHOPS_TEST_PAUSE_STEP="validate", BATCHOPS_TEST_PAUSE_SECONDS=120)
    queued = a.json("process", str(good), "--queue")  # one file: one result object
    ((blob_key,),) = serverlib.query("SELECT blob_path FROM upload WHERE id = ?", (queued["upload_id"],), url=url)
    assert not os.path.isabs(blob_key) and f"district/{blob_key}" in keys(client, bucket, "district/files/")
    assert not (b.home / blob_key).exists()  # B gets the original from the bucket, not from A

    def run_row(run_id):
        rows = serverlib.query(
            "SELECT status, worker_id, steps, error_code, trigger FROM job_run WHERE id = ?", (run_id,), url=url
        )
        return rows[0]

    wait_for(lambda: "validate" in (run_row(queued["run_id"])[2] or ""), 60, what="A to reach validate")
    assert run_row(queued["run_id"])[1].split(":")[1] == str(doomed.pid)
    b.start_worker()
    doomed.stop(signal.SIGKILL)
    wait_for(lambda: run_row(queued["run_id"])[0] == "failed", 30, what="B to find A's run lost")
    assert run_row(queued["run_id"])[3] == "E_WORKER_LOST"
    wait_for(
        lambda: (
            serverlib.query("SELECT status FROM upload WHERE id = ?", (queued["upload_id"],), url=url)
            == [("published",)]
        ),
        60,
        what="the retry to publish on B",
    )
    ((retry_worker, trigger, status),) = serverlib.query(
        "SELECT worker_id, trigger, status FROM job_run WHERE upload_id = ? AND id <> ?",
        (queued["upload_id"], queued["run_id"]),
        url=url,
    )
    assert (trigger, status) == ("retry", "succeeded") and retry_worker.split(":")[1] == str(b.workers[0].pid)

    # -- A exports the report B published; as a report too big for the store (> 5 MB), from the bucket
    ((csv_key, pdf_key),) = serverlib.query(
        "SELECT report_csv_path, report_pdf_path FROM upload WHERE id = ?", (queued["upload_id"],), url=url
    )
    assert {f"district/{csv_key}", f"district/{pdf_key}"} <= set(keys(client, bucket, "district/exports/"))
    assert not os.path.isabs(csv_key) and not (a.home / csv_key).exists()
    serverlib.execute(
        "UPDATE upload SET report_csv = NULL, report_pdf = NULL WHERE id = ?", (queued["upload_id"],), url=url
    )
    for fmt, key in (("csv", csv_key), ("pdf", pdf_key)):
        out = a.home.parent / f"exported.{fmt}"
        made = a.cli("report", "export", "--upload", str(queued["upload_id"]), "--format", fmt, "-o", str(out))
        assert made.returncode == 0, made.stderr[-2000:]
        assert out.read_bytes() == client.get_object(Bucket=bucket, Key=f"district/{key}")["Body"].read()
    a.start_worker()  # A is back: two workers from here on

    # -- one broken file failing 10 times: 2 CLI processes and 8 queued runs over both workers
    broken = a.home.parent / "broken.csv"
    broken.write_text(BROKEN, encoding="utf-8")
    cli_runs = [m.popen("process", str(broken)) for m in (a, b)]  # each stores the original at home
    assert [r[0] for r in _finish_all(cli_runs)] == [1, 1]
    queued_runs = [m.popen("process", "--queue", "--json", "--", *[str(broken)] * 4) for m in (a, b)]
    triggers = [m.popen("jobs", "trigger", str(slow["id"]), "--json") for m in (a, b, a, b)]
    results = _finish_all(queued_runs + triggers)
    assert all(code == 0 for code, _, _ in results), [r[2][-2000:] for r in results]

    def settled():
        return serverlib.query("SELECT COUNT(*) FROM job_run WHERE status IN ('queued', 'running')", url=url) == [(0,)]

    wait_for(settled, 90, interval=0.5, what="every run to finish")
    incidents = serverlib.query(
        "SELECT id, occurrences, state FROM incident WHERE error_code = 'E_MISSING_COLUMNS'", url=url
    )
    assert [(n, state) for _, n, state in incidents] == [(10, "open")]
    events = serverlib.query(
        "SELECT COUNT(*) FROM incident_event WHERE incident_id = ? AND kind IN ('open', 'occurrence')",
        (incidents[0][0],),
        url=url,
    )
    assert events == [(10,)]

    # -- the job triggered four times from two machines never overlapped itself
    spans = serverlib.query(
        "SELECT started_at, finished_at, status FROM job_run WHERE job_id = ? ORDER BY started_at",
        (slow["id"],),
        url=url,
    )
    assert len(spans) == 4 and all(s == "succeeded" for _, _, s in spans), spans
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(3)), spans

    # -- the every-minute job: one claim and one run per fire time, whoever ticked
    def fired():
        return (
            serverlib.query(
                "SELECT COUNT(*) FROM job_run WHERE job_id = ? AND status = 'succeeded'", (minutely["id"],), url=url
            )[0][0]
            >= 1
        )

    wait_for(fired, 75, interval=0.5, what="the every-minute job to fire")
    time.sleep(2.5)  # a couple more ticks from both workers for the same fire time
    claims = serverlib.query(
        "SELECT fire_time, COUNT(*) FROM schedule_claim WHERE job_id = ? GROUP BY fire_time", (minutely["id"],), url=url
    )
    runs = serverlib.query(
        "SELECT fire_time, COUNT(*) FROM job_run WHERE job_id = ? GROUP BY fire_time", (minutely["id"],), url=url
    )
    assert claims and all(n == 1 for _, n in claims) and sorted(runs) == sorted(claims)

    # -- both machines see the same system
    health = json.loads(b.cli("health", "--json").stdout)
    assert health["checks"]["workers"]["count"] == 2 and health["checks"]["store"]["reachable"]
    assert health["checks"]["scheduler"]["ok"], health["checks"]["scheduler"]
    assert {u["id"] for u in b.json("uploads", "list")} == {u["id"] for u in a.json("uploads", "list")}
    for m in (a, b):
        for w in m.workers:
            log = w.text()
            assert "Traceback" not in log or w is doomed, log[-3000:]
