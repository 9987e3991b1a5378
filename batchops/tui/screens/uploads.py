"""Uploads: the staged queue, the uploads table, and what to do with each upload.

Staging and the plan form live on their own screen (``n``); it hands back a
request and this screen runs it in a thread worker, so a long "run now" keeps
going (with progress in the staged strip) even when the operator looks
elsewhere.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Select, Static

from batchops.services import incidents, processing, reports, runs, ui_state, uploads, workers
from batchops.clock import fmt_size
from batchops.tui import display
from batchops.tui.messages import ActionDone, Loaded
from batchops.tui.screens.base import ListScreen
from batchops.tui.staging import MAX_STAGED, STAGED_KEY, entries, file_name
RUNS_SHOWN = 100  # an upload's runs counted in the table (the detail screen lists them all)


def linked_runs(upload_runs: list[dict]) -> Text:
    """Count and the newest run: ``2 failed #7``."""
    if not upload_runs:
        return Text("-", style="dim")
    last = upload_runs[0]
    count = f"{len(upload_runs)}{'+' if len(upload_runs) >= RUNS_SHOWN else ''}"
    return Text.assemble(f"{count} ", display.badge(last.get("status")), f" #{last['id']}")


def linked_incidents(active: list[dict]) -> Text:
    """The upload's active incident(s): ``#3 open +1``."""
    if not active:
        return Text("-", style="dim")
    top = active[0]
    more = f" +{len(active) - 1}" if len(active) > 1 else ""
    return Text.assemble(f"#{top['id']} ", display.badge(top.get("state")), more)


