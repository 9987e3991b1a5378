"""The known-error library: list and show (CRUD and matching come with triage)."""

from __future__ import annotations

from batchops.services.common import get_or_404, row_dict
from batchops.store.models import KnownError


def list_known_errors() -> list[dict]:
    return [row_dict(k) for k in KnownError.select().order_by(KnownError.id)]


def show_known_error(ident) -> dict:
    return row_dict(get_or_404(KnownError, ident, "known error"))
