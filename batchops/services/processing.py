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
from batchops.errors import BatchOpsError, InputError, PipelineError, disk_full
from batchops import context
from batchops.services import runs, uploads
from batchops.store import files
from batchops.store.db import db, retry_busy, write
from batchops.store.models import JobRun, Upload

# Reports above these sizes live only on disk under exports/ (the row keeps the path).
STRICT_KEY = "strict"  # in an upload's plan_config: the run's flag, never passed to the plan
MAX_STORED_CSV = 5 * 1024 * 1024
MAX_STORED_PDF = 20 * 1024 * 1024


def process_file(path, *, department=None, plan="transform", plan_config=None, notes="", sheet=None,
                 table=None, force_publish=False, trigger="cli", queue=False, original_name=None,
                 strict=False, encoding=None) -> dict:
    """Take one file in and either run it now or queue it; returns the DESIGN.md result object.

    ``strict``: a plan that changes nothing it was asked to change (a delete rule matching no row)
    fails with E_PLAN_NO_EFFECT instead of publishing with a warning. Kept with the upload's plan
    config, so a retry is strict too. ``encoding`` forces a CSV's text encoding (checked here: an
    unknown name is bad input).
    """
    from batchops.pipeline.plans import validate_plan_config

    validate_plan_config(plan, plan_config or {})
    if strict:
        plan_config = {**(plan_config or {}), STRICT_KEY: True}
    if encoding:
        from batchops.pipeline.sniff import check_encoding_name

        encoding = check_encoding_name(encoding)
    context.require_writable()  # before the queue check, which creates queue.db
    if queue:
        _check_queue()
    _check_plan_columns(path, original_name, plan, plan_config, sheet, department, table)
    # The upload and its first run are one transaction: a process killed in between
    # cannot leave an upload `staged` that nothing will ever move.
    upload = uploads.create_upload(path, original_name=original_name, department=department, notes=notes,
                                   plan=plan, plan_config=plan_config, sheet=sheet, table=table,
                                   force_publish=force_publish, encoding=encoding, status="queued",
                                   then=lambda row: runs.create_run("pipeline", upload_id=row.id, trigger=trigger))
    run = JobRun.get(JobRun.upload == upload.id)
    return _start(run.id, queue=queue, upload_status=None)


def _check_plan_columns(path, original_name, plan, plan_config, sheet, department, table) -> None:
    """A payload naming a column the file lacks is the operator's typo: exit 2 before queueing (not an incident)."""
    from batchops.pipeline.preflight import check_columns, named_columns
    from batchops.pipeline.settings import from_config

    if not named_columns(plan, plan_config or {}):
        return
    source = uploads.check_source(path)
    check_columns(source, original_name or source.name, plan, plan_config or {}, from_config(context.config()),
                  sheet=sheet, department=department, table=table)


def submit(upload_id: int, *, trigger="cli", queue=False, attempt: int | None = None, delay: float | None = None) -> dict:
    """Create a run for the upload; execute it here, or enqueue it for the worker.

    The upload is reserved (set ``queued``) in the same transaction that creates
    the run, so two operators retrying at once get one run and one E_UPLOAD_BUSY.
    """
    context.require_writable()
    if queue:
        _check_queue()
    run, previous = _reserve(upload_id, trigger, attempt)
    return _start(run.id, queue=queue, delay=delay, upload_status=previous)


def reserve_retry(upload_id: int, attempt: int) -> JobRun:
    """Write an automatic retry's run (the upload reserved) inside the caller's transaction, so
    triage's decision and the run are one write; ``queue_reserved`` queues it after the commit."""
    context.require_writable()
    return _reserve(upload_id, "retry", attempt)[0]


def queue_reserved(run_id: int, delay: float | None = None) -> dict:
    """Queue a run written by ``reserve_retry``; if it cannot be, it is cancelled and the upload failed again."""
    return _start(run_id, queue=True, delay=delay, upload_status="failed")


def _start(run_id: int, *, queue: bool, upload_status: str | None, delay: float | None = None) -> dict:
    """Execute a queued run here, or enqueue it; a run that cannot be queued is abandoned
    and its upload goes back to ``upload_status`` (None: a new upload, which fails)."""
    if not queue:
        return execute(run_id)
    from batchops.services import tasks

    # what this call did is queue it: read the result first, or a worker quick enough to
    # finish the run before we look makes `process --queue` say failed (exit 1) by chance
    result = result_dict(run_id)
    try:
        tasks.enqueue_pipeline(run_id, delay=delay)
    except BaseException as exc:
        runs.abandon(run_id, f"could not be queued: {exc}", upload_status=upload_status)
        raise
    return result


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


