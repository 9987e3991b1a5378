"""Small helpers the job callables share."""

from __future__ import annotations

from pathlib import Path

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


def recall(key: str):
    """The value ``remember`` (or ``remember_once``) kept under ``key``, or None."""
    return AppState.select(AppState.value).where(AppState.key == key).scalar()


@retry_busy
def remember(key: str, value) -> None:
    """Keep ``value`` under ``key``, replacing what was there (a job's memory of the latest state)."""
    with db.atomic():
        (
            AppState.insert(key=key, value=value, updated_at=utc_now())
            .on_conflict(conflict_target=[AppState.key], update={AppState.value: value, AppState.updated_at: utc_now()})
            .execute()
        )


@retry_busy
def forget(key: str) -> None:
    with db.atomic():
        AppState.delete().where(AppState.key == key).execute()


def allowed_path(value: str, what: str, configured: str | None = None) -> Path:
    """A path a job argument names, only inside a root the configuration names (E_PATH_NOT_ALLOWED).

    Job arguments live in the store, where anyone who can edit a job can write them: a folder
    or backup target given there must be ``configured`` (the setting's own path) or sit under it,
    or under one of ``automation.path_roots``. Symlinks are resolved first.
    """
    from batchops import context
    from batchops.errors import InputError

    path = Path(value).expanduser().resolve()
    roots = [Path(r).expanduser().resolve() for r in context.config().automation.path_roots if r]
    if configured:
        roots.append(Path(configured).expanduser().resolve())
    if any(path == root or root in path.parents for root in roots):
        return path
    named = ", ".join(str(r) for r in roots) or "none configured"
    raise InputError(
        f"{what} {value!r} is outside the folders jobs may use ({named}); add its folder to automation.path_roots",
        code="E_PATH_NOT_ALLOWED",
    )
