"""Fixtures for incident tests: a configured store with the queue in immediate mode, and
helpers that produce failed runs the way the services do (record the failure, then triage)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

_counter = itertools.count(1)


@pytest.fixture
def write_config(home):
    """write_config(toml_text) -> path of ./batchops.toml (the home fixture's cwd picks it up)."""

    def write(text: str) -> Path:
        path = Path.cwd() / "batchops.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def queue_immediate(monkeypatch):
    monkeypatch.setenv("BATCHOPS_QUEUE_IMMEDIATE", "1")
    try:
        from batchops.queue import app as queue_app
    except ImportError:
        yield
        return
    queue_app.reset()
    yield
    queue_app.reset()


@pytest.fixture
def ctx(app_ctx, queue_immediate):
    """The configured app (queue immediate); yields the Config."""
    yield app_ctx


@pytest.fixture
def configure(home, queue_immediate, write_config):
    """configure(toml_text) -> Config: the app on ``home`` with that batchops.toml."""
    from batchops import context
    from batchops.services.setup import configure
    from batchops.store.db import db

    def run(text: str = ""):
        write_config(text)
        return configure(home=home)

    yield run
    if db.obj is not None and not db.obj.is_closed():
        db.obj.close()
    context.reset()


@pytest.fixture
def fail_pipeline(tmp_path):
    """fail_pipeline(name, code, message, step="validate", trigger="cli", upload_id=None) -> (run, incident).

    Stores a small upload under ``name`` (or reuses ``upload_id``), records a failed run exactly as
    ``processing`` does, and hands it to triage.
    """
    from batchops.errors import PipelineError
    from batchops.services import failures, processing, runs, uploads

    def fail(
        name="grades.csv",
        code="E_MISSING_COLUMNS",
        message="Missing required column(s): student_id",
        step="validate",
        trigger="cli",
        upload_id=None,
        attempt=None,
    ):
        if upload_id is None:
            src = tmp_path / f"src-{next(_counter)}.csv"
            src.write_text(f"Name,Score\nAsha,{next(_counter)}\n", encoding="utf-8")
            upload_id = uploads.create_upload(src, original_name=name).id
        run = runs.create_run("pipeline", upload_id=upload_id, trigger=trigger, attempt=attempt or 1)
        runs.mark_running(run.id)
        error = PipelineError(message, code=code, step=step)
        failed = processing._record_failure(run.id, upload_id, error, [], "log")
        return failed, failures.handle_failure(failed, error)

    return fail


@pytest.fixture
def fail_job():
    """fail_job(job_name, code, message, trigger="schedule") -> (run, incident)."""
    from batchops.errors import JobError
    from batchops.services import failures, runs
    from batchops.store.models import Job

    def fail(job_name="status-digest", code="E_JOB_FAILED", message="boom", trigger="schedule", attempt=1):
        job = Job.get(Job.name == job_name)
        run = runs.create_run("job", job=job, trigger=trigger, attempt=attempt)
        runs.mark_running(run.id)
        failed = runs.finish(run.id, "failed", error_code=code, error_message=message, exit_code=1)
        return failed, failures.handle_failure(failed, JobError(message, code=code))

    return fail


@pytest.fixture
def good_csv(tmp_path) -> Path:
    path = tmp_path / "good.csv"
    rows = ["Student ID,Name,Score"] + [f"S{i:03d},Student {i},{50 + i}" for i in range(1, 6)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def broken_dir(samples_dir) -> Path:
    return samples_dir / "broken"
