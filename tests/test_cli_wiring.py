"""How the CLI is put together: global options on ``ctx.obj``, ``@needs_store`` and its recovery rule, the shared --json."""

from __future__ import annotations

import json
import os
import socket

import pytest

# Light commands from every group module that prints JSON: each takes the shared --json.
JSON_COMMANDS = [
    ("jobs", "list"),
    ("known-errors", "list"),
    ("incidents", "list"),
    ("tickets", "list"),
    ("uploads", "list"),
    ("runs", "list"),
    ("outbox", "list"),
    ("dashboard",),
    ("init",),
]


@pytest.mark.parametrize("command", JSON_COMMANDS, ids=" ".join)
def test_the_global_json_reaches_every_group(run_cli, command):
    before = run_cli("--json", *command)
    assert before.returncode == 0, before.stderr
    after = run_cli(*command, "--json")
    assert json.loads(before.stdout) is not None and json.loads(after.stdout) is not None


def test_global_options_do_not_outlive_their_run(run_cli, tmp_path):
    """Two runs in one process (as the in-process test runner does): the first one's --json and
    --home are gone for the second, with no state to reset in between."""
    other = tmp_path / "other-home"
    assert run_cli("--json", "--home", other, "init").returncode == 0
    plain = run_cli("jobs", "list")
    assert plain.returncode == 0 and not plain.stdout.lstrip().startswith("[")
    assert "send_attendance_reminders" in plain.stdout  # the table, on the test's own home
    assert json.loads(run_cli("--home", other, "jobs", "list", "--json").stdout)


@pytest.mark.parametrize("command", [("process", "marks.csv"), ("uploads", "edit", "1")], ids=" ".join)
def test_a_mistyped_plan_payload_opens_no_store(run_cli, tmp_path, command):
    """The payload is parsed before the store opens: no data home made, no stale run recovered first."""
    fresh = tmp_path / "never-created"
    res = run_cli("--home", fresh, *command, "--records", "{bad")
    assert res.returncode == 2 and "E_JSON_INVALID" in res.stderr
    assert not fresh.exists()


@pytest.mark.parametrize(
    "command", [("uploads", "list"), ("process",), ("report", "export"), ("health",)], ids=" ".join
)
def test_help_opens_no_store(run_cli, tmp_path, command):
    fresh = tmp_path / "never-created"
    res = run_cli("--home", fresh, *command, "--help")
    assert res.returncode == 0 and "Usage: batchops" in res.stdout
    assert not fresh.exists()


def _live_worker() -> None:
    """A heartbeat from this (live) process: a worker is online and recovers runs itself."""
    from batchops.clock import utc_now
    from batchops.store.models import WorkerHeartbeat

    WorkerHeartbeat.create(
        worker_id=f"{socket.gethostname()}:{os.getpid()}:test",
        host=socket.gethostname(),
        pid=os.getpid(),
        last_seen=utc_now(),
    )


def _status(run_id: int) -> str:
    from batchops.services import runs

    return runs.show_run(run_id)["status"]


def test_a_light_command_leaves_recovery_to_a_live_worker(run_cli, stale_run):
    _live_worker()
    assert run_cli("jobs", "list", "--json").returncode == 0
    assert _status(stale_run["run_id"]) == "running"


def test_a_command_that_runs_pipelines_recovers_even_beside_a_worker(run_cli, stale_run):
    _live_worker()
    res = run_cli("process", "--json", "no-such-file.csv")  # needs_store(recover=True), then the bad name
    assert res.returncode == 2 and "E_FILE_NOT_FOUND" in res.stderr
    assert _status(stale_run["run_id"]) == "failed"


def test_a_light_command_recovers_when_no_worker_is_online(run_cli, stale_run):
    assert run_cli("jobs", "list", "--json").returncode == 0
    assert _status(stale_run["run_id"]) == "failed"