def result_dict(run_id: int, run: JobRun | None = None) -> dict:
    """``run``: the row as just written, when the caller has it (one read less)."""
    run = run if run is not None and run.id == run_id else JobRun.get_by_id(run_id)
    upload = Upload.get_by_id(run.upload_id) if run.upload_id else None
    from batchops.store.models import Incident

    from batchops.pipeline.plans import no_effect

    incident = (Incident.select(Incident.id).where(Incident.run == run.id).first()
                if run.status == "failed" else None)
    warnings = no_effect(run.findings or []) if run.status == "succeeded" else []
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
        "warnings": [{"code": f["code"], "message": f["message"]} for f in warnings],
    }


class _Heartbeat(threading.Thread):
    """Touches the run's heartbeat while a long step works (own connection)."""

    def __init__(self, run_id: int, every: float):
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.run_id, self.every, self.stopped = run_id, every, threading.Event()

    def run(self):
        while not self.stopped.wait(self.every):
            try:
                with db.connection_context():
                    runs.heartbeat(self.run_id)
            except Exception:  # a missed beat is not worth killing the run for
                pass


class _Progress(threading.Thread):
    """Saves the run's steps and log (own connection), at most one write per ``delay``.

    A step that lasts shows as running within ``delay``; the records of quick steps are
    coalesced (the final record writes them all), so a small run costs a few statements.
    """

    def __init__(self, run_id: int, delay: float = 1.0):
        super().__init__(daemon=True, name=f"progress-{run_id}")
        self.run_id, self.delay = run_id, delay
        self.lock, self.wake, self.halt = threading.Lock(), threading.Event(), threading.Event()
        self.pending: tuple[list[dict], str] | None = None

    def update(self, steps: list[dict], log: str) -> None:
        with self.lock:
            self.pending = (steps, log)
        self.wake.set()

    def run(self):
        while not self.halt.is_set():
            self.wake.wait()
            if self.halt.wait(self.delay):
                return  # stopping: the final record writes the steps
            with self.lock:
                pending, self.pending = self.pending, None
                self.wake.clear()
            if pending is None:
                continue
            try:
                with db.connection_context():
                    runs.save_progress(self.run_id, *pending)
            except Exception:  # progress is advisory; the final record is not
                pass

    def stop(self) -> None:
        """No write after this returns (the final record must not be overwritten by an older snapshot)."""
        self.halt.set()
        self.wake.set()
        self.join()


def _step_dict(step) -> dict:
    data = asdict(step)
    data["started_at"] = clock.iso(step.started_at)
    return data


def _pause_hook(step_name: str, status: str) -> None:
    """Test hook: BATCHOPS_TEST_PAUSE_STEP=validate holds that step, so crash tests can kill us mid-step."""
    if os.environ.get("BATCHOPS_TEST_PAUSE_STEP") == step_name and status == "running":
        time.sleep(float(os.environ.get("BATCHOPS_TEST_PAUSE_SECONDS", "30")))


