"""Incidents: what broke, how bad, and where each one is in its workflow."""

from __future__ import annotations

from textual.binding import Binding, BindingType

from batchops.services import incidents
from batchops.tui import display
from batchops.tui.screens.base import ListScreen

ACTION_KEYS = {"assign": "a", "analyze": "n", "retry": "t", "resolve": "s", "archive": "x"}
INCIDENT_BINDINGS: list[BindingType] = [
    Binding("a", "incident('assign')", "Assign"),
    Binding("n", "incident('analyze')", "Analyze"),
    Binding("t", "incident('retry')", "Retry"),
    Binding("s", "incident('resolve')", "Resolve"),
    Binding("x", "incident('archive')", "Archive"),
]


def retries(row: dict) -> str:
    if not row.get("retry_max") and not row.get("retry_count"):
        return "-"
    return f"{row.get('retry_count') or 0}/{row.get('retry_max') or 0}" + (" ⚠" if row.get("escalated") else "")


def incident_action_state(screen, incident: dict | None, action: str, parameters: tuple) -> bool | None:
    """check_action for the five workflow actions: shown (and fired) only when the state allows them now.

    Hidden, not dimmed: a key the footer does not show must not do anything (``a`` on a resolved incident).
    """
    if action != "incident":
        return True
    if screen.read_only or incident is None:
        return False
    return bool(parameters and parameters[0] in (incident.get("allowed_actions") or []))


def run_incident_action(screen, incident: dict, action: str) -> None:
    """Ask what the action needs, then run it through the incidents service."""
    from batchops.tui.screens.prompt import ChoiceModal, Field, FormModal, ask

    ident = incident["id"]
    if action not in (incident.get("allowed_actions") or []):
        screen.notify(
            f"E_ILLEGAL_TRANSITION: incident {ident} is {incident.get('state')}; cannot {action} it",
            severity="warning",
            markup=False,
        )
        return
    label = f"incident {ident}: {display.text(incident.get('title'), 60)}"
    if action == "assign":
        import getpass

        def assigned(values):
            screen.act(
                "assign",
                incidents.assign,
                ident,
                values["to"],
                note=lambda r: f"incident {ident} assigned to {r.get('assignee')}",
            )

        ask(
            screen,
            FormModal(
                f"Assign {label}",
                [Field("to", "Assign to", incident.get("assignee") or getpass.getuser(), required=True)],
                submit="Assign",
            ),
            assigned,
        )
    elif action == "analyze":

        def analyzed(values):
            screen.act(
                "analyze",
                incidents.analyze,
                ident,
                impact=values["impact"] or None,
                root_cause=values["root_cause"] or None,
                corrective_action=values["corrective_action"] or None,
                note=f"incident {ident}: analysis saved",
            )

        ask(
            screen,
            FormModal(
                f"Analyze {label}",
                [
                    Field("impact", "Impact summary", incident.get("impact") or "", multiline=True),
                    Field("root_cause", "Root cause", incident.get("root_cause") or "", multiline=True),
                    Field(
                        "corrective_action",
                        "Corrective action",
                        incident.get("corrective_action") or "",
                        multiline=True,
                    ),
                ],
                submit="Save analysis",
                check=lambda v: None if any(v.values()) else "write at least one of the three",
            ),
            analyzed,
        )
    elif action == "retry":

        def retried(choice):
            screen.act(
                "retry",
                incidents.retry,
                ident,
                now=choice == "now",
                note=lambda r: (
                    f"incident {ident}: retry run {(r.get('run') or {}).get('run_id')} "
                    f"{(r.get('run') or {}).get('status')}"
                ),
            )

        choices = [("queue", "Queue for worker"), ("now", "Run now")]
        ask(screen, ChoiceModal(f"Retry {label}?", "Run the failed work again.", choices), retried)
    elif action == "resolve":

        def resolved(values):
            screen.act("resolve", incidents.resolve, ident, values["report"], note=f"incident {ident} resolved")

        ask(
            screen,
            FormModal(
                f"Resolve {label}",
                [Field("report", "Resolution report", incident.get("resolution") or "", multiline=True, required=True)],
                submit="Resolve",
            ),
            resolved,
        )
    elif action == "archive":

        def archived(choice):
            screen.act("archive", incidents.archive, ident, note=f"incident {ident} archived")

        ask(
            screen,
            ChoiceModal(
                f"Archive {label}?", "It leaves the active lists; the timeline is kept.", [("archive", "Archive")]
            ),
            archived,
        )


class IncidentsScreen(ListScreen):
    AREA = "incidents"
    HELP = (
        "Incidents from failed runs, de-duplicated by signature. Enter opens the timeline, known error "
        "and tickets. Actions that the incident's state does not allow are dimmed."
    )
    SERVER_TEXT = True
    ROW_ACTIONS = True  # the actions the highlighted incident's state allows
    FILTER_HINT = "/ search title, error, signature"
    COLUMNS = [
        ("id", "ID"),
        ("severity", "Severity"),
        ("state", "State"),
        ("title", "Title"),
        ("seen", "Seen"),
        ("retries", "Retries"),
        ("known", "Known error"),
        ("assignee", "Assignee"),
        ("opened", "Opened"),
        ("last", "Last seen"),
    ]
    FILTERS = {"state": incidents.STATE_FILTERS, "severity": incidents.SEVERITIES}
    MUTATING = frozenset({"incident", "open_manual"})
    BINDINGS = [*INCIDENT_BINDINGS, Binding("o", "open_manual", "Open new")]

    def cells(self, row: dict) -> list:
        known = row.get("known_error_name") or ("unknown error" if row.get("unknown_error") else "-")
        return [
            str(row["id"]),
            display.severity(row.get("severity")),
            display.badge(row.get("state")),
            display.text(row.get("title"), self.wide(40)),
            f"×{row.get('occurrences') or 1}",
            retries(row),
            display.text(known, 24),
            row.get("assignee") or "-",
            display.when(row.get("opened_at"), compact=True),
            display.when(row.get("last_seen"), compact=True),
        ]

    def load(self, params: dict):
        return incidents.list_incidents(
            state=params.get("state"),
            severity=params.get("severity"),
            text=params.get("text"),
            limit=params["limit"],
            before_id=params["before_id"],
        )

    def open(self, ident: int) -> None:
        from batchops.tui.screens.incident_detail import IncidentDetailScreen

        self.app.push_screen(IncidentDetailScreen(ident))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "incident":
            return incident_action_state(
                self, self.pager.selected_row() if self.is_mounted else None, action, parameters
            )
        return super().check_action(action, parameters)

    def action_incident(self, action: str) -> None:
        if row := self.pager.selected_row():
            run_incident_action(self, row, action)

    def action_open_manual(self) -> None:
        """A manual incident: something seen outside BatchOps, worked like any other."""
        from batchops.tui.screens.prompt import Field, FormModal, ask

        def opened(values):
            self.act(
                "open_manual",
                incidents.open_manual,
                values["title"],
                severity=values["severity"],
                description=values["description"],
                note=lambda r: f"incident {r['id']} opened",
            )

        ask(
            self,
            FormModal(
                "Open a manual incident",
                [
                    Field("title", "Title", required=True, placeholder="what is wrong, where"),
                    Field("severity", "Severity", "medium", choices=list(incidents.SEVERITIES)),
                    Field("description", "What was seen", multiline=True),
                ],
                submit="Open",
            ),
            opened,
        )
