"""purge_old_records: apply ``[retention]``, then VACUUM.

* successful (and skipped/cancelled) runs older than ``successful_runs_days``;
* failed runs older than ``failed_runs_days`` (kept longer: they explain incidents);
* archived incidents older than ``archived_incidents_days`` (events and tickets go with them);
* ``exports/<upload>/`` folders older than ``exports_days`` (the report stays on the
  upload row when it was small enough to be stored there);
* outbox messages older than ``outbox_days``;
* schedule claims, attendance reminder keys and digests older than the successful-runs window.

``dry_run`` only counts. VACUUM runs outside any transaction, on SQLite only.
Running runs are never touched.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timedelta

from batchops import clock, context
from batchops.automation.job_context import check_deadline, log
from batchops.clock import utc_now
from batchops.store.db import db, is_sqlite, write
from batchops.store.models import AppState, Incident, JobRun, ScheduleClaim, Upload
from batchops.store.objects import objects

DONE_OK = ("succeeded", "skipped", "cancelled")
BATCH = 500


def _older(days: int) -> datetime:
    return utc_now() - timedelta(days=days)


def _delete_in_batches(query_ids, model, dry_run: bool) -> int:
    ids = [row.id for row in query_ids]
    if dry_run:
        return len(ids)
    for start in range(0, len(ids), BATCH):
        check_deadline()
        write(_delete_ids, model, ids[start : start + BATCH])
    return len(ids)


def _old_files(folder, days: int, pattern: str = "*"):
    if not folder.is_dir():
        return []
    cutoff = time.time() - days * 86400
    return [p for p in folder.glob(pattern) if p.stat().st_mtime < cutoff]


def purge_old_records(dry_run: bool = False, vacuum: bool = True) -> dict:
    cfg = context.config()
    keep = cfg.retention
    home = context.home()
    counts: dict[str, int] = {}

    ok_cutoff = _older(keep.successful_runs_days)
    counts["successful_runs"] = _delete_in_batches(
        JobRun.select(JobRun.id).where(JobRun.status.in_(DONE_OK) & (JobRun.queued_at < ok_cutoff)), JobRun, dry_run
    )
    counts["failed_runs"] = _delete_in_batches(
        JobRun.select(JobRun.id).where(
            (JobRun.status == "failed") & (JobRun.queued_at < _older(keep.failed_runs_days))
        ),
        JobRun,
        dry_run,
    )
    counts["archived_incidents"] = _delete_in_batches(
        Incident.select(Incident.id).where(
            (Incident.state == "archived")
            & Incident.archived_at.is_null(False)
            & (Incident.archived_at < _older(keep.archived_incidents_days))
        ),
        Incident,
        dry_run,
    )
    counts["schedule_claims"] = _delete_in_batches(
        ScheduleClaim.select(ScheduleClaim.id).where(ScheduleClaim.fire_time < ok_cutoff), ScheduleClaim, dry_run
    )

    reminder_keys = [
        s.key
        for s in AppState.select(AppState.key).where(
            AppState.key.startswith("attendance:") & (AppState.updated_at < ok_cutoff)
        )
    ]
    counts["reminder_keys"] = len(reminder_keys)
    if reminder_keys and not dry_run:
        with db.atomic():
            AppState.delete().where(AppState.key.in_(reminder_keys)).execute()

    old_exports = [p for p in _old_files(home / "exports", keep.exports_days) if p.is_dir()]
    counts["export_folders"] = len(old_exports)
    if not dry_run:
        for folder in old_exports:
            check_deadline()
            shutil.rmtree(folder, ignore_errors=True)
            if folder.name.isdigit():
                with db.atomic():
                    Upload.update(report_csv_path=None, report_pdf_path=None).where(
                        Upload.id == int(folder.name)
                    ).execute()

    old_outbox = []
    for path in _old_files(home / "outbox", keep.outbox_days, "*.json"):
        old_outbox.append(path)
    counts["outbox_messages"] = len(old_outbox)
    if not dry_run:
        for path in old_outbox:
            try:
                subject = json.loads(path.read_text(encoding="utf-8")).get("subject", "")
            except (OSError, json.JSONDecodeError):
                subject = ""
            log(f"outbox message dropped after {keep.outbox_days} days: {path.name} {subject[:80]}")
            path.unlink(missing_ok=True)

    old_digests = _old_files(home / "digests", keep.successful_runs_days, "digest-*.txt")
    counts["digests"] = len(old_digests)
    if not dry_run:
        for path in old_digests:
            path.unlink(missing_ok=True)

    if objects().remote:
        _purge_shared(keep, dry_run, counts)

    summary = {"dry_run": dry_run, "counts": counts, "vacuumed": False}
    log(
        ("would remove: " if dry_run else "removed: ")
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
    )
    if vacuum and not dry_run and is_sqlite():
        check_deadline()
        started = time.monotonic()
        before = _db_size()
        if db.in_transaction():
            log("VACUUM skipped: called inside a transaction")
        else:
            db.execute_sql("VACUUM")
            summary["vacuumed"] = True
            summary["bytes_freed"] = max(0, before - _db_size())
            log(f"VACUUM in {clock.fmt_duration(time.monotonic() - started)}, {summary['bytes_freed']:,} bytes freed")
    return summary


def _purge_shared(keep, dry_run: bool, counts: dict[str, int]) -> None:
    """The same retention in shared object storage (the data home above is then only a cache)."""
    store = objects()
    now = time.time()

    def old(prefix: str, days: int) -> list:
        return [i for i in store.list(prefix) if i.mtime < now - days * 86400]

    newest: dict[str, float] = {}
    for info in store.list("exports"):
        folder = info.key.split("/")[1]
        newest[folder] = max(newest.get(folder, 0.0), info.mtime)
    stale = [f for f, mtime in newest.items() if mtime < now - keep.exports_days * 86400]
    counts["export_folders"] += len(stale)
    outbox = [i for i in old("outbox", keep.outbox_days) if i.key.endswith(".json")]
    digests = [i for i in old("digests", keep.successful_runs_days) if i.key.rsplit("/", 1)[-1].startswith("digest-")]
    counts["outbox_messages"] += len(outbox)
    counts["digests"] += len(digests)
    if dry_run:
        return
    for folder in stale:
        check_deadline()
        store.delete_prefix(f"exports/{folder}/")
        if folder.isdigit():
            with db.atomic():
                Upload.update(report_csv_path=None, report_pdf_path=None).where(Upload.id == int(folder)).execute()
    for info in outbox + digests:
        if info in outbox:
            log(f"outbox message dropped after {keep.outbox_days} days: {info.key}")
        store.delete(info.key)


def _db_size() -> int:
    try:
        pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
        size = db.execute_sql("PRAGMA page_size").fetchone()[0]
        return int(pages) * int(size)
    except Exception:  # noqa: BLE001
        return 0


def _delete_ids(model, ids: list) -> None:
    model.delete().where(model.id.in_(ids)).execute()
