"""Uploads: take a file in, list, show, delete, retry.

The original is copied into the content-addressed store at once, so nothing an
operator handed over is lost even if the run that follows fails or is killed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from peewee import fn

from batchops import context
from batchops.errors import InputError
from batchops.incidents.workflow import ACTIVE_STATES
from batchops.services.common import before_bound, check_filter, get_record, row_dict
from batchops.store import files
from batchops.store.db import db, retry_busy
from batchops.store.models import UPLOAD_STATUSES, Incident, IncidentEvent, JobRun, Upload
from batchops.store.objects import objects

# Every column but the report bodies, for lists and polling.
LIGHT_FIELDS = [f for name, f in Upload._meta.fields.items() if name not in ("report_csv", "report_pdf")]
MAGIC_KINDS = ((b"%PDF", "pdf"), (b"PK\x03\x04", "xlsx"), (b"\xd0\xcf\x11\xe0", "xls"))


def sniff_kind(path: Path) -> str:
    """csv / xlsx / pdf / xls by content, never by name alone."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    for magic, kind in MAGIC_KINDS:
        if head.startswith(magic):
            return kind
    return "csv"


def upload_dict(upload: Upload, with_reports: bool = False) -> dict:
    exclude = () if with_reports else ("report_csv", "report_pdf")
    out = row_dict(upload, exclude=exclude)
    if with_reports and upload.report_pdf is not None:
        out["report_pdf"] = f"<{len(upload.report_pdf)} bytes>"
    # what the plan did not do (a delete rule that matched nothing): lists show "published with warnings"
    out["warnings"] = list((out.get("summary") or {}).get("warnings") or [])
    out["status_label"] = status_label(out)
    return out


def status_label(row: dict) -> str:
    """The status as lists show it: ``published with warnings`` when the plan missed something."""
    if row.get("status") == "published" and row.get("warnings"):
        return "published with warnings"
    return str(row.get("status") or "-")


def check_source(path: str | os.PathLike) -> Path:
    """The file an operator named, or E_FILE_NOT_FOUND / E_FILE_NOT_READABLE (exit 2)."""
    source = Path(path).expanduser()
    if not source.exists():
        raise InputError(f"file not found: {source}", code="E_FILE_NOT_FOUND")
    if not source.is_file():
        raise InputError(f"not a regular file: {source}", code="E_FILE_NOT_FOUND")
    if not os.access(source, os.R_OK):
        raise InputError(f"file is not readable: {source}", code="E_FILE_NOT_READABLE")
    return source


def create_upload(
    path: str | os.PathLike,
    *,
    original_name: str | None = None,
    department: str | None = None,
    notes: str = "",
    plan: str = "transform",
    plan_config: dict | None = None,
    sheet: str | None = None,
    table: int | None = None,
    force_publish: bool = False,
    status: str = "staged",
    then: Callable[[Upload], object] | None = None,
    encoding: str | None = None,
) -> Upload:
    """Store the original and record the upload. Bad paths are input errors (exit 2).

    ``then(upload)`` runs inside the insert's transaction: processing creates the
    upload's first run there, so no upload ever exists without one.
    """
    context.require_writable()
    source = check_source(path)
    name = original_name or source.name
    limit = int(context.config().pipeline.max_file_mb * 1024 * 1024)
    sha, rel, size = files.store_original(context.home(), source, name, max_bytes=limit)
    if size > limit:  # only a prefix was kept; the run fails with E_FILE_TOO_LARGE
        size = max(size, source.stat().st_size)
    kind = sniff_kind(context.home() / rel)
    objects().put_file(rel, context.home() / rel)  # shared storage, before the row: any machine can run it
    upload = _insert(
        then,
        original_name=name,
        sha256=sha,
        size=size,
        kind=kind,
        blob_path=rel,
        department=department or None,
        notes=notes or "",
        status=status,
        plan=plan,
        plan_config=plan_config or {},
        sheet=sheet,
        table_index=table,
        force_publish=bool(force_publish),
        encoding=encoding or None,
    )
    if not (context.home() / rel).exists():  # a concurrent delete of the same content got there first
        files.store_original(context.home(), source, name, max_bytes=limit)
    return upload


@retry_busy
def _insert(then, **fields) -> Upload:
    with db.atomic():
        upload = Upload.create(**fields)
        if then is not None:
            then(upload)
        return upload


def ingested_before(sha256: str, original_name: str) -> Upload | None:
    """The upload the drop-folder ingest already made of these bytes under this name, if any.

    An ingest killed after taking a file in but before remembering it (two writes) runs
    again over the same file; it adopts this upload instead of making a second one.
    """
    first_run = JobRun.select(JobRun.id).where((JobRun.upload == Upload.id) & (JobRun.trigger == "ingest"))
    return (
        Upload.select(*LIGHT_FIELDS)
        .where((Upload.sha256 == sha256) & (Upload.original_name == original_name) & fn.EXISTS(first_run))
        .order_by(Upload.id)
        .first()
    )


def blob_path(upload: Upload) -> Path:
    """The original on this machine's disk (from shared storage into the data home's cache when needed);
    only ever a key under files/ (a restored store's row may say otherwise)."""
    rel = upload.blob_path or ""
    if not rel.startswith("files/"):
        raise InputError(f"upload {upload.id}'s original is not under files/ ({rel!r})", code="E_PATH_ESCAPE")
    return objects().fetch(rel)


