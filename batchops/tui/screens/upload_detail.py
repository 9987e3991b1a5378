"""One upload: what it is, its runs and incidents, and a preview of the published report."""

from __future__ import annotations

import csv
import io
import json

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from batchops.clock import fmt_size
from batchops.services import reports, ui_state, uploads
from batchops.tui import display
from batchops.tui.messages import ActionDone, Loaded
from batchops.tui.screens.base import DetailScreen
from batchops.tui.screens.uploads import ask_delete, ask_export, ask_retry
from batchops.tui.widgets.cards import KeyValues
from batchops.tui.widgets.paged_table import fill_table, row_id

PREVIEW_ROWS = 200


def parse_report(data: bytes, limit: int = PREVIEW_ROWS) -> tuple[list[str], list[list[str]], int]:
    """Header, the first ``limit`` rows (padded to the widest row) and the total row count."""
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    rows: list[list[str]] = []
    total = 0
    for record in reader:
        if not header:
            header = record
            continue
        total += 1
        if len(rows) < limit:
            rows.append(record)
    width = max([len(header), *(len(r) for r in rows)]) if header else 0
    header = header + [f"col{i + 1}" for i in range(len(header), width)]
    rows = [r + [""] * (width - len(r)) for r in rows]
    return header, rows, total


class UploadDetailScreen(DetailScreen):
    AREA = "uploads"
    HELP = "An upload with its runs and incidents; the Preview tab shows the published report (first 200 rows)."
    MUTATING = frozenset({"export", "retry", "delete", "edit"})
    BINDINGS = [
        Binding("p", "preview", "Preview", show=False),  # ] reaches the tab too; 80 columns need the room
        Binding("e", "edit", "Edit"),
        Binding("x", "export", "Export"),
        Binding("t", "retry", "Retry"),
        Binding("d", "delete", "Delete"),
    ]

    def __init__(self, ident: int, tab: str = "overview") -> None:
        super().__init__(ident)
        self.first_tab = tab
        self.upload: dict | None = None
        self.previewed_for: tuple | None = None

    def heading(self) -> str:
        return f"Uploads › upload {self.ident}"

    def compose_main(self) -> ComposeResult:
        with TabbedContent(id="tabs", initial=f"tab-{self.first_tab}"):
            with TabPane("Overview", id="tab-overview"):
                with VerticalScroll():
                    yield KeyValues(id="upload-info")
                    yield Static("Runs (enter opens)", classes="section")
                    yield DataTable(id="upload-runs", cursor_type="row", zebra_stripes=True)
                    yield Static("Incidents (enter opens)", classes="section")
                    yield DataTable(id="upload-incidents", cursor_type="row", zebra_stripes=True)
            with TabPane("Preview", id="tab-preview"):
                yield Static("", id="preview-note", markup=False)
                yield DataTable(id="preview", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#upload-runs", DataTable).add_columns(
            "Run", "Status", "Trigger", "Try", "Error", "Queued", "Took"
        )
        self.query_one("#upload-incidents", DataTable).add_columns("Incident", "Severity", "State", "Seen", "Title")

    def load(self, params: dict) -> dict:
        return uploads.show_upload(params["id"])

    def apply(self, up: dict) -> None:
        self.upload = up
        self.set_heading(f"Uploads › upload {up['id']} · {up['original_name']}")
        pairs = [
            ("Status", display.badge(up.get("status_label") or up.get("status"))),
            ("File", f"{up['original_name']} ({up.get('kind')}, {fmt_size(up.get('size') or 0)})"),
            ("SHA-256", up.get("sha256") or "-"),
            ("Department", up.get("department") or "-"),
            (
                "Plan",
                f"{up.get('plan')} {json.dumps(up['plan_config'], ensure_ascii=False) if up.get('plan_config') else ''}",
            ),
            ("Notes", up.get("notes") or "-"),
            ("Rows in / out", f"{display.num(up.get('rows_in'))} / {display.num(up.get('rows_out'))}"),
            ("Created", display.when(up.get("created_at"))),
            ("Published", display.when(up.get("published_at"))),
            ("Reports", "\n".join(p for p in (up.get("report_csv_path"), up.get("report_pdf_path")) if p) or "-"),
        ]
        if up.get("error_code"):
            pairs.insert(1, ("Error", f"{up['error_code']}: {up.get('error_message') or ''}"))
        if up.get("warnings"):
            pairs.insert(1, ("Warnings", "\n".join(up["warnings"])))
        self.query_one("#upload-info", KeyValues).show(pairs)
        fill_table(
            self.query_one("#upload-runs", DataTable),
            [
                (
                    r["id"],
                    (
                        str(r["id"]),
                        display.badge(r.get("status")),
                        r.get("trigger") or "-",
                        str(r.get("attempt")),
                        r.get("error_code") or "",
                        display.when(r.get("queued_at")),
                        display.duration(r.get("duration_s")),
                    ),
                )
                for r in reversed(up.get("runs") or [])
            ],
        )
        fill_table(
            self.query_one("#upload-incidents", DataTable),
            [
                (
                    i["id"],
                    (
                        str(i["id"]),
                        display.severity(i.get("severity")),
                        display.badge(i.get("state")),
                        str(i.get("occurrences")),
                        display.text(i.get("title"), 60),
                    ),
                )
                for i in reversed(up.get("incidents") or [])
            ],
        )
        if self.query_one("#tabs", TabbedContent).active == "tab-preview":
            self.load_preview()

    # -- the report preview -----------------------------------------------
    @on(TabbedContent.TabActivated)
    def _tab(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-preview":
            self.load_preview()

    def action_preview(self) -> None:
        self.query_one("#tabs", TabbedContent).active = "tab-preview"
        self.load_preview()

    def load_preview(self) -> None:
        up = self.upload
        if up is None:
            return
        key = (up["id"], up.get("status"), up.get("published_at"))
        if key == self.previewed_for:
            return
        note = self.query_one("#preview-note", Static)
        if up.get("status") != "published":
            note.update(f"No published report: the upload is {up.get('status')}.")
            return
        self.previewed_for = key
        note.update("loading the report…")
        self.fetch_preview(up["id"])

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def fetch_preview(self, upload_id: int) -> None:
        with ui_state.connection():
            data, _ = reports.report_bytes(upload_id=upload_id, fmt="csv")
        self.post_message(Loaded("preview", parse_report(data)))

    def on_loaded(self, message: Loaded) -> None:
        if message.key != "preview":
            return super().on_loaded(message)
        message.stop()
        header, rows, total = message.data
        table = self.query_one("#preview", DataTable)
        table.clear(columns=True)
        table.add_columns(*header)
        for i, row in enumerate(rows):
            table.add_row(*row, key=str(i))
        shown = f"first {len(rows)} of {total:,} rows" if total > len(rows) else f"{total:,} rows"
        self.query_one("#preview-note", Static).update(f"Published CSV report — {shown}. x exports CSV or PDF.")

    # -- actions ------------------------------------------------------------
    @on(DataTable.RowSelected, "#upload-runs")
    def _open_run(self, event: DataTable.RowSelected) -> None:
        from batchops.tui.screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(row_id(event.row_key)))

    @on(DataTable.RowSelected, "#upload-incidents")
    def _open_incident(self, event: DataTable.RowSelected) -> None:
        from batchops.tui.screens.incident_detail import IncidentDetailScreen

        self.app.push_screen(IncidentDetailScreen(row_id(event.row_key)))

    def action_export(self) -> None:
        if self.upload:
            ask_export(self, self.upload)

    def action_edit(self) -> None:
        """Department and notes before a retry (a new plan: `batchops uploads edit --plan`)."""
        from batchops.services.upload_edit import edit_upload
        from batchops.tui.screens.prompt import Field, FormModal, ask

        up = self.upload
        if not up:
            return

        def edited(values):
            self.act(
                "edit",
                edit_upload,
                up["id"],
                department=values["department"],
                notes=values["notes"],
                note=f"upload {up['id']} edited; t retries it",
            )

        ask(
            self,
            FormModal(
                f"Edit upload {up['id']}: {up['original_name']}",
                [
                    Field("department", "Department", up.get("department") or ""),
                    Field("notes", "Notes", up.get("notes") or "", multiline=True),
                ],
                submit="Save",
            ),
            edited,
        )

    def action_retry(self) -> None:
        if self.upload:
            ask_retry(self, self.upload)

    def action_delete(self) -> None:
        if self.upload:
            ask_delete(self, self.upload)

    def after_action(self, message: ActionDone) -> None:
        if message.action == "delete":
            self.action_back()
