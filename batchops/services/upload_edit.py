"""Change an upload before a retry: its department, notes and plan (checked as `process` checks them)."""

from __future__ import annotations

from batchops import context
from batchops.clock import utc_now
from batchops.errors import InputError
from batchops.services import uploads
from batchops.services.processing import STRICT_KEY
from batchops.services.processing import _check_plan_columns as check_plan_columns
from batchops.store.db import db, retry_busy
from batchops.store.models import Upload

BUSY = ("queued", "processing")


@retry_busy
def edit_upload(
    ident,
    *,
    department: str | None = None,
    notes: str | None = None,
    plan: str | None = None,
    plan_config: dict | None = None,
) -> dict:
    """``None`` leaves a field as it is; ``department=""`` clears it. A new plan without a payload
    starts from an empty one; the --strict flag the upload was submitted with is kept.
    Refused while a run is queued or running (the run would read half of it)."""
    from batchops.pipeline.plans import validate_plan_config

    context.require_writable()
    upload = uploads.get_upload(ident)
    changes: dict = {}
    if department is not None:
        changes["department"] = department.strip() or None
    if notes is not None:
        changes["notes"] = notes
    if plan is not None or plan_config is not None:
        new_plan = plan or upload.plan
        old = dict(upload.plan_config or {})
        strict = old.pop(STRICT_KEY, False)
        config = dict(plan_config if plan_config is not None else (old if new_plan == upload.plan else {}))
        validate_plan_config(new_plan, config)
        check_plan_columns(
            uploads.blob_path(upload),
            upload.original_name,
            new_plan,
            config,
            upload.sheet,
            changes.get("department", upload.department),
            upload.table_index,
        )
        changes["plan"], changes["plan_config"] = new_plan, {**config, **({STRICT_KEY: True} if strict else {})}
    if not changes:
        raise InputError("nothing to change: give --department, --notes or --plan", code="E_NOTHING_TO_CHANGE")
    with db.atomic():
        updated = (
            Upload.update(**changes, updated_at=utc_now())
            .where((Upload.id == upload.id) & Upload.status.not_in(BUSY))
            .execute()
        )
        if not updated:
            raise InputError(
                f"upload {upload.id} is {Upload.get_by_id(upload.id).status}; wait for it to finish before editing",
                code="E_UPLOAD_BUSY",
            )
    return uploads.show_upload(upload.id)
