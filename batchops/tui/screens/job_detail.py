"""One job: its schedule, what it runs, and its recent runs (enter opens a run)."""

from __future__ import annotations

import json

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from batchops.services import jobs, runs
from batchops.tui import display
from batchops.tui.screens.base import DetailScreen
from batchops.tui.widgets.cards import KeyValues
from batchops.tui.widgets.paged_table import fill_table, row_id

RECENT_RUNS = 30


class JobDetailScreen(DetailScreen):
    AREA = "jobs"
    HELP = "A job's schedule and its recent runs (enter opens a run). e edits, t triggers, p pauses or resumes."
    MUTATING = frozenset({"trigger", "pause", "resume"})
    BINDINGS = [
        Binding("e", "edit", "Edit"),
        Binding("t", "trigger", "Trigger"),
        Binding("p", "pause", "Pause"),
        Binding("p", "resume", "Resume"),
    ]

    def __init__(self, ident: int) -> None:
        super().__init__(ident)
        self.job: dict | None = None

    def heading(self) -> str:
        return f"Jobs › job {self.ident}"

    def compose_main(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            with TabPane("Overview", id="tab-overview"):
                with VerticalScroll():
                    yield KeyValues(id="job-info")
                    yield Static("Recent runs (enter opens)", classes="section")
                    yield DataTable(id="job-runs", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#job-runs", DataTable).add_columns("Run", "Status", "Trigger", "Try", "Queued", "Took", "Error")

    def load(self, params: dict) -> dict:
        return {"job": jobs.show_job(params["id"]), "runs": runs.list_runs(job_id=params["id"], limit=RECENT_RUNS)}

    def apply(self, data: dict) -> None:
        job = self.job = data["job"]
        self.set_heading(f"Jobs › job {job['id']} · {job['name']}")
        state = job.get("state") or "active"
        self.query_one("#job-info", KeyValues).show(
            [
                ("State", display.badge(state)),
                ("Callable", job.get("callable") or "-"),
                ("Arguments", f"{json.dumps(job.get('args') or [])} {json.dumps(job.get('kwargs') or {})}"),
                ("Schedule", f"{job.get('cron')} ({job.get('timezone')})"),
                ("Next run", state if state != "active" else display.when(job.get("next_run_at"))),
                ("Last run", f"{display.when(job.get('last_run_at'))} {job.get('last_status') or ''}".strip()),
                ("Timeout", display.duration(job.get("timeout_s"))),
                ("Retries", str(job.get("retries") or 0)),
                ("Missed runs", job.get("misfire_policy") or "-"),
            ]
        )
        fill_table(
            self.query_one("#job-runs", DataTable),
            [
                (
                    r["id"],
                    (
                        str(r["id"]),
                        display.badge(r.get("status")),
                        r.get("trigger") or "-",
                        str(r.get("attempt")),
                        display.when(r.get("queued_at"), compact=True),
                        display.duration(r.get("duration_s")),
                        r.get("error_code") or "",
                    ),
                )
                for r in data["runs"]
            ],
        )
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("pause", "resume"):  # the footer says what p does to this job now
            paused = bool(self.job and self.job.get("paused"))
            if self.job is None or paused != (action == "resume"):
                return False
        return super().check_action(action, parameters)

    @on(DataTable.RowSelected, "#job-runs")
    def _open_run(self, event: DataTable.RowSelected) -> None:
        from batchops.tui.screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(row_id(event.row_key)))

    def action_edit(self) -> None:
        from batchops.tui.screens.job_form import JobFormScreen

        self.app.push_screen(JobFormScreen(self.ident), callback=self.reload_if)

    def action_trigger(self) -> None:
        from batchops.tui.screens.jobs import ask_trigger

        if self.job:
            ask_trigger(self, self.job)

    def action_pause(self) -> None:
        self.act("pause", jobs.pause_job, self.ident, note=lambda r: f"job {r['name']} paused")

    def action_resume(self) -> None:
        self.act(
            "resume",
            jobs.resume_job,
            self.ident,
            note=lambda r: f"job {r['name']} resumed; next run {display.when(r.get('next_run_at'))}",
        )
