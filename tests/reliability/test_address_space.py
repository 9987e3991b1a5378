"""The reliability tests run every batchops process under ``RLIMIT_AS`` (MEMORY_LIMIT, as under a
``ulimit -v``): a run's address space must leave room under it, not sit at it.

pyarrow's mimalloc reserved 1 GiB at its first allocation; the worker then peaked at 2044 of the
2048 MiB and, once, could not map fontTools' libraries (E_INTERNAL in the publish step).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from reliability_helpers import MEMORY_LIMIT, _limits, cli_env


def test_a_run_reserves_well_under_the_address_space_limit(tmp_path, samples_dir):
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchops", "process", str(samples_dir / "gradebook_science.csv"), "--json"],
        env=cli_env(tmp_path / "home", {"MIMALLOC_ARENA_RESERVE": None}),
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=_limits,
    )
    peak_kib = 0  # VmPeak is the kernel's high-water mark: any read after the reservation sees it
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            break
        if "VmPeak:" in status:
            peak_kib = max(peak_kib, int(status.split("VmPeak:")[1].split()[0]))
        time.sleep(0.005)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert '"published"' in out.decode()
    assert 0 < peak_kib * 1024 < MEMORY_LIMIT / 2, f"VmPeak {peak_kib // 1024} MiB"
