"""Stage files and describe the work: pick up to five files, each with its department, notes and plan.

Files come from a directory tree (CSV, workbooks, PDF and scans only) or a typed path
(-> completes it). The form below the staged list edits the highlighted file
only; "Apply to all" copies its settings to every staged file. The queue is
saved in ui_state at every change, so it survives a restart. Each file's
payload is checked as it is typed with the same code the pipeline uses, so a
bad payload never reaches the worker. Submitting dismisses this screen with
the request; the Uploads screen runs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import Suggester, SuggestFromList
from textual.widgets import Button, Checkbox, DirectoryTree, Input, Label, ListItem, ListView, Select, Static, TextArea

from batchops import context
from batchops.errors import BatchOpsError, InputError
from batchops.services import plans, ui_state
from batchops.tui import staging
from batchops.tui.display import error_line
from batchops.tui.messages import StagedChanged
from batchops.tui.screens.base import BaseScreen
from batchops.tui.staging import ACCEPTED, MAX_STAGED, PAYLOAD_FIELDS, STAGED_KEY, SUFFIXES
from batchops.tui.typed_app import batchops_app


def plan_choices() -> list[tuple[str, str]]:
    return [(p["name"], p["name"]) for p in plans.plans()]


def plan_description(name: str) -> str:
    return plans.describe(name)


def build_plan_config(plan: str, records: str, rules: str, instructions: str, options: str) -> dict:
    """The plan's payload from the form (only the field the plan shows); InputError inline."""
    return staging.plan_config(
        {"plan": plan, "records": records, "rules": rules, "instructions": instructions, "options": options}
    )


def short_path(path: str) -> str:
    """``~/...`` for paths under the home folder (shorter, and the same on every machine)."""
    home = os.path.expanduser("~").rstrip("/")
    if home and (path == home or path.startswith(home + "/")):
        return "~" + path[len(home) :]
    return path


class SupportedFiles(DirectoryTree):
    """Folders and the files the pipeline reads; hidden entries left out."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        out = []
        for path in paths:
            if path.name.startswith("."):
                continue
            try:
                if path.is_dir() or path.suffix.lower() in SUFFIXES:
                    out.append(path)
            except OSError:
                continue
        return out


class PathSuggester(Suggester):
    """Completes a typed path: folders (with a trailing /) and supported files."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        expanded = os.path.expanduser(value)
        folder, prefix = os.path.split(expanded)
        try:
            entries = sorted(os.scandir(folder or "."), key=lambda e: e.name)
        except OSError:
            return None
        for entry in entries:
            if not entry.name.startswith(prefix) or entry.name == prefix or entry.name.startswith("."):
                continue
            is_dir = entry.is_dir()
            if not is_dir and Path(entry.name).suffix.lower() not in SUFFIXES:
                continue
            completed = os.path.join(folder, entry.name) + ("/" if is_dir else "")
            if value.startswith("~"):
                completed = "~" + completed[len(os.path.expanduser("~")) :]
            return completed
        return None


