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

from batchops import clock, context
from batchops.clock import utc_now
from batchops.errors import BatchOpsError, InputError, PipelineError, disk_full
from batchops.services import reports, runs, uploads
from batchops.store import files
from batchops.store.db import db, retry_busy, write
from batchops.store.models import JobRun, Upload
from batchops.store.objects import objects

# Reports above these sizes live only in storage under exports/ (the row keeps the key).
STRICT_KEY = "strict"  # in an upload's plan_config: the run's flag, never passed to the plan
MAX_STORED_CSV = 5 * 1024 * 1024
MAX_STORED_PDF = 20 * 1024 * 1024


def process_file(
    path,
    *,
    department=None,
    plan="transform",
    plan_config=None,
    notes="",
    sheet=None,
    table=None,
    force_publish=False,
    trigger="cli",
    queue=False,
    original_name=None,
    strict=False,
    encoding=None,
) -> dict:
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
    upload = uploads.create_upload(
        path,
        original_name=original_name,
        department=department,
        notes=notes,
        plan=plan,
        plan_config=plan_config,
        sheet=sheet,
        table=table,
        force_publish=force_publish,
        encoding=encoding,
        status="queued",
        then=lambda row: runs.create_run("pipeline", upload_id=row.id, trigger=trigger),
    )
    run = JobRun.get(JobRun.upload == upload.id)
    return _start(run.id, queue=queue, upload_status=None)


def _check_plan_columns(path, original_name, plan, plan_config, sheet, department, table) -> None:
    """A payload naming a column the file lacks is the operator's typo: exit 2 before queueing (not an incident)."""
    from batchops.pipeline.preflight import check_columns, named_columns
    from batchops.pipeline.settings import from_config

    if not named_columns(plan, plan_config or {}):
        return
    source = uploads.check_source(path)
    check_columns(
        source,
        original_name or source.name,
        plan,
        plan_config or {},
        from_config(context.config()),
        sheet=sheet,
        department=department,
        table=table,
    )


def submit(
    upload_id: int, *, trigger="cli", queue=False, attempt: int | None = None, delay: float | None = None
) -> dict:
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
        taken = (
            Upload.update(status="queued", updated_at=utc_now())
            .where((Upload.id == upload.id) & Upload.status.not_in(("queued", "processing")))
            .execute()
        )
        if not taken:
            raise InputError(f"upload {upload.id} is already {previous}", code="E_UPLOAD_BUSY")
        if attempt is None:
            attempt = JobRun.select().where(JobRun.upload == upload.id).count() + 1
        run = runs.create_run("pipeline", upload_id=upload.id, trigger=trigger, attempt=attempt)
    return run, previous


