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
        if self.read_only:
            self.sub_title = "read-only"

    def on_mount(self) -> None:
        if self.start_area:
            self.switch_mode(self.start_area)
        else:
            self.restore_area()

    @work(thread=True, exit_on_error=False, group="state")
    def restore_area(self) -> None:
        try:
            with ui_state.connection():
                area = ui_state.get(LAST_AREA_KEY, "dashboard")
        except Exception:  # a missing or locked store must not stop the UI from opening
            area = "dashboard"
        self.post_message(AreaRestored(area if area in AREA_NAMES else "dashboard"))

    def on_area_restored(self, message: AreaRestored) -> None:
        self.switch_mode(message.area)

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
        while len(self.screen_stack) > 1:
            await self.pop_screen()

    @work(thread=True, exit_on_error=False, group="state")
    def remember_area(self, area: str) -> None:
        try:
            with ui_state.connection():
                ui_state.set(LAST_AREA_KEY, area)
        except Exception:
            pass  # a read-only store file: not worth bothering the operator

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
