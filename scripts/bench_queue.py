#!/usr/bin/env python3
"""Queue throughput: `batchops worker` against bare Huey, same storage, same settings, same run.

For each setup a consumer runs in a subprocess on its own fresh SQLite queue file:

* **batchops** - ``python -m batchops --home TMP worker --workers N`` (our consumer:
  task modules, scheduler tick, heartbeat thread, signal handling);
* **bare huey** - a ``SqliteHuey`` with one no-op task, consumed the way
  ``huey_consumer`` does it (``ConsumerConfig(workers=N, worker_type="thread",
  max_delay=1.0)``, ``create_consumer(...).run()``).

Once the consumer is up, this process enqueues ``--tasks`` no-op tasks (``ping``,
returning 1, so each completion leaves a result) and waits until every result is
in; tasks/s = tasks / (last result - first enqueue). Rounds alternate between the
setups; the median of each is reported with the ratio (goal: >= 0.8).

    python scripts/bench_queue.py [--tasks 2000] [--workers 1] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BARE_MODULE = textwrap.dedent("""
    import os
    from huey import SqliteHuey

    huey = SqliteHuey("bench", filename=os.environ["BENCH_QUEUE_DB"], utc=True, timeout=10)


    @huey.task(name="ping")
    def ping():
        return 1
""")

BARE_CONSUMER = textwrap.dedent("""
    import logging, sys
    from huey.consumer_options import ConsumerConfig
    from bench_bare import huey

    config = ConsumerConfig(workers=int(sys.argv[1]), worker_type="thread", max_delay=1.0, periodic=True)
    config.validate()
    logger = logging.getLogger("huey")
    if not logger.handlers:
        config.setup_logger(logger)
    huey.create_consumer(**config.values).run()
""")


def _wait_ready(proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"consumer exited early:\n{log.read_text(errors='replace')[-3000:]}")
        if "Huey consumer started" in log.read_text(errors="replace"):
            time.sleep(0.3)  # let the workers reach their first poll
            return
        time.sleep(0.05)
    raise SystemExit(f"consumer did not start:\n{log.read_text(errors='replace')[-3000:]}")


def _drive(huey, task, n: int, timeout: float = 300) -> float:
    """Enqueue n tasks, wait for n results; seconds from first enqueue to last result."""
    huey.storage.flush_results()
    start = time.perf_counter()
    for _ in range(n):
        task()
    deadline = time.monotonic() + timeout
    while huey.storage.result_store_size() < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {huey.storage.result_store_size()} of {n} tasks finished in {timeout} s")
        time.sleep(0.01)
    return time.perf_counter() - start


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def run_batchops(tmp: Path, tasks: int, workers: int) -> float:
    home = tmp / "batchops-home"
    env = dict(os.environ, BATCHOPS_HOME=str(home), PYTHONPATH=str(REPO))
    for key in ("BATCHOPS_QUEUE_IMMEDIATE", "BATCHOPS_CONFIG", "BATCHOPS_TICK_SECONDS", "BATCHOPS_READ_ONLY"):
        env.pop(key, None)
    subprocess.run([sys.executable, "-m", "batchops", "init"], env=env, check=True, capture_output=True)
    log = tmp / "batchops-worker.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "batchops", "worker", "--workers", str(workers)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_ready(proc, log)
        os.environ["BATCHOPS_HOME"] = str(home)
        os.environ.pop("BATCHOPS_QUEUE_IMMEDIATE", None)
        os.environ.pop("BATCHOPS_CONFIG", None)
        from batchops.queue import app
        from batchops.services.setup import configure

        configure(home=home)
        app.reset()
        from batchops.services import tasks as batchops_tasks

        huey = batchops_tasks.huey()
        return _drive(huey, huey.batchops_tasks["ping"], tasks)
    finally:
        _stop(proc)


def run_bare(tmp: Path, tasks: int, workers: int) -> float:
    folder = tmp / "bare"
    folder.mkdir()
    (folder / "bench_bare.py").write_text(BARE_MODULE, encoding="utf-8")
    db = folder / "queue.db"
    env = dict(os.environ, BENCH_QUEUE_DB=str(db), PYTHONPATH=str(folder))
    log = tmp / "bare-consumer.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", BARE_CONSUMER, str(workers)],
            env=env,
            cwd=folder,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_ready(proc, log)
        os.environ["BENCH_QUEUE_DB"] = str(db)
        sys.path.insert(0, str(folder))
        sys.modules.pop("bench_bare", None)
        import bench_bare

        try:
            return _drive(bench_bare.huey, bench_bare.ping, tasks)
        finally:
            bench_bare.huey.storage.close()
            sys.path.remove(str(folder))
    finally:
        _stop(proc)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))

    rates: dict[str, list[float]] = {"batchops": [], "bare huey": []}
    for round_no in range(args.rounds):
        order = [("batchops", run_batchops), ("bare huey", run_bare)]
        if round_no % 2:
            order.reverse()
        for name, fn in order:
            with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
                seconds = fn(Path(tmp), args.tasks, args.workers)
            rates[name].append(args.tasks / seconds)
            if not args.json:
                print(
                    f"round {round_no + 1}: {name:9s} {args.tasks} tasks in {seconds:6.2f} s "
                    f"= {args.tasks / seconds:7.0f} tasks/s",
                    flush=True,
                )
    ours = statistics.median(rates["batchops"])
    bare = statistics.median(rates["bare huey"])
    ratio = ours / bare
    result = {
        "tasks": args.tasks,
        "workers": args.workers,
        "rounds": args.rounds,
        "batchops_tasks_per_s": round(ours, 1),
        "bare_huey_tasks_per_s": round(bare, 1),
        "ratio": round(ratio, 3),
        "goal": 0.8,
        "ok": ratio >= 0.8,
        "all_rates": {k: [round(v, 1) for v in vs] for k, vs in rates.items()},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"batchops worker: {ours:7.0f} tasks/s (median)")
        print(f"bare huey:       {bare:7.0f} tasks/s (median)")
        print(f"ratio:           {ratio:7.2f} (goal >= 0.8) {'OK' if ratio >= 0.8 else 'BELOW GOAL'}")
    return 0 if ratio >= 0.8 else 1


if __name__ == "__main__":
    sys.exit(main())
