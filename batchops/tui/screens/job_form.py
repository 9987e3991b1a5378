"""Create or edit a job: a picker of the registered callables, JSON arguments and a live cron check.

Everything that can be checked without the store is checked as it is typed:
the cron expression and zone (with the next five fire times, daylight-saving
notes included) and the JSON arguments. The service checks it all again on
save, with the callable's signature.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from batchops import clock, context
from batchops.errors import BatchOpsError
from batchops.services import jobs
from batchops.tui.display import error_line
from batchops.tui.messages import ActionDone
from batchops.tui.screens.base import BaseScreen


def cron_preview(cron: str, tz: str, n: int = 5) -> list[str]:
    """The next ``n`` fire times as display lines; raises E_CRON_INVALID / E_TIMEZONE_INVALID."""
    from datetime import datetime

    home = context.config().display_timezone
    lines = []
    for fire in jobs.preview_cron(cron, tz or home, n):
        line = fire["display"]
        if tz != home:
            line += f"  ({clock.fmt(datetime.fromisoformat(fire['utc']))})"
        if fire["note"]:
            line += f"  ⚠ {fire['note']}"
        lines.append(line)
    return lines


class JobFormScreen(BaseScreen):
    AREA = "jobs"
    HELP = "Fill in the job; the cron line shows the next five fire times as you type. ctrl+s saves, esc goes back."
    MUTATING = frozenset({"save"})
    BINDINGS = [Binding("escape", "back", "Back"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, ident: int | None = None) -> None:
        super().__init__()
        self.ident = ident
        self.callables: dict[str, dict] = {}
        self.job: dict | None = None
        self.pristine: dict | None = None  # the field values as loaded: leaving with others asks first

    @property
    def refresh_seconds(self) -> float:
        return 0

    def heading(self) -> str:
        if self.read_only:
            return f"Jobs › job {self.ident} (read-only: view only)"
        return f"Jobs › edit job {self.ident}" if self.ident else "Jobs › new job"

    def compose_main(self) -> ComposeResult:
        tz = context.config().display_timezone
        with VerticalScroll(id="job-form"):
            with Horizontal(classes="pair"):
                with Vertical():
                    yield Label("Name *")
                    yield Input(id="job-name", placeholder="e.g. nightly-backup")
                with Vertical():
                    yield Label("Callable *")
                    yield Select([], prompt="pick a registered callable", id="job-callable")
            yield Static("", id="callable-doc")
            with Horizontal(classes="pair"):
                with Vertical():
                    yield Label("Args (JSON array)")
                    yield Input("[]", id="job-args")
                with Vertical():
                    yield Label("Kwargs (JSON object)")
                    yield Input("{}", id="job-kwargs")
            yield Static("", id="args-error", classes="error", markup=False)
            with Horizontal(classes="pair"):
                with Vertical():
                    yield Label("Cron * (minute hour day month weekday)")
                    yield Input(id="job-cron", placeholder="30 6 * * 1-5")
                with Vertical():
                    yield Label("Time zone")
                    yield Input(tz, id="job-timezone")
            yield Static("", id="cron-preview", markup=False)
            with Horizontal(classes="pair"):
                with Vertical():
                    yield Label("Retries")
                    yield Input("0", id="job-retries")
                with Vertical():
                    yield Label("Timeout (s)")
                    yield Input("600", id="job-timeout")
                with Vertical():
                    yield Label("Missed runs")
                    yield Select(
                        [(p, p) for p in ("once", "skip", "all")],
                        value=context.config().worker.default_missed_policy,
                        allow_blank=False,
                        id="job-policy",
                    )
            yield Static("", id="save-error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", disabled=self.read_only)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if self.read_only:  # look, don't touch: every field is shown but none takes input
            for widget in self.query("#job-form Input, #job-form Select, #job-form TextArea, #job-form Checkbox"):
                widget.disabled = True
        else:
            self.query_one("#job-name", Input).focus()
        self.check_cron()

    # -- data ---------------------------------------------------------------
    def params(self) -> dict:
        return {"id": self.ident}

    def load(self, params: dict) -> dict:
        return {"callables": jobs.callables(), "job": jobs.show_job(params["id"]) if params["id"] else None}

    def apply(self, data: dict) -> None:
        first = not self.callables
        self.callables = {c["name"]: c for c in data["callables"]}
        select = self.query_one("#job-callable", Select)
        select.set_options([(c["name"], c["name"]) for c in data["callables"]])
        job = data["job"]
        if first and job:
            import json

            self.job = job
            self.query_one("#job-name", Input).value = job["name"]
            if job["callable"] in self.callables:
                select.value = job["callable"]
            self.query_one("#job-args", Input).value = json.dumps(job.get("args") or [])
            self.query_one("#job-kwargs", Input).value = json.dumps(job.get("kwargs") or {})
            self.query_one("#job-cron", Input).value = job["cron"]
            self.query_one("#job-timezone", Input).value = job["timezone"]
            self.query_one("#job-retries", Input).value = str(job.get("retries", 0))
            self.query_one("#job-timeout", Input).value = str(job.get("timeout_s", 600))
            self.query_one("#job-policy", Select).value = job.get("misfire_policy") or "once"
        self.show_callable()
        if first:
            self.call_after_refresh(self.mark_pristine)

    def field_values(self) -> dict:
        return {
            w.id: w.value
            for w in self.query("#job-form Input, #job-form Select")
            if isinstance(w, (Input, Select)) and w.id
        }

    def mark_pristine(self) -> None:
        self.pristine = self.field_values()

    @property
    def dirty(self) -> bool:
        return self.pristine is not None and not self.read_only and self.field_values() != self.pristine

    # -- live checks --------------------------------------------------------
    @on(Select.Changed, "#job-callable")
    def show_callable(self) -> None:
        value = self.query_one("#job-callable", Select).value
        entry = self.callables.get(value) if isinstance(value, str) else None
        doc = self.query_one("#callable-doc", Static)
        if not entry:
            doc.update(Text(f"{len(self.callables)} registered callables", style="dim"))
            return
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(style="cyan", no_wrap=True)
        table.add_column()
        table.add_row(Text(entry["name"], style="bold"), "", Text(entry.get("description") or ""))
        for arg in entry.get("args") or []:
            default = "" if arg.get("default") is None else f" = {arg['default']!r}"
            table.add_row(f"  {arg['name']}", f"{arg.get('type') or ''}{default}", arg.get("help") or "")
        if not entry.get("args"):
            table.add_row("", "", Text("takes no arguments", style="dim"))
        doc.update(table)

    @on(Input.Changed, "#job-cron, #job-timezone")
    def check_cron(self) -> list[str] | None:
        cron = self.query_one("#job-cron", Input).value
        tz = self.query_one("#job-timezone", Input).value.strip()
        out = self.query_one("#cron-preview", Static)
        if not cron.strip():
            out.update("type a cron expression to see the next five fire times")
            out.set_class(False, "error")
            return None
        try:
            lines = cron_preview(cron, tz)
        except BatchOpsError as exc:
            out.update(error_line(exc))
            out.set_class(True, "error")
            return None
        out.update("next runs:\n" + "\n".join(f"  {line}" for line in lines))
        out.set_class(False, "error")
        return lines

    @on(Input.Changed, "#job-args, #job-kwargs")
    def check_args(self) -> tuple[list, dict] | None:
        out = self.query_one("#args-error", Static)
        try:
            args = jobs.json_value(self.query_one("#job-args", Input).value, "args", list)
            kwargs = jobs.json_value(self.query_one("#job-kwargs", Input).value, "kwargs", dict)
        except BatchOpsError as exc:
            out.update(error_line(exc))
            return None
        out.update("")
        return args, kwargs

    # -- save -----------------------------------------------------------------
    def action_save(self) -> None:
        error = self.query_one("#save-error", Static)
        name = self.query_one("#job-name", Input).value.strip()
        func = self.query_one("#job-callable", Select).value
        parsed = self.check_args()
        fires = self.check_cron()
        problem = (
            "a job needs a name"
            if not name
            else "pick a callable"
            if not isinstance(func, str)
            else "fix the arguments (red line above)"
            if parsed is None
            else "fix the cron expression or time zone (red line above)"
            if fires is None
            else None
        )
        if problem:
            error.update(problem)
            return
        error.update("")
        assert parsed is not None  # else ``problem`` said so
        args, kwargs = parsed
        fields = dict(
            name=name,
            callable=func,
            cron=self.query_one("#job-cron", Input).value.strip(),
            args=args,
            kwargs=kwargs,
            timezone=self.query_one("#job-timezone", Input).value.strip() or None,
            retries=self.query_one("#job-retries", Input).value.strip() or 0,
            timeout_s=self.query_one("#job-timeout", Input).value.strip() or 600,
            misfire_policy=self.query_one("#job-policy", Select).value,
        )
        if self.ident:
            self.act("save", jobs.edit_job, self.ident, **fields, note=lambda r: f"job {r['name']} saved")
        else:
            self.act(
                "save",
                jobs.add_job,
                **fields,
                note=lambda r: f"job {r['name']} created; next run {clock.fmt(r.get('next_run_at'))}",
            )

    def action_failed(self, error: BaseException | None) -> None:
        if error is not None:
            self.query_one("#save-error", Static).update(error_line(error))

    def after_action(self, message: ActionDone) -> None:
        if message.action == "save":
            self.dismiss(True)

    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def action_back(self) -> None:
        if not self.dirty:
            self.dismiss(False)
            return
        from batchops.tui.screens.prompt import ChoiceModal

        def chosen(choice: str | None) -> None:
            if choice == "discard":
                self.dismiss(False)
            elif choice == "save":
                self.action_save()

        self.app.push_screen(
            ChoiceModal(
                "Leave with unsaved changes?",
                "The job form has changes that are not saved.",
                [("save", "Save"), ("discard", "Discard changes")],
            ),
            chosen,
        )
