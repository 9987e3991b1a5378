"""``?``: the keys that work here, and what this area is for."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

GLOBAL_KEYS = [
    ("1-5", "Dashboard, Uploads, Job Runs, Incidents, Jobs (6 Known errors, 7 Tickets)"),
    ("?", "this help"),
    (": / ctrl+p", "command palette: jump to upload/run/incident by id, trigger a job"),
    ("/", "filter the list (Uploads and Incidents search the store; elsewhere a regex on the page, ! inverts)"),
    ("[ ]", "newer / older page (200 rows a page, paged from the store)"),
    ("enter", "open the selected row (click a column header to sort the page)"),
    ("esc", "back (close this, leave a detail screen, leave the filter)"),
    ("r", "refresh now (lists also refresh every few seconds)"),
    ("q", "quit (BatchOps reopens on this area next time)"),
]


TEXTUAL_KEYS = {"tab", "shift+tab", "ctrl+c", "super+c"}  # every Textual screen has these


def _key_label(key: str) -> str:
    names = {
        "question_mark": "?",
        "slash": "/",
        "colon": ":",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
        "escape": "esc",
        "enter": "enter",
    }
    return names.get(key, key)


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, under: Screen):
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(self.build_table(), id="help-body")
            yield Static("esc to close", classes="hint")

    def build_table(self) -> Table:
        self.rows: list[tuple[str, str]] = []
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        title = getattr(self.under, "heading", lambda: "BatchOps")()
        table.add_row(Text("BatchOps", style="bold"), Text(str(title), style="bold"))
        about = getattr(self.under, "HELP", "")
        if about:
            table.add_row("", Text(about, style="italic"))
        table.add_row("", "")
        for key, what in GLOBAL_KEYS:
            table.add_row(key, what)
            self.rows.append((key, what))
        seen = {k for k, _ in GLOBAL_KEYS}
        extra = []
        try:
            bindings = list(self.under.active_bindings.values())
        except Exception:
            bindings = []
        for active in bindings:
            if active.node is not self.under:  # the area's own keys, not every widget's cursor keys
                continue
            binding = active.binding
            key = _key_label(binding.key)
            if key in seen or not binding.description or key in "1234567" or key in TEXTUAL_KEYS:
                continue
            seen.add(key)
            extra.append((key, binding.description + ("" if active.enabled else " (not now)")))
        if extra:
            table.add_row("", "")
            table.add_row(Text("here", style="bold"), "")
            for key, what in extra:
                table.add_row(key, what)
                self.rows.append((key, what))
        return table

    def action_close(self) -> None:
        self.dismiss()
