"""What every area screen shares: the shell, the refresh loop, workers, errors.

* ``fetch`` is the one thread worker that reads: it calls ``self.load(params)``
  (services only) inside ``ui_state.connection()`` and posts ``Loaded`` back.
  ``params`` are read from the widgets on the UI thread first.
* The refresh timer is armed only after a fetch finishes (so fetches never
  overlap) and is stopped while the screen is suspended: a modal on top, or
  another area shown. Coming back refreshes at once.
* ``act`` runs a mutating service call in a thread worker and posts
  ``ActionDone``; any error (``BatchOpsError`` or not) becomes a one-line
  ``code: message`` notification, never a traceback.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker

from batchops.services import ui_state
from batchops.tui.messages import ActionDone, Loaded
from batchops.tui.typed_app import batchops_app
from batchops.tui.widgets.paged_table import PagedTable
from batchops.tui.widgets.sidebar import AREA_LABELS, Sidebar


class BaseScreen(Screen):
    AREA: ClassVar[str] = "dashboard"
    HELP: ClassVar[str] = ""
    MUTATING: ClassVar[frozenset[str]] = frozenset()  # actions hidden in read-only mode

    BINDINGS = [Binding("r", "reload", "Refresh", show=False)]  # it refreshes itself; the footer keeps room for actions

    def __init__(self) -> None:
        super().__init__()
        self._timer: Timer | None = None
        self._token = 0
        self._inflight = False
        self.loaded_once = False

    # -- shell ------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Sidebar(self.AREA, self.read_only)
        with Vertical(id="main"):
            yield Static(self.heading(), id="heading")
            yield from self.compose_main()
        yield Footer()

    def compose_main(self) -> ComposeResult:
        yield from ()

    def heading(self) -> str:
        return AREA_LABELS.get(self.AREA, self.AREA)

    def set_heading(self, text: str) -> None:
        self.query_one("#heading", Static).update(text)

    def wide(self, base: int) -> int:
        """A text column's width: ``base`` at 120 columns, more on a wide terminal."""
        return base + max(0, (self.app.size.width - 120) // 3)

    @property
    def read_only(self) -> bool:
        return bool(getattr(self.app, "read_only", False))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.read_only and action in self.MUTATING:
            return False
        return True

    # -- the refresh loop -------------------------------------------------
    @property
    def refresh_seconds(self) -> float:
        return float(getattr(self.app, "refresh_seconds", 3.0) or 0)

    def on_screen_resume(self) -> None:
        if not self._inflight:
            self.action_reload()

    def on_screen_suspend(self) -> None:
        self._stop_timer()

    def reload_if(self, changed: object) -> None:
        """A dialog's callback: reload when it changed something."""
        if changed:
            self.action_reload()

    def action_reload(self) -> None:
        try:
            params = self.params()
        except NoMatches:  # resumed while the app tears the screen down (quitting under load): nothing to show
            return
        self._stop_timer()
        self._token += 1
        self._inflight = True
        self.fetch(self._token, params)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _arm(self) -> None:
        self._stop_timer()
        self._inflight = False
        if self.refresh_seconds > 0 and self.is_current:
            self._timer = self.set_timer(self.refresh_seconds, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.is_current:  # a modal on top or another area shown: wait for ScreenResume
            self.action_reload()

    def params(self) -> dict:
        """What the fetch needs from the widgets (read here, on the UI thread)."""
        return {}

    def load(self, params: dict) -> Any:
        """Runs in a worker thread: call services, return plain data."""
        return None

    def apply(self, data: Any) -> None:
        """Back on the UI thread: show what ``load`` returned."""

    @work(thread=True, exclusive=True, exit_on_error=False, group="fetch")
    def fetch(self, token: int, params: dict) -> None:
        with ui_state.connection():
            data = self.load(params)
        if not get_current_worker().is_cancelled:
            self.post_message(Loaded("data", data, token))

    def on_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.token != self._token:
            return  # an answer to an older request (filters changed since)
        self.loaded_once = True
        try:
            self.apply(message.data)
        finally:
            self._arm()

    # -- actions ----------------------------------------------------------
    def act(self, action: str, fn: Callable, *args, note: str | Callable[[Any], str] = "", **kwargs) -> None:
        if self.read_only and action in self.MUTATING:
            self.notify("E_READ_ONLY: BatchOps is in read-only mode; nothing was changed", severity="warning")
            return
        self._act(action, fn, args, kwargs, note)

    @work(thread=True, exit_on_error=False, group="action")
    def _act(self, action: str, fn: Callable, args: tuple, kwargs: dict, note) -> None:
        with ui_state.connection():
            result = fn(*args, **kwargs)
            text = note(result) if callable(note) else note  # a note may read the store too
        self.post_message(ActionDone(action, result, text))

    def on_action_done(self, message: ActionDone) -> None:
        message.stop()
        if message.note:
            self.notify(message.note, title=message.action)
        self.after_action(message)
        if self in self.app.screen_stack:  # not if after_action left this screen
            self.action_reload()

    def after_action(self, message: ActionDone) -> None:
        """Hook: react to a finished action (e.g. leave a deleted item's screen)."""

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        batchops_app(self.app).report(event.worker.error)
        if event.worker.group == "fetch":
            self.fetch_failed(event.worker.error)
        elif event.worker.group == "action":
            self.action_failed(event.worker.error)

    def action_failed(self, error: BaseException | None) -> None:
        """Hook: an ``act`` call failed (the notification is already shown)."""

    def fetch_failed(self, error: BaseException | None) -> None:
        self._arm()


class DetailScreen(BaseScreen):
    """A screen pushed inside an area's stack; ``esc`` goes back.

    ``]``/``[`` switch tabs and PageDown/PageUp scroll the open tab from anywhere on the screen
    (a focused table keeps its own paging), so nobody has to tab into the content first.
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("right_square_bracket", "tab(1)", "Next tab", key_display="]"),
        Binding("left_square_bracket", "tab(-1)", "Prev tab", key_display="[", show=False),
        Binding("pagedown", "page(1)", "Scroll", show=False),
        Binding("pageup", "page(-1)", "Scroll", show=False),
    ]

    def __init__(self, ident: int) -> None:
        super().__init__()
        self.ident = int(ident)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if hasattr(self.app, "remember_open"):
            self.app.remember_open()  # a restart reopens this record

    def action_back(self) -> None:
        if self.is_current and len(self.app.screen_stack) > 1:
            self.app.pop_screen()  # leaves the stack at once; the await is only the unmount
            if hasattr(self.app, "remember_open"):
                self.app.remember_open()

    def params(self) -> dict:
        return {"id": self.ident}

    def action_tab(self, step: int) -> None:
        from textual.widgets import TabbedContent

        found = self.query(TabbedContent)
        if not found:
            return
        tabs = found.first(TabbedContent)
        panes = [pane.id for pane in tabs.query("TabPane") if pane.id]
        if tabs.active in panes:
            tabs.active = panes[(panes.index(tabs.active) + step) % len(panes)]

    def action_page(self, step: int) -> None:
        """Scroll the visible tab's content a page, wherever the focus is."""
        from textual.containers import ScrollableContainer
        from textual.widgets import TabbedContent

        tabs = self.query(TabbedContent)
        root = tabs.first(TabbedContent).active_pane if tabs else self.query_one("#main")
        if root is None:
            return
        target = next(
            (
                w
                for w in root.query("VerticalScroll, DataTable")
                if isinstance(w, (ScrollableContainer, DataTable)) and w.display
            ),
            None,
        )
        if target is not None:
            (target.scroll_page_down if step > 0 else target.scroll_page_up)()

    def fetch_failed(self, error: BaseException | None) -> None:
        from batchops.errors import NotFound

        if isinstance(error, NotFound) or not self.loaded_once:
            self.action_back()  # nothing to show: back to the list
        else:
            self._arm()


class ListScreen(BaseScreen):
    """An area's root: filters on top, one page of a keyset-paged list below."""

    COLUMNS: ClassVar[list[tuple[str, str]]] = []
    SERVER_TEXT: ClassVar[bool] = False  # the service filters by text itself
    ROW_ACTIONS: ClassVar[bool] = False  # the footer's actions depend on the highlighted row (check_action)
    FILTER_HINT: ClassVar[str] = "/ filter: regex on this page, ! inverts"
    # {service parameter: the values it takes}: a Select each, passed to ``load`` by ``filter_values``
    FILTERS: ClassVar[dict[str, tuple[str, ...]]] = {}

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", show=False),
        Binding("right_square_bracket", "next_page", "Next page"),
        Binding("left_square_bracket", "prev_page", "Prev page", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    _pending_pages = 0

    def compose_main(self) -> ComposeResult:
        with Horizontal(id="filters"):
            yield from self.compose_filters()
            yield Input(placeholder=self.FILTER_HINT, id="filter-text", compact=True)
        yield from self.compose_above_table()
        yield PagedTable(self.COLUMNS, self.cells, id="list")

    def compose_filters(self) -> ComposeResult:
        for param, values in self.FILTERS.items():
            yield Select([(v, v) for v in values], prompt=f"{param}: any", id=f"filter-{param}", compact=True)

    def compose_above_table(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        # The table is the pager's child: absent when the screen is torn down as it mounts (the app quitting)
        for table in self.pager.query("DataTable").results():
            table.focus()
        self.restore_filters((getattr(self.app, "restored_filters", None) or {}).get(self.AREA) or {})

    def restore_filters(self, saved: dict) -> None:
        """The filters this list had when the TUI was left (values no longer offered are skipped)."""
        for widget in self.query("#filters Select, #filters Input"):
            if widget.id not in saved:
                continue
            value = saved[widget.id]
            try:
                if isinstance(widget, Select):
                    widget.value = Select.NULL if value is None else value
                elif isinstance(widget, Input) and isinstance(value, str):
                    widget.value = value
            except Exception:  # a value this list no longer offers: keep the default
                pass

    def remember_filters(self) -> None:
        values = {
            w.id: (None if w.value in (Select.NULL, "") else w.value) if isinstance(w, Select) else w.value
            for w in self.query("#filters Select, #filters Input")
            if w.id and isinstance(w, (Select, Input))
        }
        if hasattr(self.app, "remember"):
            self.app.remember(f"tui.filters.{self.AREA}", values)

    @property
    def pager(self) -> PagedTable:
        return self.query_one(PagedTable)

    def cells(self, row: dict) -> list:
        return [row.get(key, "") for key, _ in self.COLUMNS]

    def on_resize(self) -> None:
        if self.pager.loaded:
            self.pager.redraw()

    def filter_values(self) -> dict:
        """Select filters: {param name: value or None}."""
        out = {}
        for select in self.query("#filters Select").results(Select):
            name = (select.id or "").removeprefix("filter-")
            out[name] = None if select.value in (Select.NULL, "", None) else select.value
        return out

    def params(self) -> dict:
        params = {"before_id": self.pager.before_id, "limit": self.pager.fetch_limit(), **self.filter_values()}
        if self.SERVER_TEXT:
            params["text"] = self.query_one("#filter-text", Input).value.strip() or None
        return params

    def apply(self, data: Any) -> None:
        self.pager.show_page(list(data or []))
        self.after_page()
        if self.ROW_ACTIONS:
            self.refresh_bindings()

    def on_data_table_row_highlighted(self) -> None:
        if self.ROW_ACTIONS:
            self.refresh_bindings()

    def after_page(self) -> None:
        """Older-page presses that came while a page was loading: take the next step now."""
        if self._pending_pages > 0:
            self._pending_pages -= 1
            if self.pager.next_page():
                self.call_after_refresh(self.action_reload)
            else:
                self._pending_pages = 0

    # -- filters ----------------------------------------------------------
    def action_focus_filter(self) -> None:
        self.query_one("#filter-text", Input).focus()

    def action_back(self) -> None:
        box = self.query_one("#filter-text", Input)
        if box.has_focus and box.value:
            box.value = ""
        self.pager.table.focus()

    @on(Select.Changed, "#filters Select")
    def _select_changed(self) -> None:
        self.remember_filters()
        self._pending_pages = 0
        self.pager.first_page()
        self.action_reload()

    @on(Input.Changed, "#filter-text")
    def _text_changed(self, event: Input.Changed) -> None:
        self.remember_filters()
        if self.SERVER_TEXT:
            self.pager.first_page()
            self.action_reload()
        else:
            self.pager.pattern = event.value.strip()
            self.pager.redraw()

    @on(Input.Submitted, "#filter-text")
    def _text_submitted(self) -> None:
        self.pager.table.focus()

    # -- pages and rows ---------------------------------------------------
    def action_next_page(self) -> None:
        if self._inflight:  # the next cursor is the last row of a page not shown yet
            self._pending_pages += 1
        elif self.pager.next_page():
            self.action_reload()
        else:
            self.notify("this is the last page", timeout=2)

    def action_prev_page(self) -> None:
        if self._pending_pages > 0:
            self._pending_pages -= 1
        elif self.pager.prev_page():
            self.action_reload()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open(int(event.row_key.value))

    def open(self, ident: int) -> None:
        """Enter on a row (override to push a detail screen)."""

    def selected_id(self) -> int | None:
        ident = self.pager.selected_id()
        if ident is None:
            self.notify("no row selected", severity="warning", timeout=2)
        return ident
