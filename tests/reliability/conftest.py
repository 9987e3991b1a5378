"""Fixtures for the reliability tests; the helpers live in reliability_helpers.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # tests are not a package: corpus.py and the helpers import by name
    sys.path.insert(0, str(HERE))

from reliability_helpers import batchops_here  # noqa: E402


@pytest.fixture
def rhome(tmp_path) -> Path:
    """A fresh, initialised data home for subprocess tests (initialised in-process: only set-up)."""
    home = tmp_path / "home"
    home.mkdir()
    r = batchops_here(home, "init")
    assert r.returncode == 0, r.stderr
    return home
