"""Jobs: the scheduled work, its cron and zone, what it did last and what it does next."""

from __future__ import annotations

from textual.binding import Binding

from batchops.services import jobs
from batchops.tui import display
from batchops.tui.screens.base import ListScreen


class JobsScreen(ListScreen):
    AREA = "jobs"
    HELP = (
        "Scheduled jobs (cron in each job's own zone). Enter opens a job with its recent runs, n new, "
        "e edit (with the next five fire times), t trigger now, p pause/resume, d delete."
    )
    COLUMNS = [
        ("id", "ID"),
        ("name", "Name"),
        ("cron", "Cron"),
        ("next", "Next run"),
        ("last", "Last status"),
        ("paused", "Paused"),
        ("zone", "Zone"),
        ("callable", "Callable"),
        ("last_at", "Last run"),
    ]
    MUTATING = frozenset({"new", "trigger", "pause", "resume", "delete"})
    ROW_ACTIONS = True  # pause or resume, as the highlighted job is
    BINDINGS = [
        Binding("n", "new", "New"),
        Binding("e", "edit", "Edit"),
        Binding("t", "trigger", "Trigger"),
        Binding("p", "pause", "Pause"),
        Binding("p", "resume", "Resume"),
        Binding("d", "delete", "Delete"),
    ]

    def on_mount(self) -> None:
        super().on_mount()
        self.pager.page_size = 10_000  # a handful of jobs: one page, ordered by id

    def cells(self, row: dict) -> list:
        paused = "paused" if row.get("paused") else ("off" if not row.get("enabled", True) else "")
        return [
            str(row["id"]),
            display.text(row.get("name"), 26),
            row.get("cron") or "-",
            display.badge(paused) if paused else display.when(row.get("next_run_at"), compact=True),
            display.badge(row.get("last_status")),
            display.badge(paused) if paused else "",
            row.get("timezone") or "-",
            display.text(row.get("callable"), 26),
            display.when(row.get("last_run_at"), compact=True),
        ]

    def load(self, params: dict):
        return jobs.list_jobs()

    def open(self, ident: int) -> None:
        from batchops.tui.screens.job_detail import JobDetailScreen

        self.app.push_screen(JobDetailScreen(ident))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("pause", "resume"):  # the footer says Resume on a paused job
            row = self.pager.selected_row() if self.is_mounted else None
            if row is None or bool(row.get("paused")) != (action == "resume"):
                return False
        return super().check_action(action, parameters)

    def edit(self, ident: int | None) -> None:
        from batchops.tui.screens.job_form import JobFormScreen

        self.app.push_screen(JobFormScreen(ident), callback=self.reload_if)

    def action_new(self) -> None:
        self.edit(None)

    def action_edit(self) -> None:
        ident = self.selected_id()
        if ident is not None:
            self.edit(ident)

    def action_trigger(self) -> None:
        if row := self.pager.selected_row():
            ask_trigger(self, row)

    def action_pause(self) -> None:
        if row := self.pager.selected_row():
            self.act("pause", jobs.pause_job, row["id"], note=lambda r: f"job {r['name']} paused")

    def action_resume(self) -> None:
        if row := self.pager.selected_row():
            self.act(
                "resume",
                jobs.resume_job,
                row["id"],
                note=lambda r: f"job {r['name']} resumed; next run {display.when(r.get('next_run_at'))}",
            )

    def action_delete(self) -> None:
        from batchops.tui.screens.confirm import TypedConfirm
        from batchops.tui.screens.prompt import ask

        row = self.pager.selected_row()
        if not row:
            return
        ask(
            self,
            TypedConfirm(
                f"Delete job {row['id']}?",
                f"{row['name']} ({row['callable']}, {row['cron']} {row['timezone']}) stops firing; its past runs stay.",
                expected=row["name"],
            ),
            lambda _ok: self.act("delete", jobs.delete_job, row["id"], note=lambda r: f"job {r['name']} deleted"),
        )


def ask_trigger(screen, row: dict) -> None:
    from batchops.tui.screens.prompt import ChoiceModal

    def done(choice: str | None) -> None:
        if choice == "queue":
            screen.act(
                "trigger",
                jobs.trigger_job,
                row["id"],
                trigger="tui",
                note=lambda r: f"job {row['name']}: run {r['run_id']} queued for the worker",
            )
        elif choice == "now":
            screen.act(
                "trigger",
                jobs.run_job_now,
                row["id"],
                trigger="tui",
                note=lambda r: f"job {row['name']}: run {r['run_id']} {r.get('status', 'done')}",
            )

    choices = [("queue", "Queue for worker"), ("now", "Run now")]
    screen.app.push_screen(
        ChoiceModal(f"Trigger job {row['name']} now?", f"{row['callable']} runs once, outside its schedule.", choices),
        done,
    )
