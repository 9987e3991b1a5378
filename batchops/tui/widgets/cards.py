"""Small display blocks: a KPI card and a key/value panel."""

from __future__ import annotations

from typing import Any, Iterable

from rich.table import Table
from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static


class Card(Vertical):
    """A KPI: a big value, a title and a one-line note."""

    DEFAULT_CSS = """
    Card { border: round $primary 60%; height: 4; width: 1fr; min-width: 14; padding: 0 1; }
    Card Static { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    Card .value { text-style: bold; color: $text; }
    Card .note { color: $text-muted; }
    """

    def __init__(self, title: str, id: str | None = None):
        super().__init__(id=id)
        self.border_title = title

    def compose(self):
        yield Static("-", classes="value")
        yield Static("", classes="note")

    def set(self, value: Any, note: str = "", style: str = "") -> None:
        self.query_one(".value", Static).update(Text(str(value), style=style))
        self.query_one(".note", Static).update(Text(note))


class KeyValues(Static):
    """Two columns: labels and values (rich Table, so long values wrap)."""

    DEFAULT_CSS = "KeyValues { height: auto; padding: 0 1; }"

    def show(self, pairs: Iterable[tuple[str, Any]]) -> None:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for label, value in pairs:
            table.add_row(label, value if isinstance(value, Text) else Text(str(value if value is not None else "-")))
        self.update(table)
