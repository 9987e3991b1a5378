#!/usr/bin/env python3
"""How long does ``batchops --help`` take next to a bare ``import typer``?

Runs each command N times (alternating, so both see the same machine load),
prints the medians and their ratio. The goal is a ratio of at most 2.0.

    python scripts/bench_help.py [-n 10]

Exit status 1 when the ratio is over the goal (handy in CI), 0 otherwise.
If it is over, ``python -X importtime -m batchops --help 2>&1 | sort -t'|' -k2 -n | tail``
shows what got imported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

GOAL = 2.0


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="runs per command (default 10)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, BATCHOPS_HOME=home)
        env.pop("BATCHOPS_CONFIG", None)
        help_cmd = [sys.executable, "-m", "batchops", "--help"]
        typer_cmd = [sys.executable, "-c", "import typer"]
        # warm the OS file cache and the bytecode cache once
        timed(help_cmd, env)
        timed(typer_cmd, env)
        help_times, typer_times = [], []
        for _ in range(args.n):
            help_times.append(timed(help_cmd, env))
            typer_times.append(timed(typer_cmd, env))

    help_med = statistics.median(help_times)
    typer_med = statistics.median(typer_times)
    ratio = help_med / typer_med
    print(f"batchops --help   median {help_med * 1000:7.1f} ms  (n={args.n})")
    print(f"import typer      median {typer_med * 1000:7.1f} ms  (n={args.n})")
    print(f"ratio             {ratio:.2f}  (goal <= {GOAL:.1f}: {'ok' if ratio <= GOAL else 'OVER'})")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
