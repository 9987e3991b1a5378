#!/usr/bin/env python
"""Benchmark the pipeline against the bare script a user would write (issue #16).

Every ratio of the issue, each printed with its goal. Every measurement is a fresh
subprocess (wall time; peak RSS from wait4's rusage for that child); both sides
run interleaved in the same rounds, and the median of ``--repeat`` rounds is kept
(the best is printed too), so drift in the load of a shared machine hits all alike.
BatchOps runs from bytecode compiled up front (into the temp dir), as an installed copy
does; the libraries on both sides are already compiled.

  csv-1M      ``batchops process --plan transform --json`` on an N-row gradebook CSV
              vs ``pd.read_csv`` + ``describe().to_csv``            goal time <= 1.0x, memory <= 1.5x
              (peak memory is the measured process's own: inputs under 16 MiB get a report
              helper process, whose ~70 MiB it leaves out, and the bench says so; 1M rows do not)
  pdf-4p      ``batchops process`` on a 4-page borderless PDF (130 rows)
              vs pdfplumber open + ``extract_words`` on each page    goal <= 1.5x
  pdf-16p     the same on 16 pages                                   goal <= 1.05x
  xlsx-100k   ``batchops process`` on a 100,000-row workbook
              vs python-calamine read + DataFrame + ``describe``     goal <= 1.3x
  start-up    ``batchops process`` on a 40-row CSV
              vs ``python -c "import pandas; pandas.read_csv(f)"``  goal <= 1.5x
  sql         SQL statements one pipeline run issues (sqlite3 trace callback on every
              store connection; ``execute(run_id)`` only, and the whole ``process_file``)
                                                                     goal <= 20 per run
  scale       ``batchops process`` at N/2, N and 2N rows: time per row and peak memory
              per row, max/min of the three                          goal <= 1.15
  queue       runs/s for 200 small CSVs (``--queue-files``) through ``batchops worker
              --workers 1`` and ``--workers 2`` vs the same files run in-process one
              after another (``process_file``; both clocks start at the first submit, after
              start-up)                                              goal: queued time <= 1.2x

(``scripts/bench_queue.py`` measures the queue's own throughput against bare Huey.)

    python scripts/bench_pipeline.py [--rows 1000000] [--repeat 3] [--quick] [--only csv,pdf,...] [--keep]

``--quick`` uses 200,000 rows, a 20,000-row workbook and 1 round: a couple of minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
SECTIONS = ("csv", "pdf", "xlsx", "startup", "sql", "scale", "queue")

BARE_SUMMARY = r"""
import sys, pandas as pd
df = pd.read_csv(sys.argv[1])
df.describe().to_csv(sys.argv[2])
"""

BARE_PDF = r"""
import sys, pdfplumber
with pdfplumber.open(sys.argv[1]) as pdf:
    n = sum(len(page.extract_words()) for page in pdf.pages)
print(n)
"""

BARE_XLSX = r"""
import sys, pandas as pd
from python_calamine import CalamineWorkbook
rows = CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0).to_python()
df = pd.DataFrame(rows[1:], columns=rows[0])
df.describe().to_csv(sys.argv[2])
"""

BARE_STARTUP = "import sys, pandas; pandas.read_csv(sys.argv[1])"

# Counts every statement SQLite runs for the store (BEGIN/COMMIT included) while one upload is processed.
SQL_COUNT = r"""
import json, sqlite3, sys
import peewee
counts = {"phase": "setup", "setup": 0, "submit": 0, "execute": 0}
def trace(sql):
    counts[counts["phase"]] += 1
_connect = peewee.SqliteDatabase._connect
def _traced(self, *a, **k):
    conn = _connect(self, *a, **k)
    if str(self.database).endswith("batchops.db"):
        conn.set_trace_callback(trace)
    return conn
peewee.SqliteDatabase._connect = _traced
from batchops.services import setup, processing, runs
setup.configure(home=sys.argv[1])
counts["phase"] = "submit"
_execute = processing.execute
def execute(run_id):
    counts["phase"] = "execute"
    try:
        return _execute(run_id)
    finally:
        counts["phase"] = "after"
