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
        self.query_one("#incident-tickets", DataTable).add_columns("Ticket", "State", "Assignee", "Title",
                                                                   "Resolution")
        if self.read_only:
            self.query_one("#incident-actions").display = False

    def load(self, params: dict) -> dict:
        return incidents.show_incident(params["id"])

    def apply(self, inc: dict) -> None:
        self.incident = inc
        self.set_heading(f"Incidents › incident {inc['id']} · {display.text(inc.get('title'), 70)}")
        upload = inc.get("upload")
        job = inc.get("job")
        pairs = [
            ("Severity", display.severity(inc.get("severity"))),
            ("State", Text.assemble(display.badge(inc.get("state")),
                                    f"  (next: {', '.join(inc.get('allowed_actions') or []) or 'nothing'})")),
            ("Title", inc.get("title")),
            ("Error", f"{inc.get('error_code') or '-'}: {inc.get('error_message') or ''}"
                      + (f" (step {inc['step']})" if inc.get("step") else "")),
            ("Occurrences", f"{inc.get('occurrences')} — first {display.when(inc.get('first_seen'))}, "
                            f"last {display.when(inc.get('last_seen'))}"),
            ("Auto-retry", retries(inc) + (" — escalated" if inc.get("escalated") else "")),
            ("Upload", f"#{upload['id']} {upload['original_name']} ({upload['status']})" if upload else "-"),
            ("Job", f"#{job['id']} {job['name']}" if job else "-"),
            ("Run", f"#{inc['run_id']}" if inc.get("run_id") else "-"),
            ("Assignee", inc.get("assignee") or "-"),
            ("Opened", display.when(inc.get("opened_at"))),
            ("Acknowledged", display.when(inc.get("acknowledged_at"))),
            ("Resolved", display.when(inc.get("resolved_at"))),
            ("Impact", inc.get("impact") or "-"),
            ("Root cause", inc.get("root_cause") or "-"),
            ("Corrective action", inc.get("corrective_action") or "-"),
            ("Resolution", inc.get("resolution") or "-"),
        ]
        if inc.get("previous_id") or inc.get("followup_ids"):
            pairs.append(("Related", f"previous #{inc.get('previous_id') or '-'}; "
                                     f"follow-ups {', '.join(f'#{i}' for i in inc.get('followup_ids') or []) or '-'}"))
        self.query_one("#incident-info", KeyValues).show(pairs)
        ke = inc.get("known_error")
        self.query_one("#known-error", KeyValues).show(
            [("Name", ke.get("name")), ("Matches", f"code {ke.get('error_code') or 'any'}, "
                                                   f"pattern {ke.get('pattern') or '(any message)'}"),
             ("Root cause", ke.get("root_cause") or "-"), ("Corrective action", ke.get("corrective_action") or "-"),
             ("Auto-retry", f"up to {ke.get('retry_max')} after {ke.get('retry_delay_s')} s"
                            if ke.get("auto_retry") else "no")]
            if ke else [("", Text("no known error matched: an unknown error (teach BatchOps with known-errors add)",
                                  style="yellow"))])
        fill_table(self.query_one("#timeline", DataTable), [
            (e["id"], (display.when(e.get("at")), e.get("actor") or "-", e.get("kind") or "-",
                       f"{e['from_state']} → {e['to_state']}" if e.get("from_state") and e.get("to_state")
                       and e["from_state"] != e["to_state"] else (e.get("to_state") or ""),
                       display.text(e.get("message"), 90)))
            for e in inc.get("events") or []])
        fill_table(self.query_one("#incident-tickets", DataTable), [
            (t["id"], (str(t["id"]), display.badge(t.get("state")), t.get("assignee") or "-",
                       display.text(t.get("title"), 50), display.text(t.get("resolution"), 40)))
            for t in inc.get("tickets") or []])
        tabs = self.query_one("#tabs", TabbedContent)
        tabs.get_tab("tab-timeline").label = f"Timeline ({len(inc.get('events') or [])})"
        tabs.get_tab("tab-tickets").label = f"Tickets ({len(inc.get('tickets') or [])})"
        allowed = set(inc.get("allowed_actions") or [])
        for action in ACTION_KEYS:
            button = self.query_one(f"#do-{action}", Button)
            button.disabled = action not in allowed
            button.display = action in allowed  # only what the state allows: the bar fits 80 columns
        self.refresh_bindings()

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
