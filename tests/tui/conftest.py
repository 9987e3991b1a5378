"""TUI test helpers: an app on a fresh data home, and waiting for thread workers."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def make_app(app_ctx):
    """make_app(**kwargs) -> the app the operator gets, on this test's data home, refreshing fast."""
    from batchops.tui.app import make_app as factory

    def build(**kwargs):
        kwargs.setdefault("refresh_seconds", 0.5)
        return factory(**kwargs)

    return build


@pytest.fixture
def samples(samples_dir) -> Path:
    return samples_dir
