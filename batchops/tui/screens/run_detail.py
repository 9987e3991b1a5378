"""One run: what happened at each step, the rows in and out, the findings, the log."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from batchops.services import runs
from batchops.tui import display
from batchops.tui.screens.base import DetailScreen
from batchops.tui.widgets.cards import KeyValues
from batchops.tui.widgets.paged_table import fill_table


class RunDetailScreen(DetailScreen):
    AREA = "runs"
    HELP = "A run's steps with timings and rows in/out, its findings and its log."
    BINDINGS = [Binding("u", "open_upload", "Upload")]

    def heading(self) -> str:
        return f"Job Runs › run {self.ident}"

    def compose_main(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            with TabPane("Overview", id="tab-overview"):
                with VerticalScroll():
                    yield KeyValues(id="run-info")
                    yield Static("Steps", classes="section")
                    yield DataTable(id="steps", cursor_type="row", zebra_stripes=True)
            with TabPane("Findings", id="tab-findings"):
                yield DataTable(id="findings", cursor_type="row", zebra_stripes=True)
            with TabPane("Log", id="tab-log"):
                with VerticalScroll():
                    yield Static("", id="log", markup=False)

    def on_mount(self) -> None:
        self.query_one("#steps", DataTable).add_columns(
            "Step", "Status", "Started", "Took", "Rows in", "Rows out", "Findings", "Message"
        )
        self.query_one("#findings", DataTable).add_columns("Severity", "Code", "Where", "Column", "Message")

    def load(self, params: dict) -> dict:
        return runs.show_run(params["id"])

    def apply(self, run: dict) -> None:
        self.run_data = run
        target = (
            f"upload {run['upload_id']} {run.get('upload_name') or ''}"
            if run.get("upload_id")
            else run.get("job_name") or "-"
        )
        self.set_heading(f"Job Runs › run {run['id']} · {run['kind']} · {target}")
        pairs = [
            ("Status", display.badge(run.get("status"))),
            ("Kind / trigger", f"{run.get('kind')} / {run.get('trigger')} · attempt {run.get('attempt')}"),
            ("Target", target),
            ("Queued", display.when(run.get("queued_at"))),
            ("Started", display.when(run.get("started_at"))),
            ("Finished", display.when(run.get("finished_at"))),
            ("Took", display.duration(run.get("duration_s"))),
            ("Rows in / out", f"{display.num(run.get('rows_in'))} / {display.num(run.get('rows_out'))}"),
            ("Worker", run.get("worker_id") or "-"),
        ]
        if run.get("error_code"):
            pairs.append(("Error", f"{run['error_code']}: {run.get('error_message') or ''}"))
            pairs.append(("Failed step", run.get("failed_step") or "-"))
        self.query_one("#run-info", KeyValues).show(pairs)
        fill_table(
            self.query_one("#steps", DataTable),
            [
                (
                    i,
                    (
                        step.get("name", "?"),
                        display.badge(step.get("status")),
                        display.when(step.get("started_at"), compact=True),
                        display.duration(step.get("duration_s")),
                        display.num(step.get("rows_in")),
                        display.num(step.get("rows_out")),
                        display.num(step.get("findings_count")),
                        display.text(step.get("message"), 80),
                    ),
                )
                for i, step in enumerate(run.get("steps") or [])
            ],
        )
        fill_table(
            self.query_one("#findings", DataTable),
            [
                (
                    i,
                    (
                        display.badge(f.get("severity")),
                        f.get("code") or "",
                        f.get("location") or "",
                        f.get("column") or "",
                        display.text(f.get("message"), 100),
                    ),
                )
                for i, f in enumerate((run.get("findings") or [])[:1000])
            ],
        )
        count = len(run.get("findings") or [])
        self.query_one("#tabs", TabbedContent).get_tab("tab-findings").label = f"Findings ({count})"
        self.query_one("#log", Static).update(run.get("log") or "(no log yet)")

    def action_open_upload(self) -> None:
        run = getattr(self, "run_data", None)
        if run and run.get("upload_id"):
            from batchops.tui.screens.upload_detail import UploadDetailScreen

            self.app.push_screen(UploadDetailScreen(run["upload_id"]))
        else:
            self.notify("this run has no upload", timeout=2)
