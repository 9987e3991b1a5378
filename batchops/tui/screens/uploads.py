"""Uploads: the staged queue, the uploads table, and what to do with each upload.

Staging and the plan form live on their own screen (``n``); it hands back a
request and this screen runs it in a thread worker, so a long "run now" keeps
going (with progress in the staged strip) even when the operator looks
elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from batchops.clock import fmt_size
from batchops.services import processing, reports, ui_state, uploads, workers
from batchops.tui import display
from batchops.tui.messages import ActionDone
from batchops.tui.screens.base import ListScreen
from batchops.tui.staging import ACCEPTED, MAX_STAGED, STAGED_KEY, entries, file_name


def linked_runs(links: dict) -> Text:
    """Count and the newest run: ``2 failed #7``."""
    last = links.get("last_run")
    if not last:
        return Text("-", style="dim")
    return Text.assemble(f"{links['runs']} ", display.badge(last.get("status")), f" #{last['id']}")


def linked_incidents(links: dict) -> Text:
    """The upload's newest active incident and how many more: ``#3 open +1``."""
    top = links.get("incident")
    if not top:
        return Text("-", style="dim")
    more = f" +{links['incidents'] - 1}" if links["incidents"] > 1 else ""
    return Text.assemble(f"#{top['id']} ", display.badge(top.get("state")), more)


@dataclass(frozen=True)
class UploadsPage:
    """What one fetch read (in the worker thread): the page's uploads with their links, the staged files."""

    rows: list[dict]
    staged: list[dict]


class SubmitProgress(Message):
    """The submit worker's progress line for the staged strip (empty: done)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class QueueNote(Message):
    """Files were queued but no worker will run them soon: say why."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class UploadsScreen(ListScreen):
    AREA = "uploads"
    HELP = (
        "Stage up to five files (n), pick the plan, submit them to the worker or run them now. "
        "Enter opens an upload: its runs, incidents and a preview of the published report."
    )
    SERVER_TEXT = True
    FILTER_HINT = "/ search file names and notes"
    COLUMNS = [
        ("id", "ID"),
        ("file", "File"),
        ("status", "Status"),
        ("runs", "Runs"),
        ("incidents", "Incidents"),
        ("department", "Department"),
        ("plan", "Plan"),
        ("rows", "Rows"),
        ("kind", "Kind"),
        ("created", "Created"),
    ]
    FILTERS = {"status": uploads.UPLOAD_STATUSES}
    MUTATING = frozenset({"stage", "retry", "delete", "export"})
    BINDINGS = [
        Binding("n", "stage", "Stage"),
        Binding("p", "preview", "Preview"),
        Binding("x", "export", "Export"),
        Binding("t", "retry", "Retry"),
        Binding("d", "delete", "Delete"),
    ]

    # The staged strip shows these two; set them on the UI thread only (apply, message handlers).
    staged: reactive[list[dict]] = reactive(list, init=False)  # staging.entry dicts
    busy: reactive[str] = reactive("", init=False)

    def compose_above_table(self) -> ComposeResult:
        yield Static(self.strip_text(), id="staged-strip", markup=False)

    def cells(self, row: dict) -> list:
        links = row.get("links") or {}
        return [
            str(row["id"]),
            display.text(row.get("original_name"), self.wide(28)),
            display.badge(row.get("status_label") or row.get("status")),
            linked_runs(links),
            linked_incidents(links),
            row.get("department") or "-",
            row.get("plan") or "-",
            display.num(row.get("rows_out")),
            row.get("kind") or "-",
            display.when(row.get("created_at"), compact=True),
        ]

    # -- data --------------------------------------------------------------
    def load(self, params: dict) -> UploadsPage:
        """Worker thread: read only, touch no screen state (``apply`` shows it on the UI thread)."""
        rows = uploads.list_uploads(
            status=params.get("status"),
            text=params.get("text"),
            limit=params["limit"],
            before_id=params["before_id"],
            links=True,
        )
        return UploadsPage(rows, entries(ui_state.get(STAGED_KEY, [])))

    def apply(self, data: UploadsPage) -> None:
        self.staged = data.staged
        self.pager.show_page(data.rows)
        self.after_page()

    def watch_staged(self) -> None:
        self.show_strip()

    def watch_busy(self) -> None:
        self.show_strip()

    def strip_text(self) -> str:
        if self.busy:
            return f"⏳ {self.busy}"
        if self.staged:
            names = ", ".join(file_name(item) for item in self.staged)
            return f"Staged ({len(self.staged)}/{MAX_STAGED}): {names}  — n to pick the plan and submit"
        return f"Nothing staged — n: {ACCEPTED}" if not self.read_only else "Read-only: staging and submitting are off"

    def show_strip(self) -> None:
        if self.is_mounted:
            self.query_one("#staged-strip", Static).update(self.strip_text())

    # -- staging and submitting -------------------------------------------
    def action_stage(self) -> None:
        from batchops.tui.screens.stage import StageScreen

        self.app.push_screen(StageScreen(), callback=self.submit_request)

    def submit_request(self, request: dict | None) -> None:
        if not request:
            return
        self.busy = f"submitting {len(request['files'])} file(s)…"
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
                    self.post_message(SubmitProgress(f"{verb} {n}/{len(files)}: {path.rsplit('/', 1)[-1]}"))
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
                        self.post_message(QueueNote(note))
        finally:
            self.post_message(SubmitProgress(""))
        self.post_message(ActionDone("submit", results, summarize(results)))

    def on_submit_progress(self, message: SubmitProgress) -> None:
        message.stop()
        self.busy = message.text

    def on_queue_note(self, message: QueueNote) -> None:
        message.stop()
        self.notify(message.text, title="queued, but", severity="warning", timeout=15, markup=False)

    def after_action(self, message: ActionDone) -> None:
        if message.action == "submit":
            for r in message.result:
                if r.get("status") in ("failed", "rejected"):
                    self.notify(
                        r.get("error")
                        if isinstance(r.get("error"), str)
                        else f"{r['file'].rsplit('/', 1)[-1]}: {(r.get('error') or {}).get('code')}: "
                        f"{(r.get('error') or {}).get('message')}"
                        + (f" (incident {r['incident_id']})" if r.get("incident_id") else ""),
                        severity="error",
                        timeout=10,
                        markup=False,
                    )
                for w in r.get("warnings") or []:
                    self.notify(
                        f"{r['file'].rsplit('/', 1)[-1]}: published with warnings — {w['code']}: {w['message']}",
                        severity="warning",
                        timeout=10,
                        markup=False,
                    )

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
        if row := self.pager.selected_row():
            ask_export(self, row)

    def action_retry(self) -> None:
        if row := self.pager.selected_row():
            ask_retry(self, row)

    def action_delete(self) -> None:
        if row := self.pager.selected_row():
            ask_delete(self, row)