counts["after"] = 0
processing.execute = execute
out = {}
for run in ("cold", "warm"):  # the second run is what a worker that has run one before does
    for k in ("submit", "execute", "after"):
        counts[k] = 0
    counts["phase"] = "submit"
    res = processing.process_file(sys.argv[2], plan="transform")
    assert res["status"] == "published", res
    out[run] = {k: counts[k] for k in ("submit", "execute", "after")}
print(json.dumps(out))
"""

# Processes every CSV in a folder in-process, or queues them for a running worker and waits
# until each run has finished; prints the seconds from the first submit to the last finish.
QUEUE_DRIVER = r"""
import sys, time
from pathlib import Path
from batchops.services import processing, setup
from batchops.store.models import JobRun
setup.configure(home=sys.argv[1])
files = sorted(Path(sys.argv[2]).glob("*.csv"))
queued = sys.argv[3] == "queue"
t0 = time.perf_counter()
for f in files:
    res = processing.process_file(f, plan="transform", queue=queued)
    assert res["status"] in (("queued", "published") if queued else ("published",)), res
while queued and JobRun.select().where(JobRun.status.in_(("queued", "running"))).count():
    time.sleep(0.02)
elapsed = time.perf_counter() - t0
done = JobRun.select().where(JobRun.status == "succeeded").count()
assert done == len(files), (done, len(files), [r.status for r in JobRun.select()][:5])
print(elapsed)
"""


def helper_max_input() -> int:
    """Inputs from this size up run without the report helper process (pipeline/render_ahead.py)."""
    sys.path.insert(0, str(REPO))
    from batchops.pipeline.render_ahead import HELPER_MAX_INPUT

    return HELPER_MAX_INPUT


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
    cols = {
        "Student ID": ids,
        "Student Name": names,
        "Department": np.array(["Science", "Commerce", "Arts"])[rng.integers(0, 3, rows)],
    }
    for subj in ("Physics", "Chemistry", "Mathematics", "Biology"):
        cols[subj] = rng.integers(20, 101, rows)
    cols["Attendance %"] = np.round(rng.uniform(50, 100, rows), 1)
    pacsv.write_csv(
        pa.table({k: pa.array(v) for k, v in cols.items()}),
        path,
        write_options=pacsv.WriteOptions(quoting_style="none"),
    )


def make_csvs(folder: Path, count: int) -> None:
    """``count`` small gradebooks, each different (an identical file would be a re-upload)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        make_csv(folder / f"class_{i:03d}.csv", 40, seed=i)


def make_pdf(path: Path, rows: int, per_page: int) -> None:
    sys.path.insert(0, str(REPO / "tests" / "pipeline"))
    from pipeline_helpers import make_borderless_pdf

    names = ["Aarav Sharma", "Diya Iyer", "Kabir Nair", "Meera Khan", "Rohan Reddy", "Zara Menon"]
    data = [(f"R{1000 + i}", names[i % len(names)], 40 + i % 60, 35 + (i * 7) % 65) for i in range(rows)]
    make_borderless_pdf(path, data, per_page=per_page)


def make_xlsx(path: Path, rows: int) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Marks")
    ws.append(
        ["Student ID", "Student Name", "Department", "Physics", "Chemistry", "Mathematics", "Biology", "Attendance %"]
    )
    deps = ("Science", "Commerce", "Arts")
    for i in range(rows):
        ws.append(
            [
                f"STU-{i + 1:07d}",
                f"Student {i % 997}",
                deps[i % 3],
                20 + i % 81,
                20 + (i * 7) % 81,
                20 + (i * 13) % 81,
                20 + (i * 17) % 81,
                round(50 + (i * 37) % 500 / 10, 1),
            ]
        )
    wb.save(path)


