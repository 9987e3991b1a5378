"""Small helpers every service shares: lookups with clear errors, row -> dict."""

from __future__ import annotations

import json
from typing import TypeVar

import peewee

from batchops.errors import InputError, InvalidJSON, NotFound
from batchops.store.models import BaseModel

M = TypeVar("M", bound=BaseModel)


MAX_ID = 2**63 - 1  # SQLite's largest integer: a bigger number cannot name a row


def as_id(ident, what: str) -> int:
    """``ident`` as a row id, or E_NOT_FOUND (exit 2): not a number, or too big/small to be an id."""
    try:
        key = int(ident)
    except (TypeError, ValueError, OverflowError):
        raise NotFound(f"{what} id must be a number, not {ident!r}") from None
    if not 0 <= key <= MAX_ID:
        raise NotFound(f"no {what} with id {key}")
    return key


def _looks_like_id(ident) -> bool:
    """A number (however large: ``as_id`` refuses what no row can have) rather than a name."""
    return isinstance(ident, int) or str(ident).strip().lstrip("+-").isdigit()


def check_filter(value: str | None, allowed, what: str) -> None:
    """A list filter as typed: empty, or one of ``allowed``; else E_BAD_FILTER (exit 2) rather than an empty list."""
    if value and value not in allowed:
        raise InputError(f"unknown {what} {value!r} (one of {', '.join(allowed)})", code="E_BAD_FILTER")


def before_bound(before_id) -> int | None:
    """A keyset page bound: any number, clamped to what SQLite can compare."""
    return None if before_id is None else max(0, min(int(before_id), MAX_ID))


def get_record(model: type[M], ident, what: str | None = None, fields=None) -> M:
    """The row with that id (only ``fields`` when given), or E_NOT_FOUND (exit 2)."""
    what = what or model.__name__.lower()
    if not _looks_like_id(ident):
        return _by_name(model, str(ident), what, fields)
    key = as_id(ident, what)
    obj = model.select(*(fields or ())).where(model.id == key).first()
    if obj is None:
        raise NotFound(f"no {what} with id {key}")
    return obj


# Records named by a name as well as an id (jobs, known errors, uploads by file name).
NAME_FIELDS = ("name", "original_name")


def _by_name(model: type[M], name: str, what: str, fields=None) -> M:
    """The one row with that name; E_NOT_FOUND when none, or several (their ids are listed)."""
    column = next((getattr(model, f) for f in NAME_FIELDS if f in model._meta.fields), None)
    if column is None:
        raise NotFound(f"{what} id must be a number, not {name!r}")
    query = model.select(*fields, model.id) if fields else model.select()
    rows = list(query.where(column == name.strip()).order_by(model.id).limit(6))
    if not rows:
        raise NotFound(f"no {what} with id or name {name!r}")
    if len(rows) > 1:
        ids = ", ".join(str(r.id) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise NotFound(
            f"{len(rows) if len(rows) < 6 else 'several'} {what}s are named {name!r} (ids {ids}); give the id",
            code="E_AMBIGUOUS",
        )
    return rows[0]


def row_dict(obj: peewee.Model, exclude: tuple[str, ...] = ()) -> dict:
    """Field values keyed by name; foreign keys as their id (``upload_id``)."""
    out = {}
    for name, field in obj._meta.fields.items():
        if name in exclude:
            continue
        if isinstance(field, peewee.ForeignKeyField):
            out[f"{name}_id"] = getattr(obj, field.column_name)
        else:
            out[name] = getattr(obj, name)
    return out


def parse_json(text: str | None, what: str, default=None):
    """Parse JSON given inline or as @file; E_JSON_INVALID with the position if it is not."""
    if text is None or text == "":
        return default
    source = what
    if text.startswith("@"):
        from pathlib import Path

        path = Path(text[1:]).expanduser()
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidJSON(f"cannot read {what} file {path}: {exc.__class__.__name__}") from None
        source = f"{what} file {path}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidJSON(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
