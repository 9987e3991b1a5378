"""Small helpers the job callables share."""

from __future__ import annotations

import peewee

from batchops.clock import utc_now
from batchops.store.db import db, retry_busy
from batchops.store.models import AppState


@retry_busy
def remember_once(key: str, value) -> bool:
    """Record ``key`` in AppState; False if it was there already (the first writer wins, across processes)."""
    try:
        with db.atomic():
            AppState.insert(key=key, value=value, updated_at=utc_now()).execute()
        return True
    except peewee.IntegrityError:
        return False


def seen(key: str) -> bool:
    return AppState.select(AppState.key).where(AppState.key == key).exists()


@retry_busy
def forget(key: str) -> None:
    with db.atomic():
        AppState.delete().where(AppState.key == key).execute()