def measure(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    readers = [
        threading.Thread(target=lambda: out_chunks.append(proc.stdout.read())),
        threading.Thread(target=lambda: err_chunks.append(proc.stderr.read())),
    ]
    for t in readers:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (ru_maxrss in KiB on Linux)
    wall = time.perf_counter() - t0
    for t in readers:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = b"".join(out_chunks).decode(errors="replace")
    if proc.returncode != 0:
        err = b"".join(err_chunks).decode(errors="replace")
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{out[-2000:]}\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024.0, out


class Runs:
    """Commands measured in interleaved rounds; median (and best) of each."""

    def __init__(self, env: dict):
        self.env, self.cmds, self.results = env, {}, {}

    def add(self, key: str, cmd: list[str]) -> None:
        self.cmds[key] = cmd
        self.results[key] = []

    def run(self, rounds: int) -> None:
        for r in range(rounds):
            for key, cmd in self.cmds.items():
                self.results[key].append(measure(cmd, self.env))
            print(f"  round {r + 1}/{rounds} done", file=sys.stderr)

    def time(self, key: str) -> float:
        return statistics.median(x[0] for x in self.results[key])

    def best(self, key: str) -> float:
        return min(x[0] for x in self.results[key])

    def mem(self, key: str) -> float:
        return statistics.median(x[1] for x in self.results[key])

    def out(self, key: str) -> str:
        return self.results[key][-1][2]


def _start_worker(home: Path, workers: int, env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [PY, "-m", "batchops", "--home", str(home), "worker", "--workers", str(workers)],
            env=env,
            cwd=REPO,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 120
    while "Huey consumer started" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"the worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.05)
    time.sleep(0.3)  # let its threads reach their first poll
    return proc


def measure_queue(tmp: Path, files: Path, rounds: int, env: dict) -> dict[str, list[float]]:
    """Seconds for all ``files``: in-process, and queued to a worker with 1 and 2 threads (interleaved)."""
    env = {
        k: v
        for k, v in env.items()
        if k not in ("BATCHOPS_QUEUE_IMMEDIATE", "BATCHOPS_CONFIG", "BATCHOPS_TICK_SECONDS", "BATCHOPS_READ_ONLY")
    }
    times: dict[str, list[float]] = {"inline": [], "workers1": [], "workers2": []}
    for r in range(rounds):
        for key in times:
            home = tmp / f"qhome_{key}_{r}"
            subprocess.run(
                [PY, "-m", "batchops", "--home", str(home), "init"], check=True, capture_output=True, env=env, cwd=REPO
            )
            worker = None
            if key != "inline":
                worker = _start_worker(home, int(key[-1]), env, tmp / f"worker_{key}_{r}.log")
            try:
                _, _, out = measure(
                    [PY, "-c", QUEUE_DRIVER, str(home), str(files), "inline" if worker is None else "queue"], env
                )
            finally:
                if worker is not None:
                    worker.send_signal(signal.SIGINT)  # graceful: it finishes nothing, all runs are done
                    try:
                        worker.wait(30)
                    except subprocess.TimeoutExpired:
                        worker.kill()
                        worker.wait()
            times[key].append(float(out.strip().splitlines()[-1]))
        print(f"  queue round {r + 1}/{rounds} done", file=sys.stderr)
    return times


def line(label: str, value: str, ratio: float | None = None, goal: float | None = None) -> None:
    if ratio is None:
        r = "" if goal is None else "no ratio: noise larger than the difference (more --rows or --repeat)"
    else:
        verdict = "" if goal is None else ("  MET" if ratio <= goal else "  NOT MET")
        r = f"{ratio:6.2f}x (goal <= {goal:g}x){verdict}"
    print(f"  {label:<58} {value:>22}  {r}")


def spread(a: float, b: float) -> float | None:
    """max/min of two marginal costs; None when one is not positive (timing noise swamped it)."""
    return max(a, b) / min(a, b) if min(a, b) > 0 else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=None, help="rows of the big CSV (default 1,000,000; quick 200,000)")
    ap.add_argument("--xlsx-rows", type=int, default=None, help="rows of the workbook (default 100,000)")
    ap.add_argument("--repeat", type=int, default=None, help="interleaved rounds (default 3; quick 1)")
    ap.add_argument("--quick", action="store_true", help="small sizes and one round: a couple of minutes")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma list of: " + ", ".join(SECTIONS))
    ap.add_argument("--queue-files", type=int, default=200, help="queue section: small CSVs (default 200)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--make", nargs=3, metavar=("KIND", "PATH", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make:  # inputs are made in a child: a parent grown by pandas would lend its RSS to every
        kind, path, n = args.make  # child it starts (Linux carries the parent's peak over fork+exec)
        {"csv": make_csv, "csvs": make_csvs, "xlsx": make_xlsx, "pdf": lambda p, n: make_pdf(p, n, per_page=33)}[kind](
            Path(path), int(n)
        )
        return 0
    rows = args.rows or (200_000 if args.quick else 1_000_000)
    xrows = args.xlsx_rows or (20_000 if args.quick else 100_000)
    rounds = args.repeat or (1 if args.quick else 3)
    only = set(args.only.split(","))

    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # BatchOps from bytecode, as installed software runs (the libraries on both sides already are):
    # with PYTHONDONTWRITEBYTECODE set, every run compiled ~150 ms of our sources again
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    subprocess.run([PY, "-m", "compileall", "-q", str(REPO / "batchops")], check=True, capture_output=True, env=env)
    bench = Runs(env)
    home = tmp / "home"
    subprocess.run(
        [PY, "-m", "batchops", "--home", str(home), "init"], check=True, capture_output=True, env=env, cwd=REPO
    )

    def cli(src: Path, *extra: str) -> list[str]:
        return [PY, "-m", "batchops", "--home", str(home), "process", str(src), "--plan", "transform", "--json", *extra]

    try:
        t0 = time.perf_counter()
        sizes = {"half": rows // 2, "full": rows, "double": rows * 2}
        csvs = {}

        def make(kind: str, path: Path, n: int) -> None:
            subprocess.run([PY, __file__, "--make", kind, str(path), str(n)], check=True, env=env, cwd=REPO)

        if only & {"csv", "scale"}:
            for key, n in sizes.items():
                if key == "full" or "scale" in only:
                    csvs[key] = tmp / f"gradebook_{n}.csv"
                    make("csv", csvs[key], n)
        if "pdf" in only:
            make("pdf", tmp / "marks_4p.pdf", 130)
            make("pdf", tmp / "marks_16p.pdf", 16 * 33)
        if "xlsx" in only:
            make("xlsx", tmp / "marks.xlsx", xrows)
        if "startup" in only or "sql" in only:
            make("csv", tmp / "small.csv", 40)
        if "queue" in only:
            make("csvs", tmp / "many", args.queue_files)
        print(
            f"inputs made in {time.perf_counter() - t0:.1f} s; python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPU(s), {rounds} interleaved round(s), median kept",
            file=sys.stderr,
        )

        if "csv" in only:
            bench.add("csv_bare", [PY, "-c", BARE_SUMMARY, str(csvs["full"]), str(tmp / "bare_summary.csv")])
            bench.add("csv_ours", cli(csvs["full"]))
        if "scale" in only:
            for key in ("half", "double"):
                bench.add(f"scale_{key}", cli(csvs[key]))
            if "csv" not in only:
                bench.add("csv_ours", cli(csvs["full"]))
        if "pdf" in only:
            for pages in ("4p", "16p"):
                src = tmp / f"marks_{pages}.pdf"
                bench.add(f"pdf{pages}_bare", [PY, "-c", BARE_PDF, str(src)])
                bench.add(f"pdf{pages}_ours", cli(src))
        if "xlsx" in only:
            bench.add("xlsx_bare", [PY, "-c", BARE_XLSX, str(tmp / "marks.xlsx"), str(tmp / "bare_x.csv")])
            bench.add("xlsx_ours", cli(tmp / "marks.xlsx"))
        if "startup" in only:
            bench.add("start_bare", [PY, "-c", BARE_STARTUP, str(tmp / "small.csv")])
            bench.add("start_ours", cli(tmp / "small.csv"))
        bench.run(rounds)
        queue_times = measure_queue(tmp, tmp / "many", rounds, env) if "queue" in only else {}

        print(f"\nBatchOps vs the bare script (median of {rounds} interleaved round(s); best in brackets)")
        b, t = bench.time, bench.best

        def pair(label, key, mem_goal=None, goal=1.0):
            ours, bare = f"{key}_ours", f"{key}_bare"
            line(f"{label}: bare", f"{b(bare):6.2f} s [{t(bare):.2f}]")
            line(f"{label}: batchops", f"{b(ours):6.2f} s [{t(ours):.2f}]", b(ours) / b(bare), goal)
            if mem_goal:
                line(
                    f"{label}: peak memory bare / batchops",
                    f"{bench.mem(bare):.0f} / {bench.mem(ours):.0f} MiB",
                    bench.mem(ours) / bench.mem(bare),
                    mem_goal,
                )

        if "csv" in only:
            pair(f"{rows:,}-row CSV, transform plan (vs read_csv+describe+to_csv)", "csv", mem_goal=1.5)
            if csvs["full"].stat().st_size < helper_max_input():
                print("  (this input is small enough for the report helper: its ~70 MiB is not in the peak above)")
        if "pdf" in only:
            pair("4-page borderless PDF, 130 rows (vs pdfplumber extract_words)", "pdf4p", goal=1.5)
            pair("16-page borderless PDF, 528 rows (vs pdfplumber extract_words)", "pdf16p", goal=1.05)
        if "xlsx" in only:
            pair(f"{xrows:,}-row XLSX (vs python-calamine + DataFrame + describe)", "xlsx", goal=1.3)
        if "startup" in only:
            pair("40-row CSV end to end (vs python -c 'import pandas; read_csv')", "start", goal=1.5)
        if "scale" in only:
            keys = {"half": "scale_half", "full": "csv_ours", "double": "scale_double"}
            per_row = {k: b(v) / sizes[k] * 1e6 for k, v in keys.items()}
            mem_row = {k: bench.mem(v) / sizes[k] * 1e6 for k, v in keys.items()}
            for k in keys:
                line(
                    f"scale {sizes[k]:,} rows: time / peak memory per row",
                    f"{per_row[k]:.2f} us {mem_row[k] / 1024:.2f} KiB",
                )
            line("scale: time per row, max/min", "", max(per_row.values()) / min(per_row.values()), 1.15)
            line("scale: peak memory per row, max/min", "", max(mem_row.values()) / min(mem_row.values()), 1.15)
            # the fixed costs (start-up, ~300 MiB of libraries) hide linearity in the totals: the
            # marginal cost of each added row, N/2 -> N and N -> 2N, shows it
            t_lo = (b("csv_ours") - b("scale_half")) / (sizes["full"] - sizes["half"]) * 1e6
            t_hi = (b("scale_double") - b("csv_ours")) / (sizes["double"] - sizes["full"]) * 1e6
            m_lo = (bench.mem("csv_ours") - bench.mem("scale_half")) / (sizes["full"] - sizes["half"]) * 1e6
            m_hi = (bench.mem("scale_double") - bench.mem("csv_ours")) / (sizes["double"] - sizes["full"]) * 1e6
            line(
                "scale: marginal time per row, N/2->N | N->2N", f"{t_lo:.2f} | {t_hi:.2f} us", spread(t_lo, t_hi), 1.15
            )
            line(
                "scale: marginal memory per row, N/2->N | N->2N",
                f"{m_lo / 1024:.2f} | {m_hi / 1024:.2f} KiB",
                spread(m_lo, m_hi),
                1.15,
            )
        if "sql" in only:
            _, _, out = measure([PY, "-c", SQL_COUNT, str(tmp / "sqlhome"), str(tmp / "small.csv")], env)
            counts = json.loads(out.strip().splitlines()[-1])
            for run in ("cold", "warm"):
                c = counts[run]
                line(f"SQL statements, {run} process: process_file before the run", str(c["submit"]))
                n = c["execute"]
                print(
                    f"  {f'SQL statements, {run} process: the pipeline run (execute)':<58} {n:>22}  "
                    f"(goal <= 20){'  MET' if n <= 20 else '  NOT MET'}"
                )
        if "queue" in only:
            n = args.queue_files
            inline = statistics.median(queue_times["inline"])
            line(
                f"{n} small CSVs in-process (process_file, one after another)",
                f"{inline:6.2f} s {n / inline:5.1f} runs/s",
            )
            for key, label in (("workers1", "1 worker thread"), ("workers2", "2 worker threads")):
                t_q = statistics.median(queue_times[key])
                line(f"{n} small CSVs queued, {label}", f"{t_q:6.2f} s {n / t_q:5.1f} runs/s", t_q / inline, 1.2)
        if "csv" in only:
            steps = json.loads(bench.out("csv_ours")).get("steps") or []
            if steps:
                print("  step times, CSV: " + ", ".join(f"{s['name']} {s.get('duration_s') or 0:.2f} s" for s in steps))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
