"""Health: is the store reachable, current and intact (queue and workers join later)."""

from __future__ import annotations

from batchops.services import context
from batchops.store import migrations
from batchops.store.db import db, is_sqlite


def check_store() -> dict:
    out = {"ok": False, "url": context.config().database.url or "sqlite:batchops.db"}
    try:
        version = migrations.current_version()
        out["schema_version"] = version
        out["schema_current"] = version == migrations.LATEST
        if is_sqlite():
            out["journal_mode"] = db.execute_sql("PRAGMA journal_mode").fetchone()[0]
            out["integrity"] = db.execute_sql("PRAGMA quick_check").fetchone()[0]
        else:
            out["integrity"] = "ok"
        out["ok"] = bool(out["schema_current"]) and out["integrity"] == "ok"
    except Exception as exc:  # health reports, it does not raise
        out["error"] = f"{exc.__class__.__name__}: {exc}"
    return out


CHECKS = {"store": check_store}


def health() -> dict:
    checks = {name: fn() for name, fn in CHECKS.items()}
    return {"healthy": all(c.get("ok") for c in checks.values()), "checks": checks}
