"""Typed views of a query's rows as dicts, tuples or alias-carrying objects.

peewee-stubs types ``.dicts()``, ``.tuples()`` and ``.objects()`` as returning the same query,
so a type checker takes every row for a model instance; these say what the rows really are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def dict_rows(query: Any) -> Iterator[dict[str, Any]]:
    return iter(query.dicts())


def tuple_rows(query: Any) -> Iterator[tuple[Any, ...]]:
    return iter(query.tuples())


def alias_rows(query: Any) -> Iterator[Any]:
    """Rows as objects carrying the selected aliases (``.alias("n")``) as attributes."""
    return iter(query.objects())