def summarize(results: list[dict]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        status = "published with warnings" if r.get("warnings") else r.get("status", "?")
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing submitted"


# Shared with the upload detail screen -------------------------------------------------


def ask_export(screen, row: dict) -> None:
    from batchops.tui.screens.prompt import Field, FormModal, ask

    def check(values: dict) -> str | None:
        return None if values["path"] else "give a file or folder to write"

    def done(values: dict) -> None:
        screen.act(
            "export",
            reports.export,
            upload_id=row["id"],
            fmt=values["format"],
            out=values["path"],
            note=lambda r: f"wrote {r['path']} ({fmt_size(r['bytes'])})",
        )

    ask(
        screen,
        FormModal(
            f"Export the report of upload {row['id']} ({row.get('original_name')})",
            [
                Field("format", "Format", "csv", choices=["csv", "pdf"]),
                Field("path", "Write to (a file, or a folder for the default name)", ".", required=True),
            ],
            submit="Export",
            check=check,
        ),
        done,
    )


def ask_retry(screen, row: dict) -> None:
    from batchops.tui.screens.prompt import ChoiceModal

    def done(choice: str | None) -> None:
        if choice == "queue":
            screen.act(
                "retry",
                processing.submit,
                row["id"],
                trigger="retry",
                queue=True,
                note=lambda r: (
                    f"upload {r['upload_id']}: run {r['run_id']} queued for the worker"
                    + (f" — but {workers.queue_note()}" if workers.queue_note() else "")
                ),
            )
        elif choice == "now":
            screen.act(
                "retry",
                processing.submit,
                row["id"],
                trigger="retry",
                queue=False,
                note=lambda r: (
                    f"upload {r['upload_id']}: run {r['run_id']} {r['status']}"
                    + (f" — {r['error']['code']}: {r['error']['message']}" if r.get("error") else "")
                ),
            )

    screen.app.push_screen(
        ChoiceModal(
            f"Retry upload {row['id']} ({row.get('original_name')})?",
            "Queue it for the worker, or run the pipeline here now (it can take a few seconds).",
            [("queue", "Queue for worker"), ("now", "Run now")],
        ),
        done,
    )


def ask_delete(screen, row: dict) -> None:
    from batchops.tui.screens.confirm import TypedConfirm
    from batchops.tui.screens.prompt import ask

    ask(
        screen,
        TypedConfirm(
            f"Delete upload {row['id']}?",
            f"{row.get('original_name')}: the upload, its published reports and (unless another upload shares it) "
            "the stored original are removed. Runs and incidents stay, unlinked.",
            expected=str(row["id"]),
        ),
        lambda _ok: screen.act(
            "delete",
            uploads.delete_upload,
            row["id"],
            note=lambda r: f"deleted upload {r['deleted']} ({r['original_name']})",
        ),
    )
