"""Published reports: find them by upload or run, wait for them, export them."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from batchops import context
from batchops.errors import InputError, StorageError, WorkError
from batchops.services import runs, uploads
from batchops.store import files
from batchops.store.models import JobRun, Upload
from batchops.store.objects import key_of, objects

FORMATS = ("csv", "pdf")


def _resolve(upload_id=None, run_id=None) -> tuple[Upload, JobRun | None]:
    if (upload_id is None) == (run_id is None):
        raise InputError("give exactly one of --upload or --run", code="E_USAGE")
    if run_id is not None:
        run = runs.get_run(run_id)
        if run.upload_id is None:
            raise InputError(f"run {run.id} is a job run; it has no report", code="E_NO_REPORT")
        return Upload.get_by_id(run.upload_id), run
    upload = uploads.get_upload(upload_id)
    return upload, JobRun.select().where(JobRun.upload == upload.id).order_by(JobRun.id.desc()).first()


def _state(upload: Upload, run: JobRun | None) -> str:
    if run is not None:
        return {"succeeded": "published"}.get(run.status, run.status)
    return upload.status


def report_bytes(upload_id=None, run_id=None, fmt: str = "csv", wait: float = 0.0) -> tuple[bytes, Upload]:
    """The report's bytes; waits up to ``wait`` seconds for a run still going."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (csv or pdf)", code="E_USAGE")
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        upload, run = _resolve(upload_id, run_id)
        state = _state(upload, run)
        if state == "published" or state in ("failed", "cancelled", "skipped") or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if state in ("failed", "cancelled", "skipped"):
        code = (run.error_code if run else upload.error_code) or "E_FAILED"
        raise WorkError(
            f"upload {upload.id} has no report: its run failed ({code}); see `batchops uploads show {upload.id}`",
            code="E_REPORT_UNAVAILABLE",
        )
    if state != "published":
        raise WorkError(
            f"upload {upload.id} is still {state}; try again or pass --wait SECONDS", code="E_REPORT_NOT_READY"
        )
    if run is not None and run_id is not None and run.id != _latest_success_id(upload):
        raise WorkError(
            f"run {run.id} is not the upload's latest published run; export by --upload {upload.id}",
            code="E_REPORT_SUPERSEDED",
        )
    stored = (
        upload.report_csv.encode("utf-8")
        if fmt == "csv" and upload.report_csv is not None
        else (bytes(upload.report_pdf) if fmt == "pdf" and upload.report_pdf is not None else None)
    )
    if stored is None:
        stored = _stored_report(upload, fmt)
    return stored, upload


def report_key(upload: Upload, fmt: str) -> str | None:
    """The report's storage key; older stores kept an absolute path, read as the key under the home.
    Only a key under exports/ is a report (a restored store's row may name any file)."""
    key = key_of(upload.report_csv_path if fmt == "csv" else upload.report_pdf_path, context.home())
    return key if key and key.startswith("exports/") else None


def report_location(upload: Upload, fmt: str) -> str | None:
    """Where the report is, for people: a path in the data home or an s3:// URL."""
    key = report_key(upload, fmt)
    return objects().location(key) if key else None


def _stored_report(upload: Upload, fmt: str) -> bytes:
    key = report_key(upload, fmt)
    try:
        if key is None:
            raise StorageError("no key", code="E_OBJECT_MISSING")
        return objects().get_bytes(key)
    except StorageError as exc:
        if exc.code != "E_OBJECT_MISSING":
            raise
        raise WorkError(
            f"the {fmt} report of upload {upload.id} is missing from storage; retry the upload", code="E_REPORT_MISSING"
        ) from None


def _latest_success_id(upload: Upload) -> int | None:
    row = (
        JobRun.select(JobRun.id)
        .where((JobRun.upload == upload.id) & (JobRun.status == "succeeded"))
        .order_by(JobRun.id.desc())
        .first()
    )
    return row.id if row else None


def default_name(upload: Upload, fmt: str) -> str:
    return f"{files.safe_stem(upload.original_name)}_report.{fmt}"


def _check_target(target: Path, overwrite) -> None:
    """Never write into the data home, never over a non-file; an existing file only if ``overwrite`` says so.

    ``overwrite`` is a bool or a callable asked with the path (the CLI's prompt).
    """
    home = context.home().resolve()
    resolved = target.parent.resolve() / target.name
    if resolved == home or home in resolved.parents:
        raise InputError(f"{target} is inside the data home; export somewhere else", code="E_OUTPUT_PATH")
    if not os.path.lexists(target):
        return
    if target.is_symlink() or not stat.S_ISREG(target.lstat().st_mode):
        raise InputError(f"{target} exists and is not a regular file; nothing was written", code="E_OUTPUT_PATH")
    if not (overwrite(target) if callable(overwrite) else overwrite):
        raise InputError(f"{target} exists; pass --force to replace it", code="E_OUTPUT_EXISTS")


def export(
    upload_id=None, run_id=None, fmt: str = "csv", out: str | None = None, wait: float = 0.0, overwrite=False
) -> dict:
    data, upload = report_bytes(upload_id, run_id, fmt, wait)
    target = Path(out).expanduser() if out else Path.cwd() / default_name(upload, fmt)
    # "-o reports/" means a folder even before it exists; an existing folder too
    if target.is_dir() or (out and out.endswith(("/", os.sep))):
        target = target / default_name(upload, fmt)
    _check_target(target, overwrite)
    try:
        files.atomic_write_bytes(target, data, mode=files.umask_mode())  # a file for people: their umask
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}", code="E_OUTPUT_PATH") from None
    return {"upload_id": upload.id, "format": fmt, "path": str(target), "bytes": len(data)}


def copy_reports(upload: Upload, out_dir: Path) -> dict:
    """Copy an upload's published reports into a folder (``process --out``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    copied = {}
    for fmt in FORMATS:
        key = report_key(upload, fmt)
        if key and objects().exists(key):
            target = out_dir / Path(key).name
            files.atomic_write_bytes(target, objects().get_bytes(key), mode=files.umask_mode())
            copied[fmt] = str(target)
    return copied
