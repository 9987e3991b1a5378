"""Run the pipeline for an upload and record everything about it.

The one place where the pure pipeline meets the store: each step is saved as
it starts and ends (short write transactions, never held while reading a file
or rendering a PDF), a heartbeat thread proves the run is alive, and a failure
is recorded with its code and handed to ``incidents.triage``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict
from pathlib import Path

from batchops import clock
from batchops.clock import utc_now
from batchops.errors import BatchOpsError, InputError, PipelineError
from batchops import context
from batchops.services import runs, uploads
from batchops.store import files
from batchops.store.db import db, retry_busy, write
from batchops.store.models import JobRun, Upload

# Reports above these sizes live only on disk under exports/ (the row keeps the path).
MAX_STORED_CSV = 5 * 1024 * 1024
MAX_STORED_PDF = 20 * 1024 * 1024


def process_file(path, *, department=None, plan="transform", plan_config=None, notes="", sheet=None,
                 trigger="cli", queue=False, original_name=None) -> dict:
    """Take one file in and either run it now or queue it; returns the DESIGN.md result object."""
    from batchops.pipeline.plans import validate_plan_config

    validate_plan_config(plan, plan_config or {})
    context.require_writable()  # before the queue check, which creates queue.db
    if queue:
        _check_queue()
    upload = uploads.create_upload(path, original_name=original_name, department=department, notes=notes,
                                   plan=plan, plan_config=plan_config, sheet=sheet)
    return submit(upload.id, trigger=trigger, queue=queue, attempt=1)  # a new upload: its first run


def submit(upload_id: int, *, trigger="cli", queue=False, attempt: int | None = None, delay: float | None = None) -> dict:
    """Create a run for the upload; execute it here, or enqueue it for the worker.

    The upload is reserved (set ``queued``) in the same transaction that creates
    the run, so two operators retrying at once get one run and one E_UPLOAD_BUSY.
    """
    context.require_writable()
    if queue:
        _check_queue()
    run, previous = _reserve(upload_id, trigger, attempt)
    if queue:
        from batchops.services import tasks

        # what this call did is queue it: read the result first, or a worker quick enough to
        # finish the run before we look makes `process --queue` say failed (exit 1) by chance
        result = result_dict(run.id)
        try:
            tasks.enqueue_pipeline(run.id, delay=delay)
        except BaseException as exc:
            runs.abandon(run.id, f"could not be queued: {exc}", upload_status=previous)
            raise
        return result
    out = execute(run.id)
    assert out is not None  # asked for the result
    return out


def _check_queue() -> None:
    """A queue that cannot be built (bad queue.url) fails before anything changes."""
    from batchops.queue import app

    app.get_huey()


@retry_busy
def _reserve(upload_id: int, trigger: str, attempt: int | None) -> tuple[JobRun, str]:
    upload = uploads.get_upload(upload_id)
    with db.atomic():
        previous = Upload.select(Upload.status).where(Upload.id == upload.id).scalar()
        taken = Upload.update(status="queued", updated_at=utc_now()).where(
            (Upload.id == upload.id) & Upload.status.not_in(("queued", "processing"))).execute()
        if not taken:
            raise InputError(f"upload {upload.id} is already {previous}", code="E_UPLOAD_BUSY")
        if attempt is None:
            attempt = JobRun.select().where(JobRun.upload == upload.id).count() + 1
        run = runs.create_run("pipeline", upload_id=upload.id, trigger=trigger, attempt=attempt)
    return run, previous


def result_dict(run_id: int) -> dict:
    run = JobRun.get_by_id(run_id)
    upload = Upload.get_by_id(run.upload_id) if run.upload_id else None
    from batchops.store.models import Incident

    incident = (Incident.select(Incident.id).where(Incident.run == run.id).first()
                if run.status == "failed" else None)
    status = {"succeeded": "published", "failed": "failed"}.get(run.status, run.status)
    return {
        "upload_id": run.upload_id,
        "run_id": run.id,
        "status": status,
        "rows_in": run.rows_in,
        "rows_out": run.rows_out,
        "reports": {"csv": upload.report_csv_path, "pdf": upload.report_pdf_path}
        if upload and run.status == "succeeded" else {"csv": None, "pdf": None},
        "incident_id": incident.id if incident else None,
        "error": {"code": run.error_code, "message": run.error_message} if run.status == "failed" else None,
    }


class _Progress:
    """The run's steps and log as the pipeline reports them, handed to the heartbeat to save.

    Writing each step's start and end as it happens cost ten statements a run; the heartbeat
    writes what changed instead, so a quick run writes none and a long one shows its step within
    ``worker.heartbeat_seconds``. The final steps are written with the outcome.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.steps: dict[str, dict] = {}
        self.lines: list[str] = []
        self.dirty = False

    def step(self, data: dict, line: str | None) -> None:
        with self.lock:
            self.steps[data["name"]] = data
            if line:
                self.lines.append(line)
            self.dirty = True

    def take(self) -> tuple[list[dict], str] | None:
        """What changed since the last take, or None."""
        with self.lock:
            if not self.dirty:
                return None
            self.dirty = False
            return list(self.steps.values()), "\n".join(self.lines)

    def final(self) -> tuple[list[dict], str]:
        with self.lock:
            return list(self.steps.values()), "\n".join(self.lines)


