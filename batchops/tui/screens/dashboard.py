"""Dashboard: the numbers an operator checks first thing in the morning."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Sparkline, Static

from batchops import clock
from batchops.services import health, incidents
from batchops.tui import display
from batchops.tui.screens.base import BaseScreen
from batchops.tui.typed_app import batchops_app
from batchops.tui.widgets.cards import Card
from batchops.tui.widgets.paged_table import fill_table, row_id

SEVERITY_ORDER = ("critical", "high", "medium", "low")


def seconds(value: float | None) -> str:
    return "-" if value is None else display.duration(value)


def bar(n: int, top: int, width: int = 20) -> str:
    return "█" * (max(1, round(width * n / top)) if n and top else 0)


class DashboardScreen(BaseScreen):
    AREA = "dashboard"
    HELP = (
        "Today's uploads, the last 24 h of runs, open incidents, response times, health of the store, "
        "queue and workers. Enter on an incident opens it."
    )

    @property
    def refresh_seconds(self) -> float:
        base = super().refresh_seconds
        return base and max(base, 5.0)  # health runs an integrity check: not every 3 s

    def compose_main(self) -> ComposeResult:
        with VerticalScroll(id="dashboard"):
            with Horizontal(id="kpis"):
                yield Card("Uploads", id="kpi-uploads")
                yield Card("Runs 24h", id="kpi-runs")
                yield Card("Incidents", id="kpi-incidents")
                yield Card("MTTA", id="kpi-mtta")
                yield Card("MTTR", id="kpi-mttr")
            with Horizontal(id="panels"):
                with Vertical(id="health-panel", classes="panel"):
                    yield Static("", id="health")
                with Vertical(id="steps-panel", classes="panel"):
                    yield Static("", id="failures")
                with Vertical(id="known-panel", classes="panel"):
                    yield Static("", id="top-known")
            with Vertical(id="spark-panel", classes="panel"):
                yield Sparkline([], id="spark")
                yield Static("", id="spark-note", markup=False)
            with Vertical(id="latest-panel", classes="panel"):
                yield DataTable(id="latest", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#health-panel").border_title = "Health"
        self.query_one("#steps-panel").border_title = "Failures by step"
        self.query_one("#spark-panel").border_title = "Runs per day"
        self.query_one("#latest-panel").border_title = "Latest incidents (enter opens)"
        self.query_one("#known-panel").border_title = "Top known errors"
        self.query_one("#latest", DataTable).add_columns("ID", "Severity", "State", "Title", "Seen", "Last seen")

    def load(self, params: dict) -> dict:
        from batchops.services import dashboard

        return {"dash": dashboard.dashboard(), "health": health.health(), "latest": incidents.list_incidents(limit=8)}

    def apply(self, data: dict) -> None:
        dash, checks = data["dash"], data["health"]
        up = dash.get("uploads_today") or {}
        waiting = up.get("queued", 0) + up.get("processing", 0) + up.get("staged", 0)
        self.query_one("#kpi-uploads", Card).set(
            f"{up.get('total', 0)} today",
            f"{up.get('published', 0)} ok · {up.get('failed', 0)} failed"
            + (f" · {waiting} waiting" if waiting else ""),
        )
        runs = dash.get("runs_24h") or {}
        rate = runs.get("success_rate")
        self.query_one("#kpi-runs", Card).set(
            "-" if rate is None else f"{rate:.0%} ok",
            f"{runs.get('total', 0)} runs · {runs.get('failed', 0)} failed",
            style="green" if rate is not None and rate >= 0.95 else ("red" if rate is not None else ""),
        )
        inc = dash.get("incidents_open") or {}
        by_sev = inc.get("by_severity") or {}
        self.query_one("#kpi-incidents", Card).set(
            f"{inc.get('total', 0)} open",
            " ".join(f"{by_sev[s]} {s}" for s in SEVERITY_ORDER if by_sev.get(s)) or "all clear",
            style="bold red" if by_sev.get("critical") or by_sev.get("high") else "",
        )
        overall = ((dash.get("response") or {}).get("overall")) or {}
        self.query_one("#kpi-mtta", Card).set(seconds(overall.get("mtta_s")), f"{overall.get('acknowledged', 0)} acked")
        self.query_one("#kpi-mttr", Card).set(seconds(overall.get("mttr_s")), f"{overall.get('resolved', 0)} resolved")
        self.query_one("#health", Static).update(self.health_text(checks))
        self.query_one("#failures", Static).update(self.failures_text(dash.get("failures_by_step") or {}))
        days = dash.get("runs_per_day") or []
        self.query_one("#spark", Sparkline).data = [float(d.get("total", 0)) for d in days] or [0.0]
        if days:
            today = days[-1]
            self.query_one("#spark-note", Static).update(
                f"{days[0]['date']} → {today['date']}: {sum(d.get('total', 0) for d in days)} runs, "
                f"{sum(d.get('failed', 0) for d in days)} failed · today {today.get('total', 0)}"
            )
        fill_table(
            self.query_one("#latest", DataTable),
            [
                (
                    i["id"],
                    (
                        str(i["id"]),
                        display.severity(i.get("severity")),
                        display.badge(i.get("state")),
                        display.text(i.get("title"), self.wide(40)),
                        f"×{i.get('occurrences') or 1}",
                        display.when(i.get("last_seen"), compact=True),
                    ),
                )
                for i in data["latest"]
            ],
        )
        self.query_one("#top-known", Static).update(self.known_text(dash.get("top_known_errors") or [], self.wide(30)))

    @staticmethod
    def health_text(result: dict) -> Table:
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True)
        table.add_column()
        healthy = result.get("healthy")
        table.add_row(
            Text("●", style="green" if healthy else "red"), Text("healthy" if healthy else "NOT healthy", style="bold")
        )
        for name, check in (result.get("checks") or {}).items():
            ok = check.get("ok")
            table.add_row(Text("✓" if ok else "✗", style="green" if ok else "red"), Text(describe_check(name, check)))
        return table

    @staticmethod
    def failures_text(steps: dict) -> Table:
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True, min_width=11)
        table.add_column(justify="right", no_wrap=True, min_width=3)
        table.add_column(style="red", no_wrap=True, overflow="crop", max_width=8)
        top = max(steps.values() or [0])
        for step, n in steps.items():
            table.add_row(step, Text(str(n), style="bold red" if n else "dim"), bar(n, top, 8))
        return table

    @staticmethod
    def known_text(rows: list[dict], width: int = 30) -> Table | Text:
        if not rows:
            return Text("no failures in the window", style="dim")
        table = Table.grid(padding=(0, 1))
        table.add_column(justify="right")
        table.add_column()
        for row in rows:
            table.add_row(
                f"×{row.get('occurrences', 0)}",
                Text.assemble(display.severity(row.get("severity")), " ", display.text(row.get("name"), width)),
            )
        return table

    @on(DataTable.RowSelected, "#latest")
    def _open_incident(self, event: DataTable.RowSelected) -> None:
        batchops_app(self.app).open_item("incidents", row_id(event.row_key))


def describe_check(name: str, check: dict) -> str:
    """One line per health check; the worker and queue checks may carry more detail."""
    if check.get("error"):
        return f"{name}: {check['error']}"
    if name == "store":
        return (
            f"store: schema v{check.get('schema_version')}"
            f"{'' if check.get('schema_current', True) else ' (outdated)'}, {check.get('journal_mode', '')}, "
            f"integrity {check.get('integrity', '?')}"
        )
    if name == "queue":
        depth = check.get("depth", check.get("pending"))
        return f"queue: {depth if depth is not None else '?'} waiting" + (
            f", {check['scheduled']} scheduled" if check.get("scheduled") is not None else ""
        )
    if name == "workers":
        online = check.get("online")
        workers = online if isinstance(online, list) else check.get("workers") or []
        count = check.get("count", len(workers) if isinstance(online, list) else online or 0)
        text = f"workers: {count} online"
        last = check.get("last_heartbeat") or max(
            (w.get("last_seen") for w in workers if w.get("last_seen")), default=None, key=str
        )
        if last:
            text += f", last heartbeat {display.when(last)}"
            if not isinstance(last, str):
                text += f" ({clock.ago(last)})"
        for w in workers[:3]:
            text += f"\n  {w.get('worker_id', '?')} ({w.get('workers', 1)} threads)"
        if check.get("note"):
            text += f"\n{check['note']}"
        return text
    details = ", ".join(f"{k} {v}" for k, v in check.items() if k != "ok" and not isinstance(v, (dict, list)))
    return f"{name}: {details}" if details else name