def get_upload(ident) -> Upload:
    return get_record(Upload, ident, "upload")


def list_uploads(
    status: str | None = None,
    limit: int = 50,
    department: str | None = None,
    before_id: int | None = None,
    text: str | None = None,
    links: bool = False,
) -> list[dict]:
    """Newest first, keyset-paged by ``before_id``; ``text`` searches file names and notes in SQL.

    ``links`` adds each upload's run and active-incident summary (``link_summary``) to the same
    statement, so a page costs one query however many uploads it shows.
    """
    check_filter(status, UPLOAD_STATUSES, "upload status")
    query = Upload.select(*LIGHT_FIELDS, *(_link_columns() if links else ())).order_by(Upload.id.desc())
    query = query.limit(max(1, min(limit, 10000)))
    if status:
        query = query.where(Upload.status == status)
    if department:
        query = query.where(Upload.department == department)
    if before_id:
        query = query.where(Upload.id < before_bound(before_id))
    if text:
        query = query.where(Upload.original_name.contains(text) | Upload.notes.contains(text))
    if not links:
        return [upload_dict(u) for u in query]
    return [{**upload_dict(u), "links": link_summary(u)} for u in query]


LINK_COLUMNS = ("run_count", "last_run_id", "last_run_status", "incident_count", "incident_id", "incident_state")


def _link_columns() -> list:
    """Correlated subqueries: an upload's pipeline runs and active incidents, summed up in its own row."""
    runs = JobRun.select().where((JobRun.upload == Upload.id) & (JobRun.kind == "pipeline"))
    last_run = runs.order_by(JobRun.id.desc()).limit(1)
    active = Incident.select().where((Incident.upload == Upload.id) & Incident.state.in_(ACTIVE_STATES))
    newest = active.order_by(Incident.id.desc()).limit(1)
    return [
        runs.select(fn.COUNT(JobRun.id)).alias("run_count"),
        last_run.select(JobRun.id).alias("last_run_id"),
        last_run.select(JobRun.status).alias("last_run_status"),
        active.select(fn.COUNT(Incident.id)).alias("incident_count"),
        newest.select(Incident.id).alias("incident_id"),
        newest.select(Incident.state).alias("incident_state"),
    ]


def link_summary(upload: Upload) -> dict:
    """``{"runs": n, "last_run": {"id", "status"} | None, "incidents": n, "incident": {"id", "state"} | None}``."""
    values = {name: getattr(upload, name, None) for name in LINK_COLUMNS}
    return {
        "runs": values["run_count"] or 0,
        "last_run": (
            {"id": values["last_run_id"], "status": values["last_run_status"]} if values["last_run_id"] else None
        ),
        "incidents": values["incident_count"] or 0,
        "incident": (
            {"id": values["incident_id"], "state": values["incident_state"]} if values["incident_id"] else None
        ),
    }


def show_upload(ident) -> dict:
    """The upload without its report bodies (the TUI polls this; reports can be megabytes)."""
    upload = get_record(Upload, ident, "upload", fields=LIGHT_FIELDS)
    out = upload_dict(upload, with_reports=False)
    out["runs"] = [
        {
            "id": r.id,
            "status": r.status,
            "trigger": r.trigger,
            "attempt": r.attempt,
            "error_code": r.error_code,
            "queued_at": r.queued_at,
            "duration_s": r.duration_s,
        }
        for r in JobRun.select().where(JobRun.upload == upload).order_by(JobRun.id)
    ]
    # every incident this upload's runs took part in, whatever its state: a recurrence from another
    # upload moves Incident.upload on, but the timeline still names this upload's run
    via_runs = (
        IncidentEvent.select(IncidentEvent.incident)
        .join(JobRun, on=(IncidentEvent.run == JobRun.id))
        .where(JobRun.upload == upload.id)
    )
    out["incidents"] = [
        {"id": i.id, "state": i.state, "severity": i.severity, "title": i.title, "occurrences": i.occurrences}
        for i in Incident.select().where((Incident.upload == upload) | Incident.id.in_(via_runs)).order_by(Incident.id)
    ]
    return out


def delete_upload(ident) -> dict:
    """Remove the upload, its exports and (when no other upload shares it) its original.

    The status check, the delete and the unlink of a no-longer-shared original
    happen under one write lock, so a concurrent retry or a new upload of the
    same content cannot lose its file (see ``create_upload``).
    """
    context.require_writable()
    upload = get_upload(ident)
    with db.atomic():
        deleted = (
            Upload.delete().where((Upload.id == upload.id) & Upload.status.not_in(("queued", "processing"))).execute()
        )
        if not deleted:
            status = Upload.select(Upload.status).where(Upload.id == upload.id).scalar()
            raise InputError(
                f"upload {upload.id} is {status}; wait for it to finish before deleting", code="E_UPLOAD_BUSY"
            )
        if not Upload.select().where(Upload.sha256 == upload.sha256).exists():
            files.safe_join(context.home(), upload.blob_path).unlink(missing_ok=True)
            objects().delete(upload.blob_path)
    files.remove_tree(files.safe_join(context.home(), "exports", str(upload.id)))
    objects().delete_prefix(f"exports/{upload.id}/")
    return {"deleted": upload.id, "original_name": upload.original_name}
