"""The CLI skeleton: init, jobs, known-errors, errors, --json (in-process; one test through a real process)."""

from __future__ import annotations

import json

import pytest

SEEDED_CALLABLES = {
    "send_attendance_reminders",
    "send_system_status_digest",
    "run_web_scrape",
    "schedule_file_ingest",
    "purge_old_records",
    "run_daily_backup",
}


def _json(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # the whole of stdout is one JSON document


def test_init_twice_is_harmless(run_cli, home):
    first = _json(run_cli("init", "--json"))
    second = _json(run_cli("init", "--json"))
    assert first["jobs"] == second["jobs"] == 6
    assert first["known_errors"] == second["known_errors"] >= 10
    assert first["data_dir"] == str(home.resolve())
    assert (home / "batchops.db").is_file()
    for sub in ("files", "exports", "backups", "outbox"):
        assert (home / sub).is_dir()
    plain = run_cli("init")
    assert plain.returncode == 0 and "6 jobs" in plain.stderr


def test_jobs_list_json(run_cli):
    jobs = _json(run_cli("jobs", "list", "--json"))
    assert {j["callable"] for j in jobs} == SEEDED_CALLABLES
    assert len(jobs) == 6
    job = _json(run_cli("jobs", "show", str(jobs[0]["id"]), "--json"))
    assert job["name"] == jobs[0]["name"]
    # the global --json works too
    assert _json(run_cli("--json", "jobs", "list")) == jobs


def test_known_errors_list_json(run_cli):
    known = _json(run_cli("known-errors", "list", "--json"))
    assert len(known) >= 10
    assert all(k["error_code"].startswith("E_") for k in known)
    one = _json(run_cli("known-errors", "show", str(known[0]["id"]), "--json"))
    assert one["root_cause"] and one["corrective_action"]


def test_human_output(run_cli):
    proc = run_cli("jobs", "list")
    assert proc.returncode == 0, proc.stderr
    assert "daily-backup" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("jobs", "show", "999"),
        ("jobs", "show", "abc"),
        ("known-errors", "show", "999", "--json"),
    ],
)
def test_unknown_id_is_one_line_exit_2(run_cli, args):
    proc = run_cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error E_NOT_FOUND")
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ("uploads", "list", "--status", "done"),
        ("runs", "list", "--status", "ok"),
        ("runs", "list", "--kind", "cron"),
        ("incidents", "list", "--state", "closed"),
        ("incidents", "list", "--severity", "urgent"),
        ("tickets", "list", "--state", "closed"),
    ],
)
def test_a_filter_value_no_record_can_have_is_refused_not_an_empty_list(run_cli, args):
    proc = run_cli(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error E_BAD_FILTER: unknown ") and f"{args[-1]!r} (one of " in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_debug_shows_the_traceback(run_cli):
    proc = run_cli("--debug", "jobs", "show", "999")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error E_NOT_FOUND")


def test_the_real_entry_point_answers_like_the_in_process_one(run_cli, run_cli_proc):
    """``python -m batchops`` in a real process: JSON out, one-line errors, usage exit 2, no traceback."""
    real = run_cli_proc("jobs", "list", "--json")
    assert _json(real) == _json(run_cli("jobs", "list", "--json"))
    missing = run_cli_proc("jobs", "show", "999")
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.splitlines() == run_cli("jobs", "show", "999").stderr.splitlines()
    assert len(missing.stderr.splitlines()) == 1 and missing.stderr.startswith("error E_NOT_FOUND")
    usage = run_cli_proc("no-such-command")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_usage_errors_exit_2(run_cli):
    assert run_cli("no-such-command").returncode == 2
    assert run_cli("jobs", "list", "--bogus").returncode == 2


def test_health_json(run_cli):
    # A fresh home has enabled scheduled jobs and no worker: health says so and exits 1.
    proc = run_cli("health", "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["healthy"] is False
    store = report["checks"]["store"]
    assert store["ok"] and store["journal_mode"] == "wal" and store["schema_current"] is True
    assert not report["checks"]["workers"]["ok"]
    assert "no worker alive" in report["checks"]["workers"]["note"]


def test_health_is_ok_when_nothing_is_scheduled(run_cli):
    jobs = _json(run_cli("jobs", "list", "--json"))
    for job in jobs:
        assert run_cli("jobs", "pause", str(job["id"])).returncode == 0
    report = _json(run_cli("health", "--json"))
    assert report["healthy"] is True


def test_help_lists_the_groups(run_cli):
    proc = run_cli("--help")
    assert proc.returncode == 0
    for name in ("init", "health", "jobs", "known-errors"):
        assert name in proc.stdout


def test_bundled_samples_are_the_shared_ones():
    """`batchops demo` ships copies of ../shared/samples; they must not drift."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    shared, bundled = repo.parent / "shared" / "samples", repo / "batchops" / "samples"
    if not shared.is_dir():
        pytest.skip("no ../shared/samples beside this checkout")
    names = sorted(p.relative_to(shared) for p in shared.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(bundled) for p in bundled.rglob("*") if p.is_file())
    for name in names:
        assert (shared / name).read_bytes() == (bundled / name).read_bytes(), name


def test_health_does_not_create_the_queue_to_report_it_empty(run_cli, home):
    assert run_cli("init").returncode == 0
    report = json.loads(run_cli("--read-only", "health", "--json").stdout)
    assert report["checks"]["queue"]["depth"] == 0
    assert not (home / "queue.db").exists()


def test_version_of_a_pip_install_is_the_version_alone(run_cli):
    """The build's commit and date belong to the single executable (batchops/_build_info.py), not to pip."""
    from batchops import __version__

    proc = run_cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"batchops {__version__}\n"