class UploadsScreen(ListScreen):
    AREA = "uploads"
    HELP = ("Stage up to five files (n), pick the plan, submit them to the worker or run them now. "
            "Enter opens an upload: its runs, incidents and a preview of the published report.")
    SERVER_TEXT = True
    FILTER_HINT = "/ search file names and notes"
    COLUMNS = [("id", "ID"), ("file", "File"), ("status", "Status"), ("runs", "Runs"), ("incidents", "Incidents"),
               ("department", "Department"), ("plan", "Plan"), ("rows", "Rows"), ("kind", "Kind"),
               ("created", "Created")]
    MUTATING = frozenset({"stage", "retry", "delete", "export"})
    BINDINGS = [
        Binding("n", "stage", "Stage"),
        Binding("p", "preview", "Preview"),
        Binding("x", "export", "Export"),
        Binding("t", "retry", "Retry"),
        Binding("d", "delete", "Delete"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[int, tuple[Any, list[dict]]] = {}  # upload id -> (updated_at, its runs)
        self.active_incidents: dict[int, list[dict]] = {}
        self.staged: list[dict] = []  # staging.entry dicts
        self.busy = ""

    def compose_filters(self) -> ComposeResult:
        yield Select([(s, s) for s in uploads.UPLOAD_STATUSES], prompt="status: any", id="filter-status",
                     compact=True)

    def compose_above_table(self) -> ComposeResult:
        yield Static("", id="staged-strip", markup=False)

    def cells(self, row: dict) -> list:
        upload_runs = self.links.get(row["id"], (None, []))[1]
        return [str(row["id"]), display.text(row.get("original_name"), self.wide(28)),
                display.badge(row.get("status_label") or row.get("status")),
                linked_runs(upload_runs), linked_incidents(self.active_incidents.get(row["id"], [])),
                row.get("department") or "-", row.get("plan") or "-",
                display.num(row.get("rows_out")), row.get("kind") or "-", display.when(row.get("created_at"), compact=True)]

    # -- data --------------------------------------------------------------
    def load(self, params: dict) -> dict:
        rows = uploads.list_uploads(status=params.get("status"), text=params.get("text"),
                                    limit=params["limit"], before_id=params["before_id"])
        for row in rows:  # an upload's runs change only with its status: re-read them when it was updated
            cached = self.links.get(row["id"])
            if cached is None or cached[0] != row.get("updated_at"):
                self.links[row["id"]] = (row.get("updated_at"),
                                         runs.list_runs(upload_id=row["id"], kind="pipeline", limit=RUNS_SHOWN))
        active: dict[int, list[dict]] = {}
        for incident in incidents.list_incidents(state="active", limit=1000):  # one query for the page
            if incident.get("upload_id"):
                active.setdefault(incident["upload_id"], []).append(incident)
        return {"rows": rows, "incidents": active, "staged": entries(ui_state.get(STAGED_KEY, []))}

    def apply(self, data: dict) -> None:
        self.staged = data["staged"]
        self.active_incidents = data["incidents"]
        self.pager.show_page(data["rows"])
        self.after_page()
        self.show_strip()

    def show_strip(self) -> None:
        strip = self.query_one("#staged-strip", Static)
        if self.busy:
            strip.update(f"⏳ {self.busy}")
        elif self.staged:
            names = ", ".join(file_name(item) for item in self.staged)
            strip.update(f"Staged ({len(self.staged)}/{MAX_STAGED}): {names}  — n to pick the plan and submit")
        else:
            strip.update("Nothing staged — n to stage files (CSV, XLSX, PDF)" if not self.read_only
                         else "Read-only: staging and submitting are off")

    # -- staging and submitting -------------------------------------------
    def action_stage(self) -> None:
        from batchops.tui.screens.stage import StageScreen

        self.app.push_screen(StageScreen(), callback=self.submit_request)

    def submit_request(self, request: dict | None) -> None:
        if not request:
            return
        self.busy = f"submitting {len(request['files'])} file(s)…"
        self.show_strip()
        self.submit_files(request)

    @work(thread=True, exit_on_error=False, group="submit")
    def submit_files(self, request: dict) -> None:
        """Each file with its own settings (``staging.request``); a file not taken in stays staged."""
        results, left = [], []
        files = request["files"]
        verb = "queueing" if request["queue"] else "running"
        try:
            with ui_state.connection():
                staged = {item["path"]: item for item in entries(ui_state.get(STAGED_KEY, []))}
                for n, options in enumerate(files, start=1):
                    options = dict(options)
                    path = options.pop("path")
                    self.post_message(Loaded("progress", f"{verb} {n}/{len(files)}: {path.rsplit('/', 1)[-1]}"))
                    try:
                        result = processing.process_file(path, trigger="tui", queue=request["queue"], **options)
                    except Exception as exc:  # this file could not be taken in: keep it staged, settings and all
                        left.append(staged.get(path) or {"path": path})
                        result = {"file": path, "status": "rejected", "error": display.error_line(exc)}
                    results.append({"file": path, **result})
                ui_state.set(STAGED_KEY, left)
                if request["queue"] and any(r.get("status") == "queued" for r in results):
                    note = workers.queue_note()
                    if note:
                        self.post_message(Loaded("queue-note", note))
        finally:
            self.post_message(Loaded("progress", ""))
        self.post_message(ActionDone("submit", results, summarize(results)))

    def on_loaded(self, message: Loaded) -> None:
        if message.key == "queue-note":
            message.stop()
            self.notify(message.data, title="queued, but", severity="warning", timeout=15, markup=False)
            return
        if message.key == "progress":
            message.stop()
            self.busy = message.data
            self.show_strip()
            return
        super().on_loaded(message)

    def after_action(self, message: ActionDone) -> None:
        if message.action == "submit":
            for r in message.result:
                if r.get("status") in ("failed", "rejected"):
                    self.notify(r.get("error") if isinstance(r.get("error"), str) else
                                f"{r['file'].rsplit('/', 1)[-1]}: {(r.get('error') or {}).get('code')}: "
                                f"{(r.get('error') or {}).get('message')}"
                                + (f" (incident {r['incident_id']})" if r.get("incident_id") else ""),
                                severity="error", timeout=10, markup=False)
                for w in r.get("warnings") or []:
                    self.notify(f"{r['file'].rsplit('/', 1)[-1]}: published with warnings — {w['code']}: "
                                f"{w['message']}", severity="warning", timeout=10, markup=False)
        if message.action == "delete":
            self.links.pop(message.result.get("deleted"), None)

    # -- row actions ------------------------------------------------------
    def open(self, ident: int) -> None:
        from batchops.tui.screens.upload_detail import UploadDetailScreen

        self.app.push_screen(UploadDetailScreen(ident))

    def action_preview(self) -> None:
        ident = self.selected_id()
        if ident is not None:
            from batchops.tui.screens.upload_detail import UploadDetailScreen

            self.app.push_screen(UploadDetailScreen(ident, tab="preview"))

    def action_export(self) -> None:
        row = self.pager.selected_row()
        if row:
            ask_export(self, row)

    def action_retry(self) -> None:
        row = self.pager.selected_row()
        if row:
            ask_retry(self, row)

    def action_delete(self) -> None:
        row = self.pager.selected_row()
        if row:
            ask_delete(self, row)


def summarize(results: list[dict]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        status = "published with warnings" if r.get("warnings") else r.get("status", "?")
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing submitted"


# Shared with the upload detail screen -------------------------------------------------


def ask_export(screen, row: dict) -> None:
    from batchops.tui.screens.prompt import Field, FormModal

    def check(values: dict) -> str | None:
        return None if values["path"] else "give a file or folder to write"

    def done(values: dict | None) -> None:
        if values:
            screen.act("export", reports.export, upload_id=row["id"], fmt=values["format"], out=values["path"],
                       note=lambda r: f"wrote {r['path']} ({fmt_size(r['bytes'])})")

    screen.app.push_screen(FormModal(
        f"Export the report of upload {row['id']} ({row.get('original_name')})",
        [Field("format", "Format", "csv", choices=["csv", "pdf"]),
         Field("path", "Write to (a file, or a folder for the default name)", ".", required=True)],
        submit="Export", check=check), done)


def ask_retry(screen, row: dict) -> None:
    from batchops.tui.screens.prompt import ChoiceModal

    def done(choice: str | None) -> None:
        if choice == "queue":
            screen.act("retry", processing.submit, row["id"], trigger="retry", queue=True,
                       note=lambda r: f"upload {r['upload_id']}: run {r['run_id']} queued for the worker"
                       + (f" — but {workers.queue_note()}" if workers.queue_note() else ""))
        elif choice == "now":
            screen.act("retry", processing.submit, row["id"], trigger="retry", queue=False,
                       note=lambda r: f"upload {r['upload_id']}: run {r['run_id']} {r['status']}"
                       + (f" — {r['error']['code']}: {r['error']['message']}" if r.get("error") else ""))

    screen.app.push_screen(ChoiceModal(
        f"Retry upload {row['id']} ({row.get('original_name')})?",
        "Queue it for the worker, or run the pipeline here now (it can take a few seconds).",
        [("queue", "Queue for worker"), ("now", "Run now")]), done)


def ask_delete(screen, row: dict) -> None:
    from batchops.tui.screens.confirm import TypedConfirm

    def done(ok: bool | None) -> None:
        if ok:
            screen.act("delete", uploads.delete_upload, row["id"],
                       note=lambda r: f"deleted upload {r['deleted']} ({r['original_name']})")

    screen.app.push_screen(TypedConfirm(
        f"Delete upload {row['id']}?",
        f"{row.get('original_name')}: the upload, its published reports and (unless another upload shares it) "
        "the stored original are removed. Runs and incidents stay, unlinked.",
        expected=str(row["id"])), done)