class StageScreen(BaseScreen):
    AREA = "uploads"
    HELP = (
        "Enter on a file in the tree stages it; or type a path (→ completes) and press enter. "
        "Up to five files. Each staged file has its own department, notes, plan and payload: highlight "
        'a file in the staged list to edit its settings; "Apply to all" copies them to every staged file. '
        "Then submit to the worker, or run now."
    )
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("delete", "unstage", "Unstage"),
        Binding("ctrl+s", "submit(True)", "Submit to worker"),
        Binding("ctrl+r", "submit(False)", "Run now"),
    ]

    def __init__(self, root: str | None = None) -> None:
        super().__init__()
        self.root = root or os.getcwd()
        self.files: list[dict] = []  # staged files, each with its own settings (staging.entry)
        self.current: int | None = None  # the file the form edits

    @property
    def staged(self) -> list[str]:
        return [item["path"] for item in self.files]

    @property
    def refresh_seconds(self) -> float:
        return 0  # a form: nothing to poll

    def heading(self) -> str:
        return "Uploads › stage files and submit"

    def compose_main(self) -> ComposeResult:
        departments = sorted(context.config().departments)
        with Horizontal(id="stage"):
            with Vertical(id="picker"):
                yield Label("Pick a file (enter stages it)")
                yield SupportedFiles(self.root, id="tree")
            with VerticalScroll(id="stage-form"):
                yield Label("Or type a path (→ completes, enter stages)")
                yield Input(placeholder="~/Downloads/marks.csv", suggester=PathSuggester(), id="path", compact=True)
                yield Label(f"Staged (0/{MAX_STAGED})", id="staged-label")
                yield ListView(id="staged")
                yield Static("", id="file-heading", classes="section", markup=False)
                with Vertical(id="file-form"):
                    yield from self.compose_file_form(departments)
                yield Static("", id="plan-error", classes="error", markup=False)
                with Horizontal(classes="buttons"):
                    yield Button("Submit to worker (^s)", id="submit-queue", variant="primary", compact=True)
                    yield Button("Run now (^r)", id="submit-now", variant="warning", compact=True)
                    yield Button("Clear", id="clear", compact=True)
                yield Static("", id="queue-note", classes="hint", markup=False)

    def compose_file_form(self, departments: list[str]) -> ComposeResult:
        """The highlighted file's settings: each widget's id is its key in ``staging.DEFAULTS``."""
        with Horizontal(classes="pair"):
            with Vertical():
                yield Label("Department")
                yield Input(
                    placeholder="e.g. Science",
                    id="department",
                    compact=True,
                    suggester=SuggestFromList(departments, case_sensitive=False) if departments else None,
                )
            with Vertical():
                yield Label("Notes")
                yield Input(placeholder="free text kept with the upload", id="notes", compact=True)
            with Vertical():
                yield Label("PDF table")
                yield Input(placeholder="N (when a PDF has several)", id="table", type="integer", compact=True)
        yield Label("Plan")
        yield Select(plan_choices(), value="transform", allow_blank=False, id="plan", compact=True)
        yield Static(plan_description("transform"), id="plan-about", classes="hint", markup=False)
        # examples are placeholders, never content: an untouched box is empty (and refused)
        yield Label("Records to append (JSON object or list of objects)", id="records-label", classes="payload append")
        yield TextArea(
            id="records", classes="payload append", placeholder='e.g. [{"student_id": "S041", "name": "Asha Rao"}]'
        )
        yield Label("Delete rules: one COLUMN=VALUE a line, or JSON", id="rules-label", classes="payload delete")
        yield TextArea(id="rules", classes="payload delete", placeholder="e.g. student_id=S001")
        yield Label("Instructions", id="instructions-label", classes="payload custom")
        yield Input(placeholder="what to do with this file", id="instructions", classes="payload custom", compact=True)
        yield Label("Plan options (JSON object, optional)", id="options-label", classes="payload options")
        yield Input(placeholder='e.g. {"top_n": 5}', id="options", classes="payload options", compact=True)
        yield Button("Apply these settings to all staged files", id="apply-all", compact=True)

    def on_mount(self) -> None:
        self.query_one("#tree", SupportedFiles).root.set_label(short_path(str(self.root)))
        self.show_payload_fields()
        self.show_current()
        self.query_one("#path", Input).focus()

    def on_screen_resume(self) -> None:
        if not self.loaded_once:  # read the saved queue once; after that this screen owns it
            super().on_screen_resume()

    # -- the staged queue (ui_state) ----------------------------------------
    def load(self, params: dict) -> list[dict]:
        return staging.entries(ui_state.get(STAGED_KEY, []))

    def apply(self, data: list[dict]) -> None:
        self.files = data
        self.call_later(self.show_staged, 0 if data else None)

    async def show_staged(self, select: int | None = None) -> None:
        """Rebuild the staged list, then show file ``select`` in the form."""
        view = self.query_one("#staged", ListView)
        await view.clear()
        await view.extend(ListItem(Label(self.item_label(i), markup=False)) for i in range(len(self.files)))
        self.query_one("#staged-label", Label).update(
            f"Staged ({len(self.files)}/{MAX_STAGED}) — the form below edits the highlighted file"
        )
        if select is not None and self.files:
            self.select_file(min(select, len(self.files) - 1))
            view.index = self.current
        else:
            self.current = None
            self.show_current()

    def item_label(self, index: int) -> str:
        return f"{index + 1}. {staging.label(self.files[index])}"

    def relabel(self, index: int) -> None:
        items = list(self.query_one("#staged", ListView).query(ListItem))
        if 0 <= index < len(items):
            items[index].query_one(Label).update(self.item_label(index))

    async def stage(self, path: str) -> None:
        full = str(Path(os.path.expanduser(path.strip())).resolve())
        if not Path(full).is_file():
            self.notify(f"E_FILE_NOT_FOUND: not a file: {full}", severity="error", markup=False)
            return
        if Path(full).suffix.lower() not in SUFFIXES:
            self.notify(f"E_UNSUPPORTED_FILE: {Path(full).name} is not {ACCEPTED}", severity="warning", markup=False)
        if full in self.staged:
            self.notify(f"{Path(full).name} is already staged", timeout=2, markup=False)
            return
        if len(self.files) >= MAX_STAGED:
            self.notify(f"at most {MAX_STAGED} files at a time; submit or unstage some first", severity="warning")
            return
        self.files.append(staging.entry(full))  # its own settings, starting from the defaults
        self.select_file(len(self.files) - 1)  # now, so what is typed next goes to this file
        self.save_staged()
        await self.show_staged(len(self.files) - 1)

    def save_staged(self) -> None:
        self._save([dict(item) for item in self.files])

    @work(thread=True, exclusive=True, exit_on_error=False, group="save")
    def _save(self, files: list[dict]) -> None:
        with ui_state.connection():
            ui_state.set(STAGED_KEY, files)
        self.post_message(StagedChanged(files))

    def on_staged_changed(self, message: StagedChanged) -> None:
        message.stop()

    @on(DirectoryTree.FileSelected)
    async def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        await self.stage(str(event.path))

    @on(Input.Submitted, "#path")
    async def _path_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            event.input.value = ""
            await self.stage(event.value)

    async def action_unstage(self) -> None:
        view = self.query_one("#staged", ListView)
        if view.index is not None and 0 <= view.index < len(self.files):
            self.files.pop(view.index)
            self.current = None
            self.save_staged()
            await self.show_staged(view.index if self.files else None)

    @on(Button.Pressed, "#clear")
    async def _clear(self) -> None:
        self.files = []
        self.current = None
        self.save_staged()
        await self.show_staged()

    # -- the highlighted file's form -----------------------------------------
    @on(ListView.Highlighted, "#staged")
    def _highlighted(self, event: ListView.Highlighted) -> None:
        index = event.list_view.index
        if index is not None and 0 <= index < len(self.files) and index != self.current:
            self.select_file(index)

    def select_file(self, index: int) -> None:
        self.current = index
        self.fill_form(self.files[index])
        self.show_current()

    def show_current(self) -> None:
        heading = self.query_one("#file-heading", Static)
        form = self.query_one("#file-form")
        if self.current is None:
            heading.update("Stage a file to set its department, plan and payload")
            form.disabled = True
        else:
            name = staging.file_name(self.files[self.current])
            heading.update(f"Settings for {name} ({self.current + 1} of {len(self.files)}) — this file only")
            form.disabled = False
        self.validate()

    def field_widgets(self) -> dict[str, Any]:
        return {key: self.query_one(f"#{key}") for key in staging.DEFAULTS}

    def form_values(self) -> dict:
        return {key: read_value(widget, staging.DEFAULTS[key]) for key, widget in self.field_widgets().items()}

    def fill_form(self, item: dict) -> None:
        for key, widget in self.field_widgets().items():
            if read_value(widget, staging.DEFAULTS[key]) != item.get(key):
                write_value(widget, item.get(key, staging.DEFAULTS[key]))
        self.show_payload_fields()

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _form_changed(self, event) -> None:
        if event.control.id not in staging.DEFAULTS:
            return  # the path box
        if event.control.id == "plan":
            self.show_payload_fields()
        if self.current is not None and self.current < len(self.files):
            item = self.files[self.current]
            values = self.form_values()
            if any(item.get(k) != v for k, v in values.items()):
                item.update(values)
                self.relabel(self.current)
                self.save_staged()
        self.validate()

    @on(Button.Pressed, "#apply-all")
    def action_apply_all(self) -> None:
        if self.current is None:
            return
        chosen = staging.settings(self.files[self.current])
        for index, item in enumerate(self.files):
            item.update(chosen)
            self.relabel(index)
        self.save_staged()
        self.notify(
            f"applied {chosen['department'] or 'no department'} · {chosen['plan']} to all "
            f"{len(self.files)} staged file(s)",
            timeout=4,
            markup=False,
        )

    @property
    def plan(self) -> str:
        value = self.query_one("#plan", Select).value
        return value if isinstance(value, str) else "transform"

    def show_payload_fields(self) -> None:
        plan = self.plan
        self.query_one("#plan-about", Static).update(plan_description(plan))
        kind = PAYLOAD_FIELDS.get(plan)
        for widget in self.query(".payload"):
            wanted = (kind and widget.has_class(plan)) or (not kind and widget.has_class("options"))
            widget.display = bool(wanted)

    def plan_config(self) -> dict:
        return staging.plan_config(self.form_values())

    def validate(self) -> dict | None:
        """Show the highlighted file's first problem inline; returns its payload when all is well."""
        error = self.query_one("#plan-error", Static)
        if self.current is None:
            error.update("")
            return None
        try:
            config = self.plan_config()
        except BatchOpsError as exc:
            error.update(error_line(exc))
            return None
        error.update("")
        return config

    def action_submit(self, queue: bool) -> None:
        if self.read_only:
            batchops_app(self.app).report(
                InputError("BatchOps is in read-only mode; nothing was submitted", code="E_READ_ONLY")
            )
            return
        if not self.files:
            self.notify("stage at least one file first", severity="warning")
            return
        requests = []
        for index, item in enumerate(self.files):
            try:
                requests.append(staging.request(item))
            except BatchOpsError as exc:  # show the file it is about, with its form
                self.select_file(index)
                self.query_one("#staged", ListView).index = index
                self.notify(
                    f"{staging.file_name(item)}: {error_line(exc)} — nothing was submitted",
                    severity="error",
                    markup=False,
                )
                return
        self.dismiss({"files": requests, "queue": queue})

    @on(Button.Pressed, "#submit-queue")
    def _submit_queue(self) -> None:
        self.action_submit(True)

    @on(Button.Pressed, "#submit-now")
    def _submit_now(self) -> None:
        self.action_submit(False)

    def action_back(self) -> None:
        self.dismiss(None)


def read_value(widget, default: Any) -> Any:
    """A form widget's value, whatever its kind (a new field type needs a line here)."""
    if isinstance(widget, TextArea):
        return widget.text
    if isinstance(widget, Select):
        return widget.value if widget.value not in (Select.NULL, None) else default
    return widget.value  # Input, Checkbox, Switch


def write_value(widget, value: Any) -> None:
    if isinstance(widget, TextArea):
        widget.text = value or ""
    else:
        widget.value = value
