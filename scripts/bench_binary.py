#!/usr/bin/env python3
"""Start-time ratios of the single executable against the pip install, in one run.

    python3 scripts/bench_binary.py [--binary dist/batchops] [--pip-batchops PATH] [-n 10] [--demo-runs 3]

Measures, alternating the two so both see the same machine load (medians):
  first start   the binary's ``--help`` with an empty extraction cache       goal <= 5 s
  --help        second and later starts, binary vs pip install               goal <= 3x
  demo          ``demo`` on a fresh data home, binary vs pip install         goal <= 1.5x
Exit status 1 when a goal is missed, 0 otherwise. The pip install is the ``batchops`` on PATH
unless --pip-batchops names one (e.g. the CI venv's bin/batchops).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOALS = {"first start": 5.0, "--help": 3.0, "demo": 1.5}


CPU: list[float] = []  # CPU seconds (user + sys) of each timed run, children included


def timed(cmd: list[str], env: dict, cwd: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        cmd,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        check=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=str(REPO / "dist" / "batchops"))
    parser.add_argument("--pip-batchops", default=shutil.which("batchops"), help="the pip-installed entry point")
    parser.add_argument("-n", type=int, default=10, help="--help runs of each (default 10)")
    parser.add_argument("--demo-runs", type=int, default=3, help="demo runs of each (default 3)")
    parser.add_argument("--first-runs", type=int, default=3, help="first starts, each with an empty cache (default 3)")
    args = parser.parse_args()
    binary = str(Path(args.binary).resolve())
    if not Path(binary).is_file():
        print(f"no binary at {binary}: run scripts/build_binary.py first", file=sys.stderr)
        return 2
    if not args.pip_batchops:
        print("no pip-installed batchops on PATH: pass --pip-batchops", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="batchops-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHOPS_", "PYTHONPATH"))}
        env.update(
            HOME=tmp,
            XDG_CONFIG_HOME=f"{tmp}/xdg-config",
            XDG_DATA_HOME=f"{tmp}/xdg-data",
            BATCHOPS_CACHE_DIR=f"{tmp}/cache",
            BATCHOPS_HOME=f"{tmp}/home",
        )
        env.pop("XDG_CACHE_HOME", None)

        first, first_cpu = [], []
        for _ in range(args.first_runs):
            shutil.rmtree(f"{tmp}/cache", ignore_errors=True)
            first.append(timed([binary, "--help"], env, tmp))
            first_cpu.append(CPU[-1])
        # warm: the cache is full now; the OS file cache gets both programs once
        timed([binary, "--help"], env, tmp)
        timed([args.pip_batchops, "--help"], env, tmp)
        help_bin, help_pip = [], []
        for _ in range(args.n):
            help_bin.append(timed([binary, "--help"], env, tmp))
            help_pip.append(timed([args.pip_batchops, "--help"], env, tmp))
        demo_bin, demo_pip = [], []
        for i in range(args.demo_runs):
            for cmd, out in ((binary, demo_bin), (args.pip_batchops, demo_pip)):
                home = f"{tmp}/demo-{len(out)}-{Path(cmd).name}-{i}"
                out.append(timed([cmd, "demo"], dict(env, BATCHOPS_HOME=home), tmp))
                shutil.rmtree(home, ignore_errors=True)

    med = statistics.median
    rows = [
        ("first start", f"binary --help, empty cache (n={args.first_runs})", med(first), None, med(first)),
        ("--help", f"second+ start (n={args.n})", med(help_bin), med(help_pip), med(help_bin) / med(help_pip)),
        ("demo", f"fresh data home (n={args.demo_runs})", med(demo_bin), med(demo_pip), med(demo_bin) / med(demo_pip)),
    ]
    print(f"{'':12} {'what':40} {'binary':>9} {'pip':>9} {'ratio':>7}  goal")
    missed = 0
    for name, what, b, p, value in rows:
        goal = GOALS[name]
        good = value <= goal
        missed += not good
        unit = "s" if p is None else "x"
        print(
            f"{name:12} {what:40} {b:8.2f}s {'' if p is None else f'{p:8.2f}s':>9} "
            f"{'' if p is None else f'{value:6.2f}x':>7}  <= {goal}{unit}: {'ok' if good else 'OVER'}"
        )
    print(
        f"first start used {med(first_cpu):.2f} s of CPU (gunzip + tar + start, children included); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores during this run; "
        f"{Path(binary).stat().st_size / 1e6:.1f} MB file"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
