"""services.jobs and `batchops jobs ...`: validation, changes, trigger, preview, registry."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from batchops.errors import InputError, InvalidCron, InvalidJSON, ReadOnly


def _add(**overrides):
    from batchops.services import jobs

    kwargs = dict(name="echo", callable="worker_helpers:echo", cron="*/5 * * * *")
    kwargs.update(overrides)
    return jobs.add_job(kwargs.pop("name"), kwargs.pop("callable"), kwargs.pop("cron"), **kwargs)


def test_add_job_defaults_and_next_run(wctx):
    job = _add(kwargs='{"a": 1}', args="[1, 2]")
    assert job["args"] == [1, 2] and job["kwargs"] == {"a": 1}
    assert job["timezone"] == "Asia/Kolkata"
    assert job["misfire_policy"] == "once" and job["max_lateness_min"] == 60
    assert job["next_run_at"] > datetime.now(timezone.utc)
    assert job["next_run_at"].minute % 5 == 0


@pytest.mark.parametrize(
    "overrides, error, code",
    [
        ({"cron": "61 * * * *"}, InvalidCron, "E_CRON_INVALID"),
        ({"cron": "* * * *"}, InvalidCron, "E_CRON_INVALID"),
        ({"cron": "0 0 31 2 *"}, InvalidCron, "E_CRON_INVALID"),
        ({"callable": "os:system"}, InputError, "E_CALLABLE_NOT_REGISTERED"),
        ({"callable": "no_such_callable"}, InputError, "E_CALLABLE_NOT_REGISTERED"),
        ({"callable": "worker_helpers:_private"}, InputError, "E_CALLABLE_NOT_REGISTERED"),
        ({"callable": "worker_helpers:missing"}, InputError, "E_CALLABLE_NOT_REGISTERED"),
        ({"args": "[1,"}, InvalidJSON, "E_JSON_INVALID"),
        ({"kwargs": "[1]"}, InvalidJSON, "E_JSON_INVALID"),
        ({"timezone": "Mars/Olympus"}, InputError, "E_TIMEZONE_INVALID"),
        ({"misfire_policy": "sometimes"}, InputError, "E_POLICY_INVALID"),
        ({"timeout_s": 0}, InputError, "E_JOB_INVALID"),
        ({"callable": "purge_old_records", "kwargs": {"nope": 1}}, InputError, "E_JOB_ARGS_INVALID"),
        ({"name": "  "}, InputError, "E_JOB_INVALID"),
    ],
)
def test_add_job_refuses_bad_input(wctx, overrides, error, code):
    from batchops.store.models import Job

    before = Job.select().count()
    with pytest.raises(error) as info:
        _add(**overrides)
    assert info.value.code == code and info.value.exit_code == 2
    assert Job.select().count() == before


def test_duplicate_name_refused(wctx):
    _add()
    with pytest.raises(InputError) as info:
        _add()
    assert info.value.code == "E_JOB_EXISTS"


def test_module_callables_only_when_allowed(wctx):
    wctx.reconfigure({"automation": {"allowed_modules": []}})
    with pytest.raises(InputError) as info:
        _add()
    assert info.value.code == "E_CALLABLE_NOT_REGISTERED"
    assert "allowed_modules" in info.value.message


def test_edit_pause_resume_delete(wctx):
    from batchops.services import jobs

    job = _add()
    edited = jobs.edit_job(job["id"], cron="0 9 * * *", timezone="Europe/Berlin", retries=2, misfire_policy="all")
    assert edited["cron"] == "0 9 * * *" and edited["retries"] == 2 and edited["misfire_policy"] == "all"
    local = edited["next_run_at"].astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (9, 0)
    with pytest.raises(InvalidCron):
        jobs.edit_job(job["id"], cron="nope")
    with pytest.raises(InputError):
        jobs.edit_job(job["id"], bogus=1)
    assert jobs.pause_job(job["id"])["paused"] is True
    resumed = jobs.resume_job(job["id"])
    assert resumed["paused"] is False and resumed["next_run_at"] > datetime.now(timezone.utc)
    jobs.delete_job(job["id"])
    with pytest.raises(InputError) as info:
        jobs.show_job(job["id"])
    assert info.value.code == "E_NOT_FOUND"


def test_read_only_refuses_changes(wctx):
    from batchops.services import jobs

    job = _add()
    wctx.cfg.read_only = True
    for call in (
        lambda: _add(name="other"),
        lambda: jobs.edit_job(job["id"], retries=1),
        lambda: jobs.pause_job(job["id"]),
        lambda: jobs.trigger_job(job["id"]),
        lambda: jobs.delete_job(job["id"]),
    ):
        with pytest.raises(ReadOnly):
            call()


def test_trigger_runs_through_the_queue(wctx):
    from batchops.services import jobs
    from batchops.store.models import Job, JobRun

    job = _add(args=[1], kwargs={"b": 2})
    out = jobs.trigger_job(job["id"])
    run = JobRun.get_by_id(out["run_id"])  # immediate mode: already executed
    assert run.status == "succeeded" and run.kind == "job" and run.trigger == "cli"
    assert run.result == {"args": [1], "kwargs": {"b": 2}}
    assert "succeeded" in run.log
    assert Job.get_by_id(job["id"]).last_status == "succeeded"


def test_retry_delay_backs_off():
    from batchops.services.jobs import retry_delay

    assert [retry_delay(60, a) for a in (2, 3, 4)] == [60, 120, 240]
    assert retry_delay(3600, 12) == 6 * 3600
    assert retry_delay(None, 3) is None


def test_next_runs_flags_daylight_saving(wctx):
    from batchops.services import jobs

    job = _add(cron="30 2 * * *", timezone="Europe/Berlin")
    # 2025: spring forward on 30 March (02:30 does not exist), fall back on 26 October (02:30 twice)
    spring = jobs.next_runs(job["id"], 2, after=datetime(2025, 3, 29, 12, tzinfo=timezone.utc))
    assert spring[0]["note"].startswith("shifted") and spring[0]["utc"] == "2025-03-30T01:00:00Z"
    assert spring[1]["note"] == ""
    autumn = jobs.next_runs(job["id"], 3, after=datetime(2025, 10, 25, 12, tzinfo=timezone.utc))
    assert [r["note"].split(":")[0] for r in autumn] == ["ambiguous", "ambiguous", ""]
    assert autumn[0]["utc"] == "2025-10-26T00:30:00Z" and autumn[1]["utc"] == "2025-10-26T01:30:00Z"


def test_callables_lists_builtins_and_allowed_modules(wctx):
    from batchops.services import jobs

    listed = {c["name"]: c for c in jobs.callables()}
    for name in (
        "send_attendance_reminders",
        "send_system_status_digest",
        "run_web_scrape",
        "schedule_file_ingest",
        "purge_old_records",
        "run_daily_backup",
    ):
        assert listed[name]["builtin"] and listed[name]["description"]
    assert [a["name"] for a in listed["purge_old_records"]["args"]] == ["dry_run", "vacuum"]
    assert "worker_helpers:sleepy" in listed and "worker_helpers:_private" not in listed


def test_cli_jobs_commands(wctx, run_cli):
    from workerlib import worker_env

    env = {k: v for k, v in worker_env(wctx.home, wctx.config_path).items() if k in ("PYTHONPATH", "BATCHOPS_CONFIG")}
    env["BATCHOPS_QUEUE_IMMEDIATE"] = "1"
    bad = run_cli("jobs", "add", "--name", "x", "--callable", "purge_old_records", "--cron", "0 25 * * *", env=env)
    assert bad.returncode == 2 and "E_CRON_INVALID" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_cli("jobs", "add", "--name", "x", "--callable", "os:system", "--cron", "* * * * *", env=env)
    assert bad.returncode == 2 and "E_CALLABLE_NOT_REGISTERED" in bad.stderr
    bad = run_cli(
        "jobs",
        "add",
        "--name",
        "x",
        "--callable",
        "purge_old_records",
        "--cron",
        "* * * * *",
        "--kwargs",
        "{oops",
        env=env,
    )
    assert bad.returncode == 2 and "E_JSON_INVALID" in bad.stderr

    added = run_cli(
        "jobs",
        "add",
        "--name",
        "purge-dry",
        "--callable",
        "purge_old_records",
        "--cron",
        "0 3 * * *",
        "--kwargs",
        '{"dry_run": true}',
        "--missed",
        "skip",
        "--retries",
        "1",
        "--json",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    job = json.loads(added.stdout)
    assert job["misfire_policy"] == "skip" and job["kwargs"] == {"dry_run": True}

    edited = run_cli("jobs", "edit", job["id"], "--cron", "15 4 * * 1", "--json", env=env)
    assert edited.returncode == 0 and json.loads(edited.stdout)["cron"] == "15 4 * * 1"
    nxt = run_cli("jobs", "next", job["id"], "-n", "3", "--json", env=env)
    assert nxt.returncode == 0 and len(json.loads(nxt.stdout)) == 3
    assert run_cli("jobs", "pause", job["id"], env=env).returncode == 0
    assert run_cli("jobs", "resume", job["id"], env=env).returncode == 0

    triggered = run_cli("jobs", "trigger", job["id"], "--json", env=env)
    assert triggered.returncode == 0, triggered.stderr
    assert json.loads(triggered.stdout)["status"] == "succeeded"
    now = run_cli("jobs", "trigger", job["id"], "--now", "--json", env=env)
    assert now.returncode == 0 and json.loads(now.stdout)["result"]["dry_run"] is True

    listed = run_cli("jobs", "callables", "--json", env=env)
    assert listed.returncode == 0 and any(c["name"] == "run_daily_backup" for c in json.loads(listed.stdout))
    assert run_cli("jobs", "delete", job["id"], "--yes", env=env).returncode == 0
    assert run_cli("jobs", "show", job["id"], env=env).returncode == 2
