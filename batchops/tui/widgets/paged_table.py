"""A DataTable that shows one bounded page of a keyset-paged list.

Textual's DataTable slows down past a few thousand rows, so it never holds
more than ``page_size`` rows: the screen fetches ``page_size + 1`` rows newest
first with ``before_id`` (the extra row only says there is a next page) and
hands them to ``show_page``. ``]`` and ``[`` walk the pages; the cursors are a
stack of ``before_id`` values, so going back costs what going forward does.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, cast

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.widgets.data_table import RowKey

from batchops.incidents import patterns
from batchops.terminal import safe_text

PAGE_SIZE = 200


class PagedTable(Vertical):
    DEFAULT_CSS = """
    PagedTable { height: 1fr; }
    PagedTable DataTable { height: 1fr; }
    PagedTable .pager { height: 1; color: $text-muted; padding: 0 1; }
    """

    def __init__(
        self,
        columns: Sequence[tuple[str, str]],
        cells: Callable[[dict], Sequence[Any]],
        page_size: int = PAGE_SIZE,
        id: str | None = None,
    ):
        super().__init__(id=id)
        self.columns = list(columns)
        self.cells = cells
        self.page_size = page_size
        self.cursors: list[int | None] = [None]  # before_id of each page visited
        self.rows: list[dict] = []
        self.has_more = False
        self.pattern: str = ""  # client-side regex on the page ("!" inverts)
        self.sort_by: int | None = None  # column index clicked (sorts this page only)
        self.sort_reverse = False
        self._shown: list[tuple] = []
        self._widths: list[int] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        table: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True)
        for key, label in self.columns:
            table.add_column(label, key=key)
        yield table
        yield Static("loading…", classes="pager")

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    # -- paging ---------------------------------------------------------
    @property
    def before_id(self) -> int | None:
        return self.cursors[-1]

    @property
    def page(self) -> int:
        return len(self.cursors)

    def fetch_limit(self) -> int:
        return self.page_size + 1

    def next_page(self) -> bool:
        if not self.has_more or not self.rows:
            return False
        self.cursors.append(int(self.rows[-1]["id"]))
        return True

    def prev_page(self) -> bool:
        if len(self.cursors) == 1:
            return False
        self.cursors.pop()
        return True

    def first_page(self) -> None:
        self.cursors = [None]

    # -- contents -------------------------------------------------------
    def filtered(self, rows: list[dict]) -> list[dict]:
        return self.sorted(self.matching(rows))

    def sorted(self, rows: list[dict]) -> list[dict]:
        if self.sort_by is None:
            return rows
        index = self.sort_by

        def key(row: dict):
            text = _plain(self.cells(row)[index]).replace(",", "").lstrip("#×")
            try:
                return (0, float(text.split()[0]), "")
            except (ValueError, IndexError):
                return (1, 0.0, text.lower())

        return sorted(rows, key=key, reverse=self.sort_reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if self.sort_by == event.column_index:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_by, self.sort_reverse = event.column_index, False
        self.redraw()

    def matching(self, rows: list[dict]) -> list[dict]:
        if not self.pattern:
            return rows
        invert = self.pattern.startswith("!")
        raw = self.pattern[1:] if invert else self.pattern
        if not raw:
            return rows
        try:  # the known-error engine: a slow pattern runs out of budget instead of freezing the UI
            rx = patterns.compile_pattern(raw)
        except patterns.error:
            rx = patterns.compile_pattern(patterns.regex.escape(raw))
        out = []
        for row in rows:
            line = " ".join(_plain(c) for c in self.cells(row))
            if patterns.search(rx, line) != invert:
                out.append(row)
        return out

    def show_page(self, rows: list[dict]) -> None:
        """``rows`` as fetched (up to page_size + 1, newest first)."""
        self.loaded = True
        self.has_more = len(rows) > self.page_size
        self.rows = rows[: self.page_size]
        if not self.rows and len(self.cursors) > 1:  # the page emptied under us: step back next time
            self.cursors.pop()
        self.redraw()

    def redraw(self) -> None:
        table = self.table
        rows = self.filtered(self.rows)
        shown = [(str(r["id"]), tuple(map(_safe_cell, self.cells(r)))) for r in rows]
        if shown != self._shown:
            widths = self.widths(shown)
            keys_now = [k for k, _ in self._shown]
            keys_new = [k for k, _ in shown]
            if widths != self._widths:  # columns sized here, not measured later by the table
                self._rebuild(shown, widths)
            elif keys_now == keys_new:  # same rows: update only the cells that changed
                col_keys = [c for c, _ in self.columns]
                for (key, new), (_, old) in zip(shown, self._shown):
                    for col, a, b in zip(col_keys, new, old):
                        if a != b:
                            table.update_cell(key, col, a)
            else:
                selected = self.selected_key()
                table.clear()
                for key, cells in shown:
                    table.add_row(*cells, key=key)
                if selected and selected in keys_new:
                    table.move_cursor(row=keys_new.index(selected), animate=False)
            self._shown = shown
        self.query_one(".pager", Static).update(self.pager_text(len(rows)))

    def widths(self, shown: list[tuple[str, tuple]]) -> list[int]:
        out = []
        for i, (_, label) in enumerate(self.columns):
            out.append(max([cell_len(label), *(_cell_width(cells[i]) for _, cells in shown)]))
        return out

    def _rebuild(self, shown: list[tuple[str, tuple]], widths: list[int]) -> None:
        table = self.table
        selected = self.selected_key()
        table.clear(columns=True)
        for (key, label), width in zip(self.columns, widths):
            table.add_column(label, key=key, width=width)
        for key, cells in shown:
            table.add_row(*cells, key=key)
        keys = [k for k, _ in shown]
        if selected and selected in keys:
            table.move_cursor(row=keys.index(selected), animate=False)
        self._widths = widths

    def pager_text(self, visible: int) -> str:
        if not self.rows:
            return "no rows" + (f" on page {self.page}" if self.page > 1 else "")
        start = (self.page - 1) * self.page_size + 1
        end = start + len(self.rows) - 1
        parts = [f"page {self.page}", f"rows {start:,}–{end:,}"]
        if self.pattern:
            parts.append(f"{visible} match /{self.pattern}/")
        if self.sort_by is not None:
            arrow = "▼" if self.sort_reverse else "▲"
            parts.append(f"page sorted by {self.columns[self.sort_by][1]} {arrow}")
        if self.page > 1:
            parts.append("[ newer")
        if self.has_more:
            parts.append("] older")
        return " · ".join(parts)

    # -- selection ------------------------------------------------------
    def selected_key(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

    def selected_id(self) -> int | None:
        key = self.selected_key()
        return int(key) if key is not None else None

    def selected_row(self) -> dict | None:
        key = self.selected_key()
        return next((r for r in self.rows if str(r["id"]) == key), None)


def row_id(key: RowKey) -> int:
    """The id a table row stands for (``fill_table`` keys each row by its record's id)."""
    return int(cast(str, key.value))


def fill_table(table: DataTable, rows: Sequence[tuple[object, Sequence[Any]]]) -> bool:
    """Replace a small table's rows (key, cells) unless they are unchanged; keeps the cursor."""
    shown = [(str(k), tuple(map(_safe_cell, c))) for k, c in rows]
    if getattr(table, "_batchops_rows", None) == shown:
        return False
    selected = None
    if table.row_count:
        try:
            selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            selected = None
    table.clear()
    for key, cells in shown:
        table.add_row(*cells, key=key)
    keys = [k for k, _ in shown]
    if selected in keys:
        table.move_cursor(row=keys.index(selected), animate=False)
    vars(table)["_batchops_rows"] = shown  # what is shown, for the unchanged check above
    return True


def _safe_cell(value: Any) -> Any:
    """A cell with its control characters escaped (a file name may carry ESC sequences)."""
    if isinstance(value, Text):
        plain = safe_text(value.plain)
        return value if plain == value.plain else Text(plain, style=value.style)
    return value if not isinstance(value, str) else safe_text(value)


def _plain(value: Any) -> str:
    return value.plain if isinstance(value, Text) else str(value)


def _cell_width(value: Any) -> int:
    return value.cell_len if isinstance(value, Text) else cell_len(str(value))
