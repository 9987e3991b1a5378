"""One incident: what happened, the known error, the timeline, the tickets, and the workflow buttons."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Static, TabbedContent, TabPane

from batchops.services import incidents
from batchops.tui import display
from batchops.tui.screens.base import DetailScreen
from batchops.tui.screens.incidents import (
    ACTION_KEYS,
    INCIDENT_BINDINGS,
    incident_action_state,
    retries,
    run_incident_action,
)
from batchops.tui.widgets.cards import KeyValues
from batchops.tui.widgets.paged_table import fill_table


class IncidentDetailScreen(DetailScreen):
    AREA = "incidents"
    HELP = "Assign, analyze, retry, resolve (with a report), archive. Buttons the current state forbids are disabled."
    MUTATING = frozenset({"incident"})
    BINDINGS = INCIDENT_BINDINGS

    def __init__(self, ident: int) -> None:
        super().__init__(ident)
        self.incident: dict | None = None

    def heading(self) -> str:
        return f"Incidents › incident {self.ident}"

    def compose_main(self) -> ComposeResult:
        with Horizontal(id="incident-actions", classes="buttons"):
            for action, key in ACTION_KEYS.items():
                yield Button(f"{action.capitalize()} ({key})", id=f"do-{action}", disabled=True, compact=True)
        with TabbedContent(id="tabs"):
            with TabPane("Overview", id="tab-overview"):
                with VerticalScroll():
                    yield KeyValues(id="incident-info")
                    yield Static("Known error", classes="section")
                    yield KeyValues(id="known-error")
            with TabPane("Timeline", id="tab-timeline"):
                yield DataTable(id="timeline", cursor_type="row", zebra_stripes=True)
            with TabPane("Tickets", id="tab-tickets"):
                yield DataTable(id="incident-tickets", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#timeline", DataTable).add_columns("When", "Actor", "Event", "State", "Message")
        self.query_one("#incident-tickets", DataTable).add_columns("Ticket", "State", "Assignee", "Title", "Resolution")
        if self.read_only:
            self.query_one("#incident-actions").display = False

    def load(self, params: dict) -> dict:
        return incidents.show_incident(params["id"])

    def apply(self, inc: dict) -> None:
        self.incident = inc
        self.set_heading(f"Incidents › incident {inc['id']} · {display.text(inc.get('title'), 70)}")
        self.query_one("#incident-info", KeyValues).show(overview_pairs(inc))
        self.query_one("#known-error", KeyValues).show(known_error_pairs(inc.get("known_error")))
        self._show_history(inc.get("events") or [], inc.get("tickets") or [])
        self._show_actions(set(inc.get("allowed_actions") or []))
        self.refresh_bindings()

    def _show_history(self, events: list[dict], tickets: list[dict]) -> None:
        """The timeline and ticket tabs, each labelled with its count."""
        fill_table(self.query_one("#timeline", DataTable), [(e["id"], timeline_row(e)) for e in events])
        fill_table(self.query_one("#incident-tickets", DataTable), [(t["id"], ticket_row(t)) for t in tickets])
        tabs = self.query_one("#tabs", TabbedContent)
        tabs.get_tab("tab-timeline").label = f"Timeline ({len(events)})"
        tabs.get_tab("tab-tickets").label = f"Tickets ({len(tickets)})"

    def _show_actions(self, allowed: set[str]) -> None:
        for action in ACTION_KEYS:
            button = self.query_one(f"#do-{action}", Button)
            button.disabled = action not in allowed
            button.display = action in allowed  # only what the state allows: the bar fits 80 columns

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "incident":
            return incident_action_state(self, self.incident, action, parameters)
        return super().check_action(action, parameters)

    def action_incident(self, action: str) -> None:
        if self.incident:
            run_incident_action(self, self.incident, action)

    @on(Button.Pressed, "#incident-actions Button")
    def _button(self, event: Button.Pressed) -> None:
        self.action_incident((event.button.id or "").removeprefix("do-"))


# ---------------------------------------------------------------- what the screen shows, from the incident dict

_TIMES = (("Opened", "opened_at"), ("Acknowledged", "acknowledged_at"), ("Resolved", "resolved_at"))
_NOTES = (
    ("Impact", "impact"),
    ("Root cause", "root_cause"),
    ("Corrective action", "corrective_action"),
    ("Resolution", "resolution"),
)


def overview_pairs(inc: dict) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = [
        ("Severity", display.severity(inc.get("severity"))),
        ("State", Text.assemble(display.badge(inc.get("state")), f"  (next: {_listed(inc.get('allowed_actions'))})")),
        ("Title", inc.get("title")),
        ("Error", _error(inc)),
        (
            "Occurrences",
            f"{inc.get('occurrences')} — first {display.when(inc.get('first_seen'))}, "
            f"last {display.when(inc.get('last_seen'))}",
        ),
        ("Auto-retry", retries(inc) + (" — escalated" if inc.get("escalated") else "")),
        ("Upload", _upload(inc.get("upload"))),
        ("Job", f"#{inc['job']['id']} {inc['job']['name']}" if inc.get("job") else "-"),
        ("Run", f"#{inc['run_id']}" if inc.get("run_id") else "-"),
        ("Assignee", _or_dash(inc, "assignee")),
        *[(label, display.when(inc.get(key))) for label, key in _TIMES],
        *[(label, _or_dash(inc, key)) for label, key in _NOTES],
    ]
    if inc.get("previous_id") or inc.get("followup_ids"):
        pairs.append(("Related", _related(inc)))
    return pairs


def _or_dash(row: dict, key: str) -> object:
    return row.get(key) or "-"


def _listed(actions: list[str] | None) -> str:
    return ", ".join(actions or []) or "nothing"


def _error(inc: dict) -> str:
    step = f" (step {inc['step']})" if inc.get("step") else ""
    return f"{inc.get('error_code') or '-'}: {inc.get('error_message') or ''}{step}"


def _upload(upload: dict | None) -> str:
    return f"#{upload['id']} {upload['original_name']} ({upload['status']})" if upload else "-"


def _related(inc: dict) -> str:
    followups = ", ".join(f"#{i}" for i in inc.get("followup_ids") or []) or "-"
    return f"previous #{inc.get('previous_id') or '-'}; follow-ups {followups}"


def known_error_pairs(ke: dict | None) -> list[tuple[str, object]]:
    if not ke:
        return [
            (
                "",
                Text("no known error matched: an unknown error (teach BatchOps with known-errors add)", style="yellow"),
            )
        ]
    retry = f"up to {ke.get('retry_max')} after {ke.get('retry_delay_s')} s" if ke.get("auto_retry") else "no"
    return [
        ("Name", ke.get("name")),
        ("Matches", f"code {ke.get('error_code') or 'any'}, pattern {ke.get('pattern') or '(any message)'}"),
        ("Root cause", _or_dash(ke, "root_cause")),
        ("Corrective action", _or_dash(ke, "corrective_action")),
        ("Auto-retry", retry),
    ]


def timeline_row(e: dict) -> tuple:
    moved = e.get("from_state") and e.get("to_state") and e["from_state"] != e["to_state"]
    state = f"{e['from_state']} → {e['to_state']}" if moved else (e.get("to_state") or "")
    return (
        display.when(e.get("at")),
        _or_dash(e, "actor"),
        _or_dash(e, "kind"),
        state,
        display.text(e.get("message"), 90),
    )


def ticket_row(t: dict) -> tuple:
    return (
        str(t["id"]),
        display.badge(t.get("state")),
        _or_dash(t, "assignee"),
        display.text(t.get("title"), 50),
        display.text(t.get("resolution"), 40),
    )
