"""Messages the thread workers post back to the UI thread.

Small dataclasses (toolong style). ``can_replace`` collapses a flood of
refreshes for the same target into the newest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class Loaded(Message):
    """A fetch finished: ``key`` says what was fetched (``page``, ``detail``, ...)."""

    key: str
    data: Any
    token: int = 0  # the request it answers; stale answers are dropped

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Loaded) and message.key == self.key


@dataclass
class ActionDone(Message):
    """A service call that changed something finished; ``note`` is what to tell the operator."""

    action: str
    result: Any = None
    note: str = ""


@dataclass
class AreaRestored(Message):
    """What ui_state remembered at start-up: the area, the record open there, each area's filters."""

    area: str
    open: dict | None = None  # {"screen": detail screen class name, "id": record id}
    filters: dict = field(default_factory=dict)  # {area: {widget id: value}}


@dataclass
class StagedChanged(Message):
    """The staged-file queue changed (and was saved)."""

    files: list = field(default_factory=list)  # staging.entry dicts
