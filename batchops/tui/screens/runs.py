"""Job Runs: every pipeline and job run, newest first, paged from the store."""

from __future__ import annotations

from batchops.services import runs
from batchops.tui import display
from batchops.tui.screens.base import ListScreen


def target(row: dict) -> str:
    if row.get("kind") == "pipeline":
        return f"#{row.get('upload_id') or '-'} {row.get('upload_name') or ''}".strip()
    return row.get("job_name") or (f"job {row['job_id']}" if row.get("job_id") else "-")


class RunsScreen(ListScreen):
    AREA = "runs"
    HELP = "Every pipeline and job run, newest first. Enter shows steps, findings and the log."
    COLUMNS = [
        ("id", "Run"),
        ("kind", "Kind"),
        ("status", "Status"),
        ("trigger", "Trigger"),
        ("target", "Upload / job"),
        ("attempt", "Try"),
        ("queued_at", "Queued"),
        ("duration_s", "Took"),
        ("error_code", "Error"),
    ]
    FILTERS = {"status": runs.RUN_STATUSES, "kind": runs.RUN_KINDS}

    def cells(self, row: dict) -> list:
        return [
            str(row["id"]),
            row.get("kind") or "-",
            display.badge(row.get("status")),
            row.get("trigger") or "-",
            display.text(target(row), self.wide(34)),
            str(row.get("attempt") or 1),
            display.when(row.get("queued_at"), compact=True),
            display.duration(row.get("duration_s")),
            row.get("error_code") or "",
        ]

    def load(self, params: dict):
        return runs.list_runs(
            status=params.get("status"), kind=params.get("kind"), limit=params["limit"], before_id=params["before_id"]
        )

    def open(self, ident: int) -> None:
        from batchops.tui.screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(ident))
