"""Tickets: the action items triage opens for incidents."""

from __future__ import annotations

import getpass

from textual.binding import Binding

from batchops.services import tickets
from batchops.tui import display
from batchops.tui.screens.base import ListScreen
from batchops.tui.typed_app import batchops_app


class TicketsScreen(ListScreen):
    AREA = "tickets"
    HELP = (
        "Action items linked to incidents. a assigns, s resolves with a resolution, e edits the title or "
        "assignee, d deletes one opened by mistake; enter opens the incident."
    )
    COLUMNS = [
        ("id", "Ticket"),
        ("state", "State"),
        ("incident", "Incident"),
        ("assignee", "Assignee"),
        ("title", "Title"),
        ("resolution", "Resolution"),
        ("created", "Created"),
    ]
    FILTERS = {"state": tickets.TICKET_STATES}
    MUTATING = frozenset({"ticket"})
    BINDINGS = [
        Binding("a", "ticket('assign')", "Assign"),
        Binding("s", "ticket('resolve')", "Resolve"),
        Binding("e", "ticket('edit')", "Edit"),
        Binding("d", "ticket('delete')", "Delete"),
    ]
    ANY_STATE = ("edit", "delete")  # allowed on every ticket, whatever its state

    def cells(self, row: dict) -> list:
        return [
            str(row["id"]),
            display.badge(row.get("state")),
            f"#{row.get('incident_id')} {display.text(row.get('incident_title'), self.wide(24))}",
            row.get("assignee") or "-",
            display.text(row.get("title"), self.wide(36)),
            display.text(row.get("resolution"), self.wide(24)),
            display.when(row.get("created_at"), compact=True),
        ]

    def load(self, params: dict):
        return tickets.list_tickets(state=params.get("state"), limit=params["limit"], before_id=params["before_id"])

    def open(self, ident: int) -> None:
        row = next((r for r in self.pager.rows if r["id"] == ident), None)
        if row and row.get("incident_id"):
            batchops_app(self.app).open_item("incidents", row["incident_id"])

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "ticket":
            if self.read_only:
                return False
            row = self.pager.selected_row() if self.is_mounted else None
            allowed = [*(row.get("allowed_actions") or []), *self.ANY_STATE] if row else []
            return True if parameters[0] in allowed else None
        return super().check_action(action, parameters)

    def on_data_table_row_highlighted(self) -> None:
        self.refresh_bindings()

    def action_ticket(self, action: str) -> None:
        from batchops.tui.screens.prompt import Field, FormModal, ask

        row = self.pager.selected_row()
        if not row:
            return
        if action == "assign":

            def assigned(values):
                self.act(
                    "ticket",
                    tickets.assign,
                    row["id"],
                    values["to"],
                    note=f"ticket {row['id']} assigned to {values['to']}",
                )

            ask(
                self,
                FormModal(
                    f"Assign ticket {row['id']}: {row['title']}",
                    [Field("to", "Assign to", row.get("assignee") or getpass.getuser(), required=True)],
                    submit="Assign",
                ),
                assigned,
            )
        elif action == "resolve":

            def resolved(values):
                self.act(
                    "ticket", tickets.resolve, row["id"], values["resolution"], note=f"ticket {row['id']} resolved"
                )

            ask(
                self,
                FormModal(
                    f"Resolve ticket {row['id']}: {row['title']}",
                    [Field("resolution", "Resolution", multiline=True, required=True)],
                    submit="Resolve",
                ),
                resolved,
            )
        elif action == "edit":

            def edited(values):
                self.act(
                    "ticket",
                    tickets.edit,
                    row["id"],
                    title=values["title"],
                    assignee=values["to"],
                    note=f"ticket {row['id']} edited",
                )

            ask(
                self,
                FormModal(
                    f"Edit ticket {row['id']}",
                    [
                        Field("title", "Title", row.get("title") or "", required=True),
                        Field("to", "Assignee (empty: nobody)", row.get("assignee") or ""),
                    ],
                    submit="Save",
                ),
                edited,
            )
        elif action == "delete":
            from batchops.tui.screens.prompt import ChoiceModal

            def deleted(choice):
                self.act("ticket", tickets.delete, row["id"], note=f"ticket {row['id']} deleted")

            ask(
                self,
                ChoiceModal(
                    f"Delete ticket {row['id']}?",
                    f"{row['title']} (incident {row.get('incident_id')}); the incident's timeline keeps a note.",
                    [("delete", "Delete")],
                ),
                deleted,
            )
