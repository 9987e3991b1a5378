#!/usr/bin/env python
"""Benchmark the pipeline against bare pandas on a large gradebook.

Generates an N-row, 8-column gradebook CSV (default 1,000,000 rows) in a temp dir
and measures, each in a fresh subprocess (wall time, and peak RSS from wait4's
rusage for that child):

  summary path   pipeline, transform plan  vs  pandas read_csv + describe + to_csv(summary)
                 goal: time <= 1.5x, peak memory <= 2x
  dataset path   pipeline, custom plan      vs  pandas read_csv + pyarrow.csv.write_csv
                 (whole dataset CSV, PDF capped)        goal: time <= 2x

The pipeline is run through ``python -m batchops --home TMP process FILE --plan P
--json`` when the CLI provides ``process``, and also (always) by calling
``run_pipeline`` directly, so the store's own cost (copying the upload, storing the
reports) is visible separately. Usage::

    python scripts/bench_pipeline.py [--rows 1000000] [--repeat 3] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable

BARE_SUMMARY = r"""
import sys, pandas as pd
df = pd.read_csv(sys.argv[1])
df.describe().to_csv(sys.argv[2])
"""

BARE_DATASET = r"""
import sys, pandas as pd, pyarrow as pa, pyarrow.csv as pacsv
df = pd.read_csv(sys.argv[1])
pacsv.write_csv(pa.Table.from_pandas(df, preserve_index=False), sys.argv[2])
"""

DIRECT = r"""
import sys, json
from pathlib import Path
from batchops.pipeline.runner import PipelineRequest, run_pipeline
from batchops.pipeline.settings import PipelineSettings
src, out, plan = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = {"instructions": "benchmark: publish the dataset as is"} if plan == "custom" else {}
res = run_pipeline(PipelineRequest(Path(src), Path(src).name, Path(out), plan=plan, plan_config=cfg,
                                   generated_at="benchmark"), PipelineSettings())
print(json.dumps({"rows_out": res.rows_out, "steps": {s.name: round(s.duration_s, 3) for s in res.steps}}))
"""


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    first = np.array(["Aarav", "Diya", "Kabir", "Meera", "Rohan", "Saanvi", "Vivaan", "Zara", "Łukasz", "Ananya"])
    last = np.array(["Sharma", "Iyer", "Nair", "Khan", "D'Souza", "Reddy", "Menon", "Rao", "Gupta", "Joshi"])
    ids = pd.Series(np.arange(1, rows + 1)).map("STU-{:07d}".format)
    names = pd.Series(first[rng.integers(0, 10, rows)]) + " " + pd.Series(last[rng.integers(0, 10, rows)])
    cols = {"Student ID": ids, "Student Name": names,
            "Department": np.array(["Science", "Commerce", "Arts"])[rng.integers(0, 3, rows)]}
    for subj in ("Physics", "Chemistry", "Mathematics", "Biology"):
        cols[subj] = rng.integers(20, 101, rows)
    cols["Attendance %"] = np.round(rng.uniform(50, 100, rows), 1)
    pacsv.write_csv(pa.table({k: pa.array(v) for k, v in cols.items()}), path,
                    write_options=pacsv.WriteOptions(quoting_style="none"))


def measure(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    # wait4 gives this child's own rusage (ru_maxrss in KiB on Linux)
    out_chunks = []
    import threading

    err_chunks = []
    t_out = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()))
    t_err = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))
    t_out.start()
    t_err.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    t_out.join()
    t_err.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = (out_chunks[0] if out_chunks else b"").decode(errors="replace")
    if proc.returncode not in (0,):
        err = (err_chunks[0] if err_chunks else b"").decode(errors="replace")
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{out[-2000:]}\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024.0, out


def best(runs):
    """Best (lowest) time and memory over the repeats, and the last run's stdout."""
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[-1][2]


def cli_available(env) -> bool:
    proc = subprocess.run([PY, "-m", "batchops", "process", "--help"], capture_output=True, env=env, cwd=REPO)
    return proc.returncode == 0


