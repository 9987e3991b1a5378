"""Small UI preferences kept in the store (AppState): the last area, the staged files.

The TUI never touches models: it reads and writes its state here, and wraps
each thread worker's body in ``connection()`` (peewee connections are per
thread, so a worker opens its own and closes it when done).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from batchops.clock import utc_now
from batchops.store.db import db, retry_busy
from batchops.store.models import AppState


def get(key: str, default: Any = None) -> Any:
    row = AppState.get_or_none(AppState.key == key)
    return default if row is None or row.value is None else row.value


@retry_busy
def set(key: str, value: Any) -> None:  # noqa: A001 - the module is used as ui_state.set
    """Remember ``value`` (JSON-able). UI state is kept even in read-only mode: it changes no data."""
    with db.atomic():
        (
            AppState.insert(key=key, value=value, updated_at=utc_now())
            .on_conflict(conflict_target=[AppState.key], update={AppState.value: value, AppState.updated_at: utc_now()})
            .execute()
        )


@contextmanager
def connection() -> Iterator[None]:
    """A store connection for the calling thread, closed on exit (thread workers use this)."""
    with db.connection_context():
        yield
