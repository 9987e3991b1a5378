"""run_daily_backup: the store and queue into backups/<time>/, verified, rotated (see services.backup)."""

from __future__ import annotations

from batchops.automation.job_context import log
from batchops.jobs._common import allowed_path


def run_daily_backup(to: str | None = None, keep: int | None = None) -> dict:
    from batchops.services import backup

    if to:
        to = str(allowed_path(to, "backup target"))  # a job's target must sit under automation.path_roots
    result = backup.backup(to=to, keep=keep)
    sizes = ", ".join(f"{f['file']} {f['bytes']:,} bytes ({f['integrity']})" for f in result["files"])
    log(f"backup {result['path']}: {sizes}")
    if result["rotated"]:
        log(f"rotated out {len(result['rotated'])} old backup(s)")
    return result