def row(label, t, m, bt=None, bm=None):
    ratio = f"   time {t / bt:4.2f}x  memory {m / bm:4.2f}x" if bt else ""
    print(f"  {label:<44} {t:7.2f} s  {m:8.1f} MiB{ratio}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds; the best of each is kept")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        src = tmp / "gradebook_big.csv"
        t0 = time.perf_counter()
        make_csv(src, args.rows)
        print(f"generated {args.rows:,} rows x 8 columns, {src.stat().st_size / 1048576:.1f} MB "
              f"in {time.perf_counter() - t0:.1f} s  ({src})")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU(s), repeat={args.repeat}")

        use_cli = cli_available(env)
        cmds = {
            "bare_s": [PY, "-c", BARE_SUMMARY, str(src), str(tmp / "bare_summary.csv")],
            "bare_d": [PY, "-c", BARE_DATASET, str(src), str(tmp / "bare_dataset.csv")],
        }
        for plan in ("transform", "custom"):
            cmds[f"direct_{plan}"] = [PY, "-c", DIRECT, str(src), str(tmp / f"direct_{plan}"), plan]
        if use_cli:
            home = tmp / "home"
            subprocess.run([PY, "-m", "batchops", "--home", str(home), "init"], check=True,
                           capture_output=True, env=env, cwd=REPO)
            for plan in ("transform", "custom"):
                cmd = [PY, "-m", "batchops", "--home", str(home), "process", str(src), "--plan", plan, "--json"]
                if plan == "custom":
                    cmd += ["--instructions", "benchmark: publish the dataset as is"]
                cmds[f"cli_{plan}"] = cmd
        # interleaved rounds: every command once per round, so drift in machine load hits all alike
        runs: dict[str, list] = {k: [] for k in cmds}
        for _ in range(args.repeat):
            for key, cmd in cmds.items():
                runs[key].append(measure(cmd, env))
        res = {k: best(v) for k, v in runs.items()}
        bare_s, bare_d = res["bare_s"], res["bare_d"]
        direct = {p: res[f"direct_{p}"] for p in ("transform", "custom")}
        cli = {p: res[f"cli_{p}"] for p in ("transform", "custom")} if use_cli else {}

        print("\nsummary path (goal: time <= 1.5x, memory <= 2x)")
        row("bare pandas read_csv + describe + to_csv", *bare_s[:2])
        row("run_pipeline(plan=transform)  [direct]", *direct["transform"][:2], *bare_s[:2])
        if use_cli:
            row("batchops process --plan transform [CLI]", *cli["transform"][:2], *bare_s[:2])
        print("\ndataset path (goal: time <= 2x)")
        row("bare pandas read_csv + pyarrow write_csv", *bare_d[:2])
        row("run_pipeline(plan=custom)  [direct]", *direct["custom"][:2], *bare_d[:2])
        if use_cli:
            row("batchops process --plan custom [CLI]", *cli["custom"][:2], *bare_d[:2])
        main_s = cli["transform"] if use_cli else direct["transform"]
        main_d = cli["custom"] if use_cli else direct["custom"]
        via = "CLI" if use_cli else "run_pipeline"
        goals = [
            (f"summary time   ({via}) <= 1.5x", main_s[0] / bare_s[0], 1.5),
            (f"summary memory ({via}) <= 2x", main_s[1] / bare_s[1], 2.0),
            (f"dataset time   ({via}) <= 2x", main_d[0] / bare_d[0], 2.0),
        ]
        print("\ngoals (best of %d interleaved run(s)):" % args.repeat)
        for label, ratio, goal in goals:
            print(f"  {label:<36} {ratio:4.2f}x  {'MET' if ratio <= goal else 'NOT MET'}")
        print("\nmeasured: " + ("the CLI (`batchops process`) and run_pipeline directly" if use_cli
                                else "run_pipeline directly (the CLI has no `process` command yet)"))
        for plan in ("transform", "custom"):
            print(f"  step times, {plan}: {direct[plan][2].strip()}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
