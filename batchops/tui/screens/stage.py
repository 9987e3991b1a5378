"""Stage files and describe the work: pick up to five files, the department, notes and the plan.

Files come from a directory tree (CSV, workbooks and PDF only) or a typed path
(-> completes it). The staged queue is saved in ui_state at every change, so it
survives a restart. The plan's payload is checked as it is typed with the same
code the pipeline uses (``validate_plan_config``), so a bad payload never
reaches the worker. Submitting dismisses this screen with the request; the
Uploads screen runs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import Suggester, SuggestFromList
from textual.widgets import Button, DirectoryTree, Input, Label, ListItem, ListView, Select, Static, TextArea

from batchops.errors import BatchOpsError, InputError
from batchops.services import context, plans, ui_state
from batchops.tui.display import error_line
from batchops.tui.messages import StagedChanged
from batchops.tui.screens.base import BaseScreen
from batchops.tui.screens.uploads import MAX_STAGED, STAGED_KEY

SUFFIXES = {".csv", ".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".pdf"}
PAYLOAD_FIELDS = {"append": "records", "delete": "rules", "custom": "instructions"}


def plan_choices() -> list[tuple[str, str]]:
    return [(p["name"], p["name"]) for p in plans.plans()]


def plan_description(name: str) -> str:
    return plans.describe(name)


def build_plan_config(plan: str, records: str, rules: str, instructions: str, options: str) -> dict:
    """The plan's payload from the form (only the field the plan shows); InputError inline."""
    field = PAYLOAD_FIELDS.get(plan)
    return plans.plan_config(
        plan, records=records if field == "records" else None, rules=rules if field == "rules" else None,
        instructions=instructions if field == "instructions" else None, options=options)


def short_path(path: str) -> str:
    """``~/...`` for paths under the home folder (shorter, and the same on every machine)."""
    home = os.path.expanduser("~").rstrip("/")
    if home and (path == home or path.startswith(home + "/")):
        return "~" + path[len(home):]
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
                completed = "~" + completed[len(os.path.expanduser("~")):]
            return completed
        return None