class _Heartbeat(threading.Thread):
    """Touches the run's heartbeat while the pipeline works, saving its progress (own connection)."""

    def __init__(self, run_id: int, every: float, progress: _Progress) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.run_id, self.every, self.progress, self.stopped = run_id, every, progress, threading.Event()

    def run(self):
        with db.connection_context():  # one connection for the run, not one per beat
            while not self.stopped.wait(self.every):
                try:
                    changed = self.progress.take()
                    if changed is not None:
                        runs.save_progress(self.run_id, *changed)
                    else:
                        runs.heartbeat(self.run_id)
                except Exception:  # a missed beat is not worth killing the run for
                    pass


def _step_dict(step) -> dict:
    data = asdict(step)
    data["started_at"] = clock.iso(step.started_at)
    return data


def _pause_hook(step_name: str, status: str) -> None:
    """Test hook: BATCHOPS_TEST_PAUSE_STEP=validate holds that step, so crash tests can kill us mid-step."""
    if os.environ.get("BATCHOPS_TEST_PAUSE_STEP") == step_name and status == "running":
        time.sleep(float(os.environ.get("BATCHOPS_TEST_PAUSE_SECONDS", "30")))


def execute(run_id: int, result: bool = True) -> dict | None:
    """Run the pipeline for a queued run (in this process) and return its result object.

    ``result=False`` (the worker, which has nobody to tell) skips reading it back.
    """
    from batchops.services import failures
    from batchops.pipeline.runner import PipelineRequest, run_pipeline
    from batchops.pipeline.settings import from_config

    cfg = context.config()
    run = JobRun.get_by_id(run_id)
    upload = Upload.get_by_id(run.upload_id)
    started_at = _claim(run.id, upload.id)
    if started_at is None:
        return result_dict(run.id) if result else None  # another process took it (a duplicate delivery)

    progress = _Progress()
    progress.lines.append(f"{clock.fmt(utc_now(), seconds=True)} run {run.id} attempt {run.attempt} "
                          f"({run.trigger}) for upload {upload.id} {upload.original_name!r}, plan {upload.plan}")

    def on_step(step) -> None:
        line = None
        if step.status != "running":
            line = (f"{clock.fmt(utc_now(), seconds=True)} {step.name}: {step.status} "
                    f"in {clock.fmt_duration(step.duration_s)} - {step.message}")
        progress.step(_step_dict(step), line)
        _pause_hook(step.name, step.status)

    request = PipelineRequest(
        source=uploads.blob_path(upload),
        original_name=upload.original_name,
        out_dir=files.safe_join(context.home(), "exports", str(upload.id)),
        department=upload.department,
        plan=upload.plan,
        plan_config=upload.plan_config or {},
        sheet=upload.sheet,
        upload_id=upload.id,
        generated_at=clock.fmt(utc_now()),
    )
    beat = _Heartbeat(run.id, cfg.worker.heartbeat_seconds, progress)
    beat.start()
    try:
        outcome = run_pipeline(request, from_config(cfg), on_step=on_step)
    except BaseException as exc:
        beat.stopped.set()
        error = exc if isinstance(exc, BatchOpsError) else PipelineError(
            f"unexpected {exc.__class__.__name__}: {exc}", code="E_INTERNAL")
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            error = PipelineError("the run was interrupted", code="E_INTERRUPTED")
        progress.lines.append(f"{clock.fmt(utc_now(), seconds=True)} FAILED {error.code}: {error.message}")
        failed = _record_failure(run.id, upload.id, error, *progress.final(), started_at=started_at)
        failures.handle_failure(failed, error)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return result_dict(run.id) if result else None
    beat.stopped.set()
    progress.lines.append(f"{clock.fmt(utc_now(), seconds=True)} published {outcome.rows_out} rows")
    done = _record_success(run.id, upload.id, outcome, *progress.final(), started_at=started_at)
    failures.handle_success(done)
    return result_dict(run.id) if result else None


