"""``batchops --help`` and the light commands must not import the heavy stack.

Each case runs the real entry point in a fresh interpreter and, at exit, reports
which heavy top-level packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ["pandas", "numpy", "textual", "pdfplumber", "openpyxl", "fpdf", "pyarrow", "python_calamine"]

PROBE = r"""
import atexit, json, sys
heavy = set(json.loads(sys.argv[1]))
sys.argv = ["batchops", *sys.argv[2:]]
atexit.register(lambda: sys.stderr.write(
    "\nHEAVY-MODULES " + json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)) + "\n"))
from batchops.cli.main import run
run()
"""


def _loaded_heavy(home, *args) -> tuple[list[str], subprocess.CompletedProcess]:
    env = dict(os.environ, BATCHOPS_HOME=str(home))
    env.pop("BATCHOPS_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    marker = [line for line in proc.stderr.splitlines() if line.startswith("HEAVY-MODULES ")]
    assert marker, proc.stderr
    return json.loads(marker[-1].split(" ", 1)[1]), proc


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("--version",),
        ("init",),
        ("jobs", "list"),
        ("jobs", "list", "--json"),
        ("jobs", "show", "1", "--json"),
        ("known-errors", "list"),
        ("health",),
        ("health", "--json"),
        ("incidents", "list", "--json"),
        ("tickets", "list"),
        ("known-errors", "test", "database is locked", "--code", "E_INTERNAL"),
        ("dashboard", "--json"),
        ("metrics",),
    ],
    ids=lambda a: " ".join(a),
)
def test_light_commands_stay_light(home, args):
    heavy, proc = _loaded_heavy(home, *args)
    # health exits 1 on a fresh home (scheduled jobs, no worker); it still must not go heavy
    assert proc.returncode in ((0, 1) if args[0] == "health" else (0,)), proc.stderr
    assert heavy == [], f"`batchops {' '.join(args)}` imported {heavy}"


def test_the_probe_can_see_heavy_imports(home, monkeypatch):
    """Guard against a probe that always says 'nothing': a command that imports pandas must show up."""
    monkeypatch.setattr(sys.modules[__name__], "PROBE", PROBE.replace("from batchops", "import pandas\nfrom batchops"))
    heavy, _ = _loaded_heavy(home, "--help")
    assert {"pandas", "numpy"} <= set(heavy)