class StageScreen(BaseScreen):
    AREA = "uploads"
    HELP = ("Enter on a file in the tree stages it; or type a path (→ completes) and press enter. "
            "Up to five files. Then department, notes, the plan and its payload; "
            "submit to the worker, or run now.")
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("delete", "unstage", "Unstage"),
        Binding("ctrl+s", "submit(True)", "Submit to worker"),
        Binding("ctrl+r", "submit(False)", "Run now"),
    ]

    def __init__(self, root: str | None = None) -> None:
        super().__init__()
        self.root = root or os.getcwd()
        self.staged: list[str] = []

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
                with Horizontal(classes="pair"):
                    with Vertical():
                        yield Label("Department")
                        yield Input(placeholder="e.g. Science", id="department", compact=True,
                                    suggester=SuggestFromList(departments, case_sensitive=False) if departments
                                    else None)
                    with Vertical():
                        yield Label("Notes")
                        yield Input(placeholder="free text kept with the upload", id="notes", compact=True)
                yield Label("Plan")
                yield Select(plan_choices(), value="transform", allow_blank=False, id="plan", compact=True)
                yield Static(plan_description("transform"), id="plan-about", classes="hint", markup=False)
                yield Label("Records to append (JSON object or list of objects)", id="records-label",
                            classes="payload append")
                yield TextArea('[{"student_id": "S999", "name": "New Student"}]', id="records",
                               classes="payload append")
                yield Label("Delete rules: one COLUMN=VALUE a line, or JSON", id="rules-label",
                            classes="payload delete")
                yield TextArea("student_id=S001", id="rules", classes="payload delete")
                yield Label("Instructions", id="instructions-label", classes="payload custom")
                yield Input(placeholder="what to do with this file", id="instructions", classes="payload custom",
                            compact=True)
                yield Label("Plan options (JSON object, optional)", id="options-label", classes="payload options")
                yield Input(placeholder='e.g. {"top_n": 5}', id="options", classes="payload options", compact=True)
                yield Static("", id="plan-error", classes="error", markup=False)
                with Horizontal(classes="buttons"):
                    yield Button("Submit to worker (^s)", id="submit-queue", variant="primary", compact=True)
                    yield Button("Run now (^r)", id="submit-now", variant="warning", compact=True)
                    yield Button("Clear", id="clear", compact=True)
                yield Static("", id="queue-note", classes="hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#tree", SupportedFiles).root.set_label(short_path(str(self.root)))
        self.show_payload_fields()
        self.query_one("#path", Input).focus()

    def on_screen_resume(self) -> None:
        if not self.loaded_once:  # read the saved queue once; after that this screen owns it
            super().on_screen_resume()

    # -- the staged queue (ui_state) ----------------------------------------
    def load(self, params: dict) -> list[str]:
        return list(ui_state.get(STAGED_KEY, []) or [])

    def apply(self, data: list[str]) -> None:
        self.staged = data
        self.show_staged()

    def show_staged(self) -> None:
        view = self.query_one("#staged", ListView)
        view.clear()
        for path in self.staged:
            view.append(ListItem(Label(short_path(path), markup=False)))
        self.query_one("#staged-label", Label).update(f"Staged ({len(self.staged)}/{MAX_STAGED})")
        self.validate()

    def stage(self, path: str) -> None:
        full = str(Path(os.path.expanduser(path.strip())).resolve())
        if not Path(full).is_file():
            self.notify(f"E_FILE_NOT_FOUND: not a file: {full}", severity="error", markup=False)
            return
        if Path(full).suffix.lower() not in SUFFIXES:
            self.notify(f"E_UNSUPPORTED_FILE: {Path(full).name} is not CSV, XLSX or PDF", severity="warning",
                        markup=False)
        if full in self.staged:
            self.notify(f"{Path(full).name} is already staged", timeout=2, markup=False)
            return
        if len(self.staged) >= MAX_STAGED:
            self.notify(f"at most {MAX_STAGED} files at a time; submit or unstage some first", severity="warning")
            return
        self.staged.append(full)
        self.show_staged()
        self.save_staged(list(self.staged))

    @work(thread=True, exclusive=True, exit_on_error=False, group="save")
    def save_staged(self, paths: list[str]) -> None:
        with ui_state.connection():
            ui_state.set(STAGED_KEY, paths)
        self.post_message(StagedChanged(paths))

    def on_staged_changed(self, message: StagedChanged) -> None:
        message.stop()

    @on(DirectoryTree.FileSelected)
    def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.stage(str(event.path))

    @on(Input.Submitted, "#path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.stage(event.value)
            event.input.value = ""

    def action_unstage(self) -> None:
        view = self.query_one("#staged", ListView)
        if view.index is not None and 0 <= view.index < len(self.staged):
            self.staged.pop(view.index)
            self.show_staged()
            self.save_staged(list(self.staged))

    @on(Button.Pressed, "#clear")
    def _clear(self) -> None:
        self.staged = []
        self.show_staged()
        self.save_staged([])

    # -- the plan form -------------------------------------------------------
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

    @on(Select.Changed, "#plan")
    def _plan_changed(self) -> None:
        self.show_payload_fields()
        self.validate()

    @on(TextArea.Changed)
    @on(Input.Changed, "#instructions, #options")
    def _payload_changed(self) -> None:
        self.validate()

    def plan_config(self) -> dict:
        return build_plan_config(
            self.plan, self.query_one("#records", TextArea).text, self.query_one("#rules", TextArea).text,
            self.query_one("#instructions", Input).value, self.query_one("#options", Input).value)

    def validate(self) -> dict | None:
        """Show the first problem inline; returns the payload when all is well."""
        error = self.query_one("#plan-error", Static)
        try:
            config = self.plan_config()
        except BatchOpsError as exc:
            error.update(error_line(exc))
            return None
        error.update("")
        return config

    def action_submit(self, queue: bool) -> None:
        if self.read_only:
            self.app.report(InputError("BatchOps is in read-only mode; nothing was submitted", code="E_READ_ONLY"))
            return
        config = self.validate()
        if config is None:
            self.notify("fix the plan payload first (see the red line)", severity="error")
            return
        if not self.staged:
            self.notify("stage at least one file first", severity="warning")
            return
        self.dismiss({
            "paths": list(self.staged), "queue": queue, "plan": self.plan, "plan_config": config,
            "department": self.query_one("#department", Input).value.strip(),
            "notes": self.query_one("#notes", Input).value.strip(),
        })

    @on(Button.Pressed, "#submit-queue")
    def _submit_queue(self) -> None:
        self.action_submit(True)

    @on(Button.Pressed, "#submit-now")
    def _submit_now(self) -> None:
        self.action_submit(False)

    def action_back(self) -> None:
        self.dismiss(None)
