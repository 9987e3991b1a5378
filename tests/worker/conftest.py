"""Fixtures for the worker, scheduler and automation tests.

``wctx`` configures the app on a fresh data home with a generated
``batchops.toml`` (BATCHOPS_CONFIG) and the queue in immediate mode
(BATCHOPS_QUEUE_IMMEDIATE=1: a task runs inside ``enqueue``). Pass settings with
``@pytest.mark.wconfig({...})`` or call ``reconfigure({...})``. Real-worker tests
start ``python -m batchops worker`` instead (see test_worker_real.py).
"""

from __future__ import annotations

import sys

import pytest
from workerlib import BASE_SETTINGS, HERE, merge, write_config


@pytest.fixture
def wctx(home, monkeypatch, request):
    """Configured app (immediate queue) on ``home``; yields a namespace with cfg, home, reconfigure()."""
    from batchops import context
    from batchops.queue import app as queue_app
    from batchops.services.setup import configure
    from batchops.store.db import db

    marker = request.node.get_closest_marker("wconfig")
    settings = merge(BASE_SETTINGS, marker.args[0] if marker else {})
    config_path = home.parent / "batchops.toml"
    monkeypatch.setenv("BATCHOPS_QUEUE_IMMEDIATE", "1")
    monkeypatch.setenv("BATCHOPS_CONFIG", str(write_config(config_path, settings)))
    monkeypatch.delenv("BATCHOPS_TICK_SECONDS", raising=False)
    if str(HERE) not in sys.path:
        monkeypatch.syspath_prepend(str(HERE))

    class Ctx:
        pass

    ctx = Ctx()
    ctx.home = home
    ctx.config_path = config_path
    ctx.settings = settings

    def reconfigure(extra: dict | None = None):
        ctx.settings = merge(settings, extra or {})
        write_config(config_path, ctx.settings)
        ctx.cfg = configure()
        return ctx.cfg

    ctx.reconfigure = reconfigure
    ctx.cfg = configure()
    queue_app.reset()
    yield ctx
    queue_app.reset()
    if db.obj is not None and not db.obj.is_closed():
        db.obj.close()
    context.reset()


def pytest_configure(config):
    config.addinivalue_line("markers", "wconfig(settings): extra batchops.toml settings for the wctx fixture")


# ---------------------------------------------------------------- real worker processes
