"""The sidebar: the areas with their keys; click or press the number."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from batchops.tui.typed_app import batchops_app

# (mode name, label, key). Keys 1-5 are the five main areas, in the order the issue gives.
AREAS: list[tuple[str, str, str]] = [
    ("dashboard", "Dashboard", "1"),
    ("uploads", "Uploads", "2"),
    ("runs", "Job Runs", "3"),
    ("incidents", "Incidents", "4"),
    ("jobs", "Jobs", "5"),
    ("known_errors", "Known errors", "6"),
    ("tickets", "Tickets", "7"),
]
AREA_NAMES = [a[0] for a in AREAS]
AREA_LABELS = {a[0]: a[1] for a in AREAS}


class AreaLink(Static):
    def __init__(self, area: str, label: str, key: str, current: bool):
        super().__init__(f"[b]{key}[/b] {label}", id=f"nav-{area}", classes="nav -current" if current else "nav")
        self.area = area

    async def on_click(self) -> None:
        await batchops_app(self.app).action_area(self.area)


class Sidebar(Vertical):
    DEFAULT_CSS = """
    Sidebar { width: 18; dock: left; background: $panel; padding: 1 0; }
    Sidebar .brand { padding: 0 1 1 1; text-style: bold; color: $accent; }
    Sidebar .nav { padding: 0 1; height: 1; }
    Sidebar .nav:hover { background: $boost; }
    Sidebar .nav.-current { background: $accent 30%; text-style: bold; }
    Sidebar .ro { dock: bottom; padding: 0 1; color: $warning; text-style: bold; }
    Sidebar .hint { dock: bottom; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, current: str, read_only: bool = False):
        super().__init__()
        self.current = current
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        yield Static("BatchOps", classes="brand")
        for area, label, key in AREAS:
            yield AreaLink(area, label, key, area == self.current)
        yield Static("? help  : jump", classes="hint")
        if self.read_only:
            yield Static("READ-ONLY", classes="ro")
