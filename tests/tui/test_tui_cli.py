"""``batchops tui``: registered, documented, and Textual imported only when it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = r"""
import atexit, json, sys
sys.argv = ["batchops", *sys.argv[1:]]
atexit.register(lambda: sys.stderr.write("\nTEXTUAL " + json.dumps("textual" in sys.modules) + "\n"))
from batchops.cli.main import run
run()
"""


def test_tui_help_does_not_import_textual(home):
    env = dict(os.environ, BATCHOPS_HOME=str(home))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "tui", "--help"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--read-only" in proc.stdout
    marker = [line for line in proc.stderr.splitlines() if line.startswith("TEXTUAL ")]
    assert marker and json.loads(marker[-1].split(" ", 1)[1]) is False


def test_tui_is_listed(run_cli):
    proc = run_cli("--help")
    assert proc.returncode == 0 and "tui" in proc.stdout
