"""The incident, ticket, dashboard and metrics commands never import the heavy stack."""

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


@pytest.mark.parametrize("args", [
    ("incidents", "list", "--json"),
    ("tickets", "list"),
    ("known-errors", "test", "database is locked", "--code", "E_INTERNAL"),
    ("dashboard", "--json"),
    ("metrics",),
], ids=lambda a: " ".join(a))
def test_incident_commands_stay_light(home, args):
    env = dict(os.environ, BATCHOPS_HOME=str(home))
    env.pop("BATCHOPS_CONFIG", None)
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(HEAVY), *args], env=env, cwd=home.parent,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr
    marker = [line for line in proc.stderr.splitlines() if line.startswith("HEAVY-MODULES ")]
    assert json.loads(marker[-1].split(" ", 1)[1]) == []
