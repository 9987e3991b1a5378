"""The report helper a one-shot command forks (pipeline/render_ahead.py): same PDF, or no helper at all.

The helper only starts in a single-threaded process, so each case runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pipeline_helpers import pdf_text

from batchops.cli.main import _publishing_here, hoist_global_options

needs_two_cores = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2 if hasattr(os, "sched_getaffinity") else True,
    reason="the helper only starts with a second core (and on Linux)",
)

SPEC = r"""
import pandas as pd
from batchops.pipeline import publish as pub
rows = 300
df = pd.DataFrame({
    "Roll No": [f"R{i:04d}" for i in range(rows)],
    "Name": ["Łukasz Zoë 漢" if i % 7 == 0 else f"Student {i}" for i in range(rows)],
    "Marks": [40.5 + i % 60 for i in range(rows)],
})
kpis = pd.DataFrame({"kpi": ["rows", "mean"], "value": [rows, 70.25]})
spec = pub.PdfSpec(
    title="Marks — Class 9", school="Green Valley School", generated_at="2026-11-30 10:00",
    blocks=[pub.Block("Summary", kpis), pub.Block("Data", df, max_rows=50, exact=True)],
    notes=["A note."], about=["Source: marks.csv"],
)
"""


def _script(body: str, out_dir=None) -> dict:
    """Runs ``body`` in a fresh interpreter; its last line of output is JSON. ``OUT`` is ``out_dir``."""
    code = "import json, os, re, signal, threading, time\nfrom batchops.pipeline import render_ahead\n" + body
    env = dict(os.environ, OUT=str(out_dir or ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _undated(pdf: bytes) -> bytes:
    import re

    return re.sub(rb"/CreationDate \(D:[^)]*\)|/ID \[<[0-9A-F]+><[0-9A-F]+>\]", b"", pdf)  # the ID hashes the date


@needs_two_cores
def test_the_helper_lays_out_the_same_pdf_as_this_process(tmp_path):
    out = _script(
        "started = render_ahead.start([])\n"
        + SPEC
        + r"""
theirs_missing, ours_missing = [], []
from batchops.pipeline.report_pdf import lay_out
theirs = render_ahead.render(pub.pdf_text(spec), theirs_missing)
ours = lay_out(pub.pdf_text(spec), ours_missing)  # in this process
render_ahead.stop()
open(os.environ["OUT"] + "/theirs.pdf", "wb").write(theirs)
open(os.environ["OUT"] + "/ours.pdf", "wb").write(ours)
print(json.dumps({"started": started, "missing": [theirs_missing, ours_missing]}))
""",
        tmp_path,
    )
    assert out["started"] is True
    assert out["missing"] == [["漢"], ["漢"]]  # the character DejaVu cannot draw, reported by both
    theirs, ours = tmp_path / "theirs.pdf", tmp_path / "ours.pdf"
    assert _undated(theirs.read_bytes()) == _undated(ours.read_bytes())

    text = pdf_text(theirs)
    assert (
        "Showing 50 of 300 rows; the CSV has them all." in text
        and "Łukasz Zoë" in text
        and "R0049" in text
        and "R0050" not in text
    )


@needs_two_cores
def test_a_helper_that_died_means_the_pdf_is_laid_out_here():
    out = _script(
        "render_ahead.start([])\npid = render_ahead._helper.pid\nos.kill(pid, signal.SIGKILL)\n"
        + r"""
from batchops.pipeline.report_pdf import ReportText
got = render_ahead.render(ReportText("Marks", "Green Valley School", "now"), [])
try:
    os.waitpid(pid, 0)
    reaped = False
except ChildProcessError:
    reaped = True  # stop() already waited for it: no zombie left behind
print(json.dumps({"got": got, "helper": render_ahead._helper is not None, "reaped": reaped}))
"""
    )
    assert out == {"got": None, "helper": False, "reaped": True}


def test_no_helper_where_a_fork_would_copy_another_threads_locks():
    out = _script(
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "print(json.dumps({'started': render_ahead.start([]), 'render': render_ahead.render(None, [])}))"
    )
    assert out == {"started": False, "render": None}


@pytest.mark.parametrize(
    ("argv", "inputs"),
    [
        (["process", "a.csv"], ["a.csv"]),
        (["--home", "/x", "process", "a.csv", "--json"], ["a.csv", "--json"]),
        (["process", "a.csv", "--home=/x", "--debug"], ["a.csv"]),
        (["demo"], []),
        (["process", "a.csv", "--queue"], None),  # the worker publishes it
        (["process", "--help"], None),
        (["report", "export", "1"], None),
        (["--home", "process"], None),  # "process" is the home here, and no command follows
        ([], None),
    ],
)
def test_only_commands_that_publish_here_fork_a_helper(argv, inputs):
    assert _publishing_here(hoist_global_options(argv)) == inputs


@needs_two_cores
def test_no_helper_for_a_district_sized_input(tmp_path):
    """~70 MB of helper is noise beside a class list, not beside the frames of a 16 MB export."""
    big, small = tmp_path / "district.csv", tmp_path / "class.csv"
    with big.open("wb") as f:
        f.truncate(16 * 1024 * 1024)  # sparse: the size is what counts
    small.write_text("Roll No,Name\n1,Asha\n")
    out = _script(
        f"big = render_ahead.start(['--json', {str(big)!r}, 'missing.csv'])\n"
        f"small = render_ahead.start([{str(small)!r}, '--plan', 'transform'])\n"
        "render_ahead.stop()\nprint(json.dumps({'big': big, 'small': small}))"
    )
    assert out == {"big": False, "small": True}
