"""Uploads that nothing would ever move: left ``staged``/``queued`` with no live run.

New uploads are written together with their first run (``processing.process_file``),
and every later status change moves an upload and its run in one transaction. A store
written by an older version, or a run cancelled under its upload, can still leave an
upload waiting for a run that does not exist. The worker looks for such uploads at
start and on every tick: one untouched for the grace period gets a fresh run on the
queue (trigger ``recovery``) when its stored original is intact (same SHA-256), and
otherwise fails with E_SUBMIT_LOST and an incident - never left for an operator to
watch forever.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from peewee import fn

from batchops import context
from batchops.clock import utc_now
from batchops.errors import StorageError, SubmitLost
from batchops.services import runs, uploads
from batchops.store import files
from batchops.store.db import db, retry_busy
from batchops.store.models import JobRun, Upload

log = logging.getLogger("batchops.recovery")

WAITING = ("staged", "queued")
LIVE_RUNS = ("queued", "running")


def _orphaned(cutoff=None):
    """Where-clause: a waiting upload (untouched since ``cutoff``) with no queued or running run."""
    live = JobRun.select(JobRun.id).where((JobRun.upload == Upload.id) & JobRun.status.in_(LIVE_RUNS))
    clause = Upload.status.in_(WAITING) & ~fn.EXISTS(live)
    return clause if cutoff is None else clause & (Upload.updated_at < cutoff)


def orphan_uploads(min_age_s: float) -> list[int]:
    cutoff = utc_now() - timedelta(seconds=min_age_s)
    return [u.id for u in Upload.select(Upload.id).where(_orphaned(cutoff)).order_by(Upload.id)]


def _intact(upload: Upload) -> bool:
    try:
        return files.sha256_file(uploads.blob_path(upload)) == upload.sha256
    except (OSError, ValueError):  # missing, unreadable, or a path outside the home
        return False
    except StorageError as exc:  # gone from the bucket; an unreachable server is not a lost file
        if exc.code == "E_OBJECT_MISSING":
            return False
        raise


def _next_attempt(upload_id: int) -> int:
    return JobRun.select().where(JobRun.upload == upload_id).count() + 1


@retry_busy
def _requeue(upload_id: int) -> JobRun | None:
    with db.atomic():  # still orphaned? (another worker's tick may have got here first)
        if not Upload.select().where((Upload.id == upload_id) & _orphaned()).exists():
            return None
        Upload.update(status="queued", updated_at=utc_now()).where(Upload.id == upload_id).execute()
        return runs.create_run("pipeline", upload_id=upload_id, trigger="recovery", attempt=_next_attempt(upload_id))


@retry_busy
def _fail(upload_id: int, error: SubmitLost) -> JobRun | None:
    now = utc_now()
    with db.atomic():
        if not Upload.select().where((Upload.id == upload_id) & _orphaned()).exists():
            return None
        Upload.update(status="failed", error_code=error.code, error_message=error.message, updated_at=now).where(
            Upload.id == upload_id
        ).execute()
        # pid/worker_id: this process "ran" it, so triage_untriaged picks it up if we die before triage
        return JobRun.create(
            kind="pipeline",
            upload=upload_id,
            trigger="recovery",
            attempt=_next_attempt(upload_id),
            status="failed",
            error_code=error.code,
            error_message=error.message,
            exit_code=1,
            worker_id=runs.worker_id(),
            pid=os.getpid(),
            started_at=now,
            finished_at=now,
            duration_s=0.0,
            log=f"recovered: {error.message}\n",
        )


def recover_orphan_uploads(min_age_s: float | None = None) -> dict[int, str]:
    """Queue again, or fail with E_SUBMIT_LOST, every orphaned upload; returns {upload id: what was done}."""
    from batchops.services import tasks

    if context.config().read_only:
        return {}
    if min_age_s is None:
        min_age_s = context.config().worker.requeue_lost_after_seconds
    done: dict[int, str] = {}
    for upload_id in orphan_uploads(min_age_s):
        upload = Upload.get_or_none(Upload.id == upload_id)
        if upload is None:
            continue
        if _intact(upload):
            run = _requeue(upload_id)
            if run is not None:
                done[upload_id] = "queued"
                try:
                    tasks.enqueue_pipeline(run.id)
                except Exception:  # noqa: BLE001 - the run stays queued: requeue_lost tries again
                    log.exception("could not enqueue recovery run %s of upload %s", run.id, upload_id)
            continue
        error = SubmitLost(
            f"upload {upload_id} ({upload.original_name}) was taken in but its run never "
            f"started, and its stored original is missing or damaged; upload the file again"
        )
        run = _fail(upload_id, error)
        if run is not None:
            from batchops.incidents import triage

            triage.on_failure(run, error)
            done[upload_id] = "failed"
    if done:
        log.warning("recovered %d upload(s) that had no run: %s", len(done), done)
    return done
