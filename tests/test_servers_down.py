"""Servers that are missing, misnamed or down: coded errors and health reports, never E_INTERNAL.

Nothing here needs a running server: a closed loopback port is a server that is down.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys

import pytest

from batchops.errors import ConfigError


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when we return: nothing listens there


def test_missing_drivers_name_the_extra(tmp_path, monkeypatch):
    import huey.storage  # noqa: F401 - loaded before redis "disappears", as in a real process
    import playhouse.db_url  # noqa: F401

    from batchops.config import Config
    from batchops.queue import app
    from batchops.store.db import make_database

    monkeypatch.setitem(sys.modules, "psycopg2", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigError) as info:
        make_database("postgresql://batchops@db.example/batchops", tmp_path)
    assert info.value.code == "E_DB_DRIVER_MISSING" and 'pip install "batchops[postgres]"' in info.value.message
    monkeypatch.setitem(sys.modules, "redis", None)
    cfg = Config(data_dir=str(tmp_path))
    cfg.queue.url = "redis://queue.example:6379/0"
    with pytest.raises(ConfigError) as info:
        app.build(cfg, immediate=False)
    assert info.value.code == "E_QUEUE_DRIVER_MISSING" and 'pip install "batchops[redis]"' in info.value.message


@pytest.mark.parametrize("url", ["postgresql://127.0.0.1:notaport/db", "postgres://just-a-host"])
def test_bad_database_urls_are_config_errors(tmp_path, url, run_cli):
    pytest.importorskip("psycopg2")
    proc = run_cli("uploads", "list", env={"BATCHOPS_DATABASE_URL": url})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error E_DB_URL: database.url") and "Traceback" not in proc.stderr


def test_database_down_is_a_health_report_and_a_coded_error(run_cli):
    pytest.importorskip("psycopg2")
    url = f"postgresql://batchops:secret@127.0.0.1:{_closed_port()}/batchops"
    env = {"BATCHOPS_DATABASE_URL": url, "BATCHOPS_QUEUE_URL": None}
    health = run_cli("health", "--json", env=env)
    assert health.returncode == 1, health.stderr
    report = json.loads(health.stdout)
    store = report["checks"]["store"]
    assert report["healthy"] is False and store["reachable"] is False and "E_DB_UNREACHABLE" in store["error"]
    assert "secret" not in health.stdout  # the password never printed
    assert report["checks"]["queue"]["reachable"] is True  # what can be checked still is
    plain = run_cli("health", env=env)
    assert plain.returncode == 1 and "reachable" in plain.stdout and "NOT healthy" in plain.stderr
    listed = run_cli("uploads", "list", env=env)
    assert listed.returncode == 1 and listed.stderr.startswith("error E_DB_UNREACHABLE:"), listed.stderr


def test_queue_down_is_a_coded_error_and_unhealthy(run_cli, tmp_path):
    if importlib.util.find_spec("redis") is None:
        pytest.skip("needs the redis package (batchops[redis])")
    env = {"BATCHOPS_QUEUE_URL": f"redis://127.0.0.1:{_closed_port()}/0"}
    src = tmp_path / "marks.csv"
    src.write_text("student_id,name,score\nS1,Asha,50\n", encoding="utf-8")
    queued = run_cli("process", src, "--queue", env=env)
    assert queued.returncode == 1 and queued.stderr.startswith("error E_QUEUE_UNAVAILABLE:"), queued.stderr
    uploads = json.loads(run_cli("uploads", "list", "--json", env=env).stdout)
    # failed with the code (an upload nothing would move is never left staged or queued with no task)
    assert [u["status"] for u in uploads] == ["failed"]
    report = json.loads(run_cli("health", "--json", env=env).stdout)
    assert report["checks"]["queue"]["reachable"] is False and not report["healthy"]


def test_read_only_on_a_store_never_set_up_is_no_store(run_cli, home, request):
    """An empty SQLite file or an empty PostgreSQL database is "no store yet", not an outdated one."""
    if request.config.getoption("backend") == "server":
        import serverlib

        empty = serverlib.create_database("empty")
        try:
            r = run_cli("--read-only", "uploads", "list", env={"BATCHOPS_DATABASE_URL": empty})
        finally:
            serverlib.drop_database(empty)
    else:
        (home / "batchops.db").touch()
        r = run_cli("--read-only", "uploads", "list")
    assert r.returncode == 2 and r.stderr.startswith("error E_NO_STORE:") and "batchops init" in r.stderr, r.stderr