def result_dict(run_id: int) -> dict:
    run = JobRun.get_by_id(run_id)
    upload = Upload.get_by_id(run.upload_id) if run.upload_id else None
    from batchops.pipeline.plans import no_effect
    from batchops.store.models import Incident

    incident = Incident.select(Incident.id).where(Incident.run == run.id).first() if run.status == "failed" else None
    warnings = no_effect(run.findings or []) if run.status == "succeeded" else []
    status = {"succeeded": "published", "failed": "failed"}.get(run.status, run.status)
    return {
        "upload_id": run.upload_id,
        "run_id": run.id,
        "status": status,
        "rows_in": run.rows_in,
        "rows_out": run.rows_out,
        "duration_s": run.duration_s,
        "reports": {fmt: reports.report_location(upload, fmt) for fmt in reports.FORMATS}
        if upload and run.status == "succeeded"
        else {"csv": None, "pdf": None},
        "incident_id": incident.id if incident else None,
        "error": {"code": run.error_code, "message": run.error_message} if run.status == "failed" else None,
        "warnings": [{"code": f["code"], "message": f["message"]} for f in warnings],
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
        if self.stopped.wait(self.every):
            return  # a run done before its first beat needs no connection
        try:
            with db.connection_context():  # one connection for the run, not one per beat
                while True:
                    self._beat()
                    if self.stopped.wait(self.every):
                        return
        except Exception:  # noqa: BLE001 - the store went away (a restore, a test's home); the run records itself
            pass

    def _beat(self) -> None:
        try:
            changed = self.progress.take()
            if changed is not None:
                runs.save_progress(self.run_id, *changed)
            else:
                runs.heartbeat(self.run_id)
        except Exception:  # noqa: BLE001 - a missed beat is not worth killing the run for
            pass


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
    from batchops.pipeline.runner import run_pipeline
    from batchops.pipeline.settings import from_config
    from batchops.services import failures

    cfg = context.config()
    run = JobRun.get_by_id(run_id)
    upload = Upload.get_by_id(run.upload_id)
    started_at = _claim(run.id, upload.id)
    if started_at is None:
        return result_dict(run.id)  # another process took it (a duplicate delivery)

    progress = _Progress()
    progress.lines.append(
        f"{clock.fmt(utc_now(), seconds=True)} run {run.id} attempt {run.attempt} "
        f"({run.trigger}) for upload {upload.id} {upload.original_name!r}, plan {upload.plan}"
    )

    def on_step(step) -> None:
        line = None
        if step.status != "running":
            line = (
                f"{clock.fmt(utc_now(), seconds=True)} {step.name}: {step.status} "
                f"in {clock.fmt_duration(step.duration_s)} - {step.message}"
            )
        progress.step(_step_dict(step), line)
        _pause_hook(step.name, step.status)

    plan_config = dict(upload.plan_config or {})
    strict = bool(plan_config.pop(STRICT_KEY, False))
    beat = _Heartbeat(run.id, cfg.worker.heartbeat_seconds, progress)
    beat.start()
    try:  # from here every failure - the original missing from shared storage too - is recorded and triaged
        request = _request(upload, plan_config, strict)
        outcome = run_pipeline(request, from_config(cfg), on_step=on_step)
        keys = _publish_reports(upload.id, outcome)
    except BaseException as exc:
        beat.stopped.set()
        full = disk_full(exc)
        error = (
            exc
            if isinstance(exc, BatchOpsError)
            else PipelineError(full.message, code=full.code)
            if full is not None
            else PipelineError(f"unexpected {exc.__class__.__name__}: {exc}", code="E_INTERNAL")
        )
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            error = PipelineError("the run was interrupted", code="E_INTERRUPTED")
        progress.lines.append(f"{clock.fmt(utc_now(), seconds=True)} FAILED {error.code}: {error.message}")
        failed = _record_failure(run.id, upload.id, error, *progress.final(), started_at=started_at)
        failures.handle_failure(failed, error)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return result_dict(run.id)
    beat.stopped.set()
    progress.lines.append(f"{clock.fmt(utc_now(), seconds=True)} published {outcome.rows_out} rows")
    done = _record_success(run.id, upload.id, outcome, keys, *progress.final(), started_at=started_at)
    failures.handle_success(done)
    return result_dict(run.id)


def _request(upload: Upload, plan_config: dict, strict: bool):
    from batchops.pipeline.runner import PipelineRequest

    return PipelineRequest(
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


def _publish_reports(upload_id: int, result) -> dict[str, str]:
    """Put the reports into storage (a no-op for the data home); the store keeps their keys."""
    keys = {}
    for fmt, path in (("csv", result.csv_path), ("pdf", result.pdf_path)):
        keys[fmt] = f"exports/{upload_id}/{Path(path).name}"
        objects().put_file(keys[fmt], Path(path))
    return keys


@retry_busy
def _claim(run_id: int, upload_id: int):
    """queued -> running; the claim time, or None when another process has it."""
    now = utc_now()
    with db.atomic():
        claimed = (
            JobRun.update(
                status="running", started_at=now, heartbeat_at=now, worker_id=runs.worker_id(), pid=os.getpid()
            )
            .where((JobRun.id == run_id) & (JobRun.status == "queued"))
            .execute()
        )
        if claimed:
            Upload.update(status="processing", error_code=None, error_message=None, updated_at=now).where(
                Upload.id == upload_id
            ).execute()
    return now if claimed else None


def _read_if_small(path: Path, limit: int) -> bytes | None:
    return path.read_bytes() if path.stat().st_size <= limit else None


def _record_success(run_id, upload_id, result, keys, steps, log, started_at=None) -> JobRun:
    csv_bytes = _read_if_small(result.csv_path, MAX_STORED_CSV)  # read before the transaction
    pdf_bytes = _read_if_small(result.pdf_path, MAX_STORED_PDF)
    from batchops.pipeline.plans import no_effect

    summary = dict(result.summary)
    summary["findings"] = len(result.findings)
    summary["warnings"] = [f["message"] for f in no_effect(result.findings)]  # "published with warnings"
    now = utc_now()

    def change():
        Upload.update(
            status="published",
            summary=summary,
            rows_in=result.rows_in,
            rows_out=result.rows_out,
            report_csv=csv_bytes.decode("utf-8") if csv_bytes is not None else None,
            report_pdf=pdf_bytes,
            report_csv_path=keys["csv"],
            report_pdf_path=keys["pdf"],
            error_code=None,
            error_message=None,
            published_at=now,
            updated_at=now,
        ).where(Upload.id == upload_id).execute()
        return runs.finish(
            run_id,
            "succeeded",
            started_at=started_at,
            steps=steps,
            findings=result.findings,
            log=log,
            exit_code=0,
            rows_in=result.rows_in,
            rows_out=result.rows_out,
            error_code=None,
            error_message=None,
            result={"summary": summary},
        )

    return write(change)


def _record_failure(run_id, upload_id, error: BatchOpsError, steps, log, started_at=None) -> JobRun:
    findings = list(getattr(error, "findings", []) or [])
    step = getattr(error, "step", None)

    def change():
        Upload.update(status="failed", error_code=error.code, error_message=error.message, updated_at=utc_now()).where(
            Upload.id == upload_id
        ).execute()
        return runs.finish(
            run_id,
            "failed",
            started_at=started_at,
            steps=steps,
            findings=findings,
            log=log,
            exit_code=1,
            error_code=error.code,
            error_message=error.message,
            failed_step=step,
        )

    return write(change)
