"""The control room app: areas as modes, global keys, errors as notifications.

Kept small on purpose: each area is a screen module under ``screens/``.
"""

from __future__ import annotations

from textual import work
from textual.app import App
from textual.binding import Binding

from batchops import context
from batchops.services import ui_state
from batchops.tui.commands import BatchOpsCommands
from batchops.tui.display import error_line
from batchops.tui.messages import AreaRestored
from batchops.tui.screens.dashboard import DashboardScreen
from batchops.tui.screens.help import HelpScreen
from batchops.tui.screens.incidents import IncidentsScreen
from batchops.tui.screens.jobs import JobsScreen
from batchops.tui.screens.known_errors import KnownErrorsScreen
from batchops.tui.screens.runs import RunsScreen
from batchops.tui.screens.tickets import TicketsScreen
from batchops.tui.screens.uploads import UploadsScreen
from batchops.tui.widgets.sidebar import AREA_NAMES, AREAS

LAST_AREA_KEY = "tui.last_area"
OPEN_KEY = "tui.open"  # the detail screen on top when the TUI was left
FILTERS_KEY = "tui.filters."  # + area: that list's filter widgets


def detail_screens() -> dict:
    """The detail screens a restart can reopen, by class name (imported late: start-up stays light)."""
    from batchops.tui.screens.incident_detail import IncidentDetailScreen
    from batchops.tui.screens.job_detail import JobDetailScreen
    from batchops.tui.screens.run_detail import RunDetailScreen
    from batchops.tui.screens.upload_detail import UploadDetailScreen

    return {cls.__name__: cls for cls in (IncidentDetailScreen, JobDetailScreen, RunDetailScreen, UploadDetailScreen)}


class BatchOpsApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "BatchOps"
    MODES = {
        "dashboard": DashboardScreen,
        "uploads": UploadsScreen,
        "runs": RunsScreen,
        "incidents": IncidentsScreen,
        "jobs": JobsScreen,
        "known_errors": KnownErrorsScreen,
        "tickets": TicketsScreen,
    }
    COMMANDS = App.COMMANDS | {BatchOpsCommands}
    # screens get -narrow under 100 columns (an SSH window) and -wide from 160: app.tcss adapts to them
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (160, "-wide")]
    BINDINGS = [
        *(Binding(key, f"area('{area}')", label, show=False) for area, label, key in AREAS),
        Binding("question_mark", "help", "Help"),
        Binding("colon", "command_palette", "Jump", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, read_only: bool | None = None, refresh_seconds: float = 3.0, start_area: str | None = None):
        super().__init__()
        self.read_only = context.config().read_only if read_only is None else read_only
        self.refresh_seconds = refresh_seconds
        self.start_area = start_area
        self.restored_filters: dict = {}
        if self.read_only:
            self.sub_title = "read-only"

    def on_mount(self) -> None:
        if self.start_area:  # asked for explicitly: that area, as it starts
            self.switch_mode(self.start_area)
        else:
            self.restore_area()

    @work(thread=True, exit_on_error=False, group="state")
    def restore_area(self) -> None:
        area, opened, filters = "dashboard", None, {}
        try:
            with ui_state.connection():
                area = ui_state.get(LAST_AREA_KEY, "dashboard")
                opened = ui_state.get(OPEN_KEY)
                filters = {name: ui_state.get(FILTERS_KEY + name) or {} for name in AREA_NAMES}
        except Exception:  # a missing or locked store must not stop the UI from opening
            pass
        self.post_message(AreaRestored(area if area in AREA_NAMES else "dashboard", opened, filters))

    async def on_area_restored(self, message: AreaRestored) -> None:
        """Back where the operator left: the area, its filters, and the record that was open (if it still is)."""
        self.restored_filters = message.filters
        await self.switch_mode(message.area)
        opened = message.open or {}
        screen = detail_screens().get(opened.get("screen"))
        if screen is not None and screen.AREA == self.current_mode and isinstance(opened.get("id"), int):
            await self.push_screen(screen(opened["id"]))

    @work(thread=True, exit_on_error=False, group="state")
    def remember(self, key: str, value) -> None:
        """Keep a UI preference (a thread worker: the store is not touched on the UI thread)."""
        try:
            with ui_state.connection():
                ui_state.set(key, value)
        except Exception:
            pass  # a read-only store file: not worth bothering the operator

    def remember_open(self) -> None:
        """Note the detail screen on top now (after a push or a pop), or that none is open."""
        from batchops.tui.screens.base import DetailScreen

        top = next((s for s in reversed(self.screen_stack) if isinstance(s, DetailScreen)), None)
        self.remember(OPEN_KEY, {"screen": type(top).__name__, "id": top.ident} if top else None)

    @property
    def area(self) -> str:
        return self.current_mode if self.current_mode in AREA_NAMES else "dashboard"

    async def action_area(self, area: str) -> None:
        """An area key always lands on the area's list, never on a detail screen left open there."""
        if area not in AREA_NAMES:
            return
        if self.current_mode != area:
            await self.switch_mode(area)
            self.remember_area(area)
        if len(self.screen_stack) > 1:
            while len(self.screen_stack) > 1:
                await self.pop_screen()
            self.remember_open()

    def remember_area(self, area: str):
        return self.remember(LAST_AREA_KEY, area)

    async def action_quit(self) -> None:
        await self.remember_area(self.area).wait()
        self.exit()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def report(self, error: BaseException | None) -> None:
        """Every failure an operator sees: one line, ``code: message``."""
        if error is not None:
            self.notify(error_line(error), severity="error", timeout=8, markup=False)

    def open_item(self, area: str, ident: int) -> None:
        """Jump to an item's detail screen in its area (command palette)."""
        from batchops.tui.screens.incident_detail import IncidentDetailScreen
        from batchops.tui.screens.run_detail import RunDetailScreen
        from batchops.tui.screens.upload_detail import UploadDetailScreen

        screens = {"uploads": UploadDetailScreen, "runs": RunDetailScreen, "incidents": IncidentDetailScreen}

        async def go() -> None:
            await self.action_area(area)
            await self.push_screen(screens[area](ident))

        self.call_later(go)


def make_app(read_only: bool | None = None, **kwargs) -> BatchOpsApp:
    """The one factory the CLI and the tests use (configure() must have run)."""
    return BatchOpsApp(read_only=read_only, **kwargs)