def execute(run_id: int) -> dict:
    """Run the pipeline for a queued run (in this process) and return its result object."""
    from batchops.services import failures
    from batchops.pipeline.runner import PipelineRequest, run_pipeline
    from batchops.pipeline.settings import from_config

    cfg = context.config()
    run = JobRun.get_by_id(run_id)
    upload = Upload.get_by_id(run.upload_id)
    if not _claim(run.id, upload.id):
        return result_dict(run.id)  # another process took it (a duplicate delivery)

    steps: dict[str, dict] = {}
    log_lines: list[str] = [f"{clock.fmt(utc_now(), seconds=True)} run {run.id} attempt {run.attempt} "
                            f"({run.trigger}) for upload {upload.id} {upload.original_name!r}, plan {upload.plan}"]

    progress = _Progress(run.id)
    progress.start()

    def on_step(step) -> None:
        steps[step.name] = _step_dict(step)
        if step.status != "running":
            log_lines.append(f"{clock.fmt(utc_now(), seconds=True)} {step.name}: {step.status} "
                             f"in {clock.fmt_duration(step.duration_s)} - {step.message}")
        progress.update(list(steps.values()), "\n".join(log_lines))
        _pause_hook(step.name, step.status)

    plan_config = dict(upload.plan_config or {})
    strict = bool(plan_config.pop(STRICT_KEY, False))
    request = PipelineRequest(
        source=uploads.blob_path(upload),
        original_name=upload.original_name,
        out_dir=files.safe_join(context.home(), "exports", str(upload.id)),
        department=upload.department,
        plan=upload.plan,
        plan_config=plan_config,
        strict=strict,
        sheet=upload.sheet,
        table=upload.table_index,
        force_publish=bool(upload.force_publish),
        encoding=upload.encoding,
        upload_id=upload.id,
        generated_at=clock.fmt(utc_now()),
    )
    beat = _Heartbeat(run.id, cfg.worker.heartbeat_seconds)
    beat.start()
    try:
        result = run_pipeline(request, from_config(cfg), on_step=on_step)
    except BaseException as exc:
        beat.stopped.set()
        progress.stop()
        full = disk_full(exc)
        error = exc if isinstance(exc, BatchOpsError) else PipelineError(
            full.message, code=full.code) if full is not None else PipelineError(
            f"unexpected {exc.__class__.__name__}: {exc}", code="E_INTERNAL")
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            error = PipelineError("the run was interrupted", code="E_INTERRUPTED")
        log_lines.append(f"{clock.fmt(utc_now(), seconds=True)} FAILED {error.code}: {error.message}")
        failed = _record_failure(run.id, upload.id, error, list(steps.values()), "\n".join(log_lines))
        failures.handle_failure(failed, error)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return result_dict(run.id)
    beat.stopped.set()
    progress.stop()
    log_lines.append(f"{clock.fmt(utc_now(), seconds=True)} published {result.rows_out} rows")
    done = _record_success(run.id, upload.id, result, list(steps.values()), "\n".join(log_lines))
    failures.handle_success(done)
    return result_dict(run.id, done)


@retry_busy
def _claim(run_id: int, upload_id: int) -> bool:
    now = utc_now()
    with db.atomic():
        claimed = JobRun.update(status="running", started_at=now, heartbeat_at=now, worker_id=runs.worker_id(),
                                pid=os.getpid()).where(
            (JobRun.id == run_id) & (JobRun.status == "queued")).execute()
        if claimed:
            Upload.update(status="processing", error_code=None, error_message=None, updated_at=now).where(
                Upload.id == upload_id).execute()
    return bool(claimed)


def _read_if_small(path: Path, limit: int) -> bytes | None:
    return path.read_bytes() if path.stat().st_size <= limit else None


def _record_success(run_id, upload_id, result, steps, log) -> JobRun:
    csv_bytes = _read_if_small(result.csv_path, MAX_STORED_CSV)  # read before the transaction
    pdf_bytes = _read_if_small(result.pdf_path, MAX_STORED_PDF)
    from batchops.pipeline.plans import no_effect

    summary = dict(result.summary)
    summary["findings"] = len(result.findings)
    summary["warnings"] = [f["message"] for f in no_effect(result.findings)]  # "published with warnings"
    now = utc_now()

    def change():
        Upload.update(
            status="published", summary=summary, rows_in=result.rows_in, rows_out=result.rows_out,
            report_csv=csv_bytes.decode("utf-8") if csv_bytes is not None else None,
            report_pdf=pdf_bytes, report_csv_path=str(result.csv_path), report_pdf_path=str(result.pdf_path),
            error_code=None, error_message=None, published_at=now, updated_at=now,
        ).where(Upload.id == upload_id).execute()
        return runs.finish(run_id, "succeeded", steps=steps, findings=result.findings, log=log,
                           exit_code=0, rows_in=result.rows_in, rows_out=result.rows_out,
                           error_code=None, error_message=None, result={"summary": summary})

    return write(change)


def _record_failure(run_id, upload_id, error: BatchOpsError, steps, log) -> JobRun:
    findings = list(getattr(error, "findings", []) or [])
    step = getattr(error, "step", None)

    def change():
        Upload.update(status="failed", error_code=error.code, error_message=error.message,
                      updated_at=utc_now()).where(Upload.id == upload_id).execute()
        return runs.finish(run_id, "failed", steps=steps, findings=findings, log=log, exit_code=1,
                           error_code=error.code, error_message=error.message, failed_step=step)

    return write(change)