@retry_busy
def _claim(run_id: int, upload_id: int):
    """queued -> running; the claim time, or None when another process has it."""
    now = utc_now()
    with db.atomic():
        claimed = JobRun.update(status="running", started_at=now, heartbeat_at=now, worker_id=runs.worker_id(),
                                pid=os.getpid()).where(
            (JobRun.id == run_id) & (JobRun.status == "queued")).execute()
        if claimed:
            Upload.update(status="processing", error_code=None, error_message=None, updated_at=now).where(
                Upload.id == upload_id).execute()
    return now if claimed else None


def _read_if_small(path: Path, limit: int) -> bytes | None:
    return path.read_bytes() if path.stat().st_size <= limit else None


def _record_success(run_id, upload_id, result, steps, log, started_at=None) -> JobRun:
    csv_bytes = _read_if_small(result.csv_path, MAX_STORED_CSV)  # read before the transaction
    pdf_bytes = _read_if_small(result.pdf_path, MAX_STORED_PDF)
    summary = dict(result.summary)
    summary["findings"] = len(result.findings)
    now = utc_now()

    def change():
        Upload.update(
            status="published", summary=summary, rows_in=result.rows_in, rows_out=result.rows_out,
            report_csv=csv_bytes.decode("utf-8") if csv_bytes is not None else None,
            report_pdf=pdf_bytes, report_csv_path=str(result.csv_path), report_pdf_path=str(result.pdf_path),
            error_code=None, error_message=None, published_at=now, updated_at=now,
        ).where(Upload.id == upload_id).execute()
        return runs.finish(run_id, "succeeded", started_at=started_at, steps=steps, findings=result.findings,
                           log=log,
                           exit_code=0, rows_in=result.rows_in, rows_out=result.rows_out,
                           error_code=None, error_message=None, result={"summary": summary})

    return write(change)


def _record_failure(run_id, upload_id, error: BatchOpsError, steps, log, started_at=None) -> JobRun:
    findings = list(getattr(error, "findings", []) or [])
    step = getattr(error, "step", None)

    def change():
        Upload.update(status="failed", error_code=error.code, error_message=error.message,
                      updated_at=utc_now()).where(Upload.id == upload_id).execute()
        return runs.finish(run_id, "failed", started_at=started_at, steps=steps, findings=findings, log=log,
                           exit_code=1,
                           error_code=error.code, error_message=error.message, failed_step=step)

    return write(change)
