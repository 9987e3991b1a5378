"""The data home as a whole: init."""

from __future__ import annotations

from batchops import context
from batchops.store import migrations, seeds
from batchops.store.models import Job, KnownError


def init() -> dict:
    """Idempotent: create folders, schema and any missing seeds."""
    cfg = context.config()
    home = context.home()
    for sub in ("files", "exports", "backups", "outbox"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    if not cfg.read_only:
        seeds.seed_known_errors()
        seeds.seed_jobs(cfg)
    return {
        "data_dir": str(home),
        "config": cfg.source,
        "schema_version": migrations.current_version(),
        "jobs": Job.select().count(),
        "known_errors": KnownError.select().count(),
    }
