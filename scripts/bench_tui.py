"""Time to first paint of the Job Runs area: an empty store, 100 runs, 100,000 runs.

The Job Runs table is paged from the store with keyset queries (200 rows a
page), so the goal is a flat line: 100,000 runs open as fast as none.

    python scripts/bench_tui.py [--runs 100000] [--repeat 3]

Each store lives in a temporary data home. "first paint" is from starting the
app (``run_test`` at 120x40) until the Runs table shows its first page; "data"
is the part after the screen mounted (the worker's query and filling the
table). Also times the first page of a status filter on the big store.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def seed(n: int) -> float:
    """``n`` runs (90% job runs, 10% pipeline runs of a few uploads) with insert_many in one transaction."""
    from batchops.clock import utc_now
    from batchops.store.db import db
    from batchops.store.models import JobRun, Upload

    started = time.perf_counter()
    now = utc_now()
    with db.atomic():
        upload_ids = []
        for i in range(5):
            upload_ids.append(
                Upload.insert(
                    original_name=f"bench_{i}.csv",
                    sha256=f"{i:064d}",
                    size=100,
                    kind="csv",
                    blob_path=f"files/00/{i:064d}.csv",
                    status="published",
                ).execute()
            )
        rows = []
        for i in range(n):
            pipeline = i % 10 == 0
            failed = i % 13 == 0
            rows.append(
                {
                    "kind": "pipeline" if pipeline else "job",
                    "upload": upload_ids[i % 5] if pipeline else None,
                    "job_name": None if pipeline else f"bench-job-{i % 6}",
                    "trigger": "schedule" if not pipeline else "cli",
                    "status": "failed" if failed else "succeeded",
                    "attempt": 1,
                    "error_code": "E_BENCH" if failed else None,
                    "queued_at": now - timedelta(seconds=(n - i) * 30),
                    "duration_s": 0.25 + (i % 7) / 10,
                    "steps": [],
                    "findings": [],
                    "log": "",
                }
            )
            if len(rows) == 1000:
                JobRun.insert_many(rows).execute()
                rows = []
        if rows:
            JobRun.insert_many(rows).execute()
    return time.perf_counter() - started


async def first_paint(status: str | None = None) -> tuple[float, float, int]:
    """(start -> first page painted, fetch started -> page painted, rows shown)."""
    from batchops.tui.app import make_app
    from batchops.tui.screens.runs import RunsScreen

    marks: dict[str, float] = {}
    load, apply = RunsScreen.load, RunsScreen.apply

    def timed_load(self, params):
        if params.get("status") == status:
            marks.setdefault("fetch", time.perf_counter())
        return load(self, params)

    def timed_apply(self, data):
        apply(self, data)
        if "fetch" in marks:
            marks.setdefault("applied", time.perf_counter())

    RunsScreen.load, RunsScreen.apply = timed_load, timed_apply
    try:
        started = time.perf_counter()
        app = make_app(start_area="runs", refresh_seconds=0)
        async with app.run_test(size=(120, 40)) as pilot:
            if status:
                while not getattr(app.screen, "loaded_once", False):
                    await pilot.pause(0.002)
                started = time.perf_counter()
                app.screen.query_one("#filter-status").value = status
            while "applied" not in marks:
                await pilot.pause(0.002)
            await pilot.pause()  # one more turn of the loop: the table is painted
            done = time.perf_counter()
            rows = app.screen.pager.table.row_count
    finally:
        RunsScreen.load, RunsScreen.apply = load, apply
    return done - started, done - marks["fetch"], rows


def measure(home: Path, runs: int, repeat: int, status: str | None = None) -> dict:
    from batchops.services.setup import configure
    from batchops.store.db import db

    configure(home=home)
    seeded = seed(runs) if runs and status is None else None
    asyncio.run(first_paint())  # warm-up: imports, CSS, the OS file cache
    totals, datas, rows = [], [], 0
    for _ in range(repeat):
        total, data, rows = asyncio.run(first_paint(status))
        totals.append(total)
        datas.append(data)
    db.close()
    return {
        "runs": runs,
        "seed_s": seeded,
        "first_paint_s": statistics.median(totals),
        "data_s": statistics.median(datas),
        "rows_shown": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tui-") as tmp:
        results = []
        for label, n in (("empty", 0), ("100 runs", 100), ("1,000 runs", 1000), (f"{args.runs:,} runs", args.runs)):
            res = measure(Path(tmp) / label.replace(" ", "_").replace(",", ""), n, args.repeat)
            results.append((label, res))
            seed_note = f" (seeded in {res['seed_s']:.1f} s)" if res["seed_s"] else ""
            print(
                f"{label:>14}: first paint {res['first_paint_s'] * 1000:7.0f} ms, data {res['data_s'] * 1000:6.0f} ms, "
                f"{res['rows_shown']} rows shown{seed_note}",
                flush=True,
            )
        big = measure(Path(tmp) / f"{args.runs:,}_runs".replace(",", ""), args.runs, args.repeat, status="failed")
        print(
            f"{'status=failed':>14}: first page {big['first_paint_s'] * 1000:7.0f} ms after choosing the filter, "
            f"{big['rows_shown']} rows shown"
        )
        by = dict(results)
        large = by[f"{args.runs:,} runs"]
        for base in ("empty", "100 runs", "1,000 runs"):
            print(
                f"ratio {args.runs:,} runs / {base}: first paint "
                f"{large['first_paint_s'] / by[base]['first_paint_s']:.2f}x"
            )
        print("(an empty store paints no rows; from 200 runs on every store paints one 200-row page)")


if __name__ == "__main__":
    main()
