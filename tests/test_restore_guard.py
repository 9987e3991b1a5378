"""restore refuses while another process (a forgotten TUI, say) has the store open."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_restore_refuses_while_another_process_holds_the_store(run_cli, home):
    backup = json.loads(run_cli("backup", "--json").stdout)["path"]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('select count(*) from upload').fetchone(); print('ready', flush=True); "
            "time.sleep(30)",
            str(home / "batchops.db"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        refused = run_cli("restore", backup, "--yes")
        assert refused.returncode == 2
        assert refused.stderr.startswith("error E_STORE_IN_USE:") and str(holder.pid) in refused.stderr
        forced = run_cli("restore", backup, "--yes", "--force", "--json")
        assert forced.returncode == 0 and json.loads(forced.stdout)["forced"] is True
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert run_cli("restore", backup, "--yes").returncode == 0
