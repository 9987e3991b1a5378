"""The worker's log reads like the rest of BatchOps: runs named with their upload or job, times in the
display zone (clock.fmt), not Huey task ids and UTC."""

from __future__ import annotations

import logging
from datetime import datetime, timezone


def _record(msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord("huey", logging.INFO, __file__, 1, msg, args, None)


def test_huey_lines_name_the_run_and_later_lines_with_only_the_id_too():
    from huey import MemoryHuey

    from batchops.worker import NamedTasks

    huey = MemoryHuey(utc=True)
    task = huey.task(name="run_pipeline")(lambda run_id: None).s(7)
    named = NamedTasks()
    executing = _record("Executing %s", task)
    named.filter(executing)
    assert executing.getMessage() == "Executing pipeline run 7"
    failed = _record("Unhandled exception in task %s.", task.id)
    named.filter(failed)
    assert failed.getMessage() == "Unhandled exception in task pipeline run 7."
    started = _record("Huey consumer started at %s", datetime(2026, 1, 5, 4, 0))  # naive UTC, as huey gives it
    named.filter(started)
    assert started.getMessage() == "Huey consumer started at 2026-01-05 09:30:00 IST"


def test_log_times_are_in_the_display_zone():
    from batchops.worker import DisplayZoneFormatter

    record = _record("tick")
    record.created = datetime(2026, 1, 5, 4, 0, tzinfo=timezone.utc).timestamp()
    assert DisplayZoneFormatter("[%(asctime)s] %(message)s").format(record) == "[2026-01-05 09:30:00 IST] tick"


def test_task_bodies_log_the_upload_and_the_outcome(app_ctx, samples_dir, caplog):
    from batchops.services import processing, tasks
    from batchops.store.db import db

    done = processing.process_file(samples_dir / "gradebook_science.csv")
    with db.atomic():
        run = processing.reserve_retry(done["upload_id"], attempt=2)  # queued, as the worker finds it
    caplog.set_level(logging.INFO, logger="batchops.queue")
    tasks.run_pipeline(run.id)
    lines = [r.getMessage() for r in caplog.records if r.name == "batchops.queue"]
    named = f"run {run.id} (upload {done['upload_id']} gradebook_science.csv, try 2)"
    assert lines[0] == f"{named}: started"
    assert lines[1].startswith(f"{named}: published, 40 rows in ")


def test_digest_times_are_in_the_display_zone(app_ctx):
    from batchops import clock
    from batchops.jobs.digest import build_digest
    from batchops.services import runs
    from batchops.store.models import JobRun

    now = datetime(2026, 1, 6, 4, 0, tzinfo=timezone.utc)  # 09:30 IST
    failed = runs.create_run("job", trigger="schedule")
    JobRun.update(
        status="failed",
        error_code="E_FETCH_FAILED",
        error_message="timed out",
        queued_at=datetime(2026, 1, 5, 3, 0, tzinfo=timezone.utc),
    ).where(JobRun.id == failed.id).execute()
    _, body, _ = build_digest(now)
    assert f"2026-01-05 08:30 IST run {failed.id} (job " in body
    assert "+00:00" not in body and "UTC" not in body
    assert clock.fmt(now) in body.splitlines()[0]
