"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import peewee


class UTCDateTimeField(peewee.DateTimeField):
    """Stored as naive UTC text/timestamp, returned as an aware UTC datetime."""

    def db_value(self, value):
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        value = super().python_value(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class JSONField(peewee.TextField):
    """JSON as text: portable, and readable with the sqlite3 shell."""

    def db_value(self, value):
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, default=str)

    def python_value(self, value):
        if value is None or value == "":
            return None
        return json.loads(value)
