"""Tickets: action items linked to an incident (open -> assigned -> resolved).

Triage opens one for each new incident (unless the known error says not to);
operators can add more. Every change is also written on the incident's timeline.
"""

from __future__ import annotations

from batchops import context
from batchops.clock import utc_now
from batchops.errors import IllegalTransition, InputError
from batchops.incidents import workflow
from batchops.services.common import as_id, before_bound, check_filter, get_record, row_dict
from batchops.store.db import db, retry_busy
from batchops.store.models import TICKET_STATES, Incident, Ticket

ACTIONS = {"assign": ("open", "assigned"), "resolve": ("open", "assigned")}


def ticket_dict(ticket: Ticket) -> dict:
    out = row_dict(ticket)
    incident = Incident.select(Incident.title, Incident.state).where(Incident.id == ticket.incident_id).first()
    out["incident_title"] = incident.title if incident else None
    out["incident_state"] = incident.state if incident else None
    out["allowed_actions"] = allowed_actions(ticket)
    return out


def allowed_actions(ticket) -> list[str]:
    state = ticket["state"] if isinstance(ticket, dict) else ticket.state
    return [action for action, states in ACTIONS.items() if state in states]


def get_ticket(ident) -> Ticket:
    return get_record(Ticket, ident, "ticket")


def list_tickets(
    state: str | None = None,
    incident_id: int | None = None,
    assignee: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict]:
    check_filter(state, TICKET_STATES, "ticket state")
    query = Ticket.select().order_by(Ticket.id.desc()).limit(max(1, min(int(limit), 10000)))
    if state:
        query = query.where(Ticket.state == state)
    if incident_id:
        query = query.where(Ticket.incident == as_id(incident_id, "incident"))
    if assignee:
        query = query.where(Ticket.assignee == assignee)
    if before_id:
        query = query.where(Ticket.id < before_bound(before_id))
    return [ticket_dict(t) for t in query]


def show_ticket(ident) -> dict:
    return ticket_dict(get_ticket(ident))


def _check(ticket: Ticket, action: str) -> None:
    if ticket.state not in ACTIONS[action]:
        raise IllegalTransition(
            f"ticket {ticket.id} is {ticket.state}; cannot {action} it "
            f"({action} is allowed from {', '.join(ACTIONS[action])})"
        )


@retry_busy
def _mutate(ident, action: str, actor: str, apply) -> dict:
    context.require_writable()
    with db.atomic():
        ticket = get_ticket(ident)
        _check(ticket, action)
        message = apply(ticket)
        ticket.updated_at = utc_now()
        ticket.save()
        workflow.add_event(Incident.get_by_id(ticket.incident_id), "ticket", actor, f"ticket {ticket.id} {message}")
    return show_ticket(ticket.id)


def assign(ident, to: str, actor: str | None = None) -> dict:
    to = (to or "").strip()
    if not to:
        raise InputError("assign needs a name (--to NAME)", code="E_ASSIGNEE_REQUIRED")

    def apply(ticket: Ticket) -> str:
        ticket.assignee, ticket.state = to, "assigned"
        return f"assigned to {to}"

    return _mutate(ident, "assign", context.actor(actor), apply)


def resolve(ident, resolution: str, actor: str | None = None) -> dict:
    resolution = (resolution or "").strip()
    if not resolution:
        raise InputError("resolve needs a resolution (--resolution TEXT)", code="E_RESOLUTION_REQUIRED")

    def apply(ticket: Ticket) -> str:
        ticket.resolution, ticket.state, ticket.resolved_at = resolution, "resolved", utc_now()
        return f"resolved: {resolution}"

    return _mutate(ident, "resolve", context.actor(actor), apply)


@retry_busy
def add(incident_id, title: str, actor: str | None = None, assignee: str | None = None) -> dict:
    """A further action item on an incident."""
    context.require_writable()
    title = (title or "").strip()
    if not title:
        raise InputError("a ticket needs a title (--title TEXT)", code="E_TITLE_REQUIRED")
    who = context.actor(actor)
    with db.atomic():
        incident = get_record(Incident, incident_id, "incident")
        ticket = Ticket.create(
            incident=incident.id, title=title[:512], assignee=assignee or None, state="assigned" if assignee else "open"
        )
        workflow.add_event(incident, "ticket", who, f"ticket {ticket.id} opened: {ticket.title}")
    return show_ticket(ticket.id)


@retry_busy
def edit(ident, title: str | None = None, assignee: str | None = None, actor: str | None = None) -> dict:
    """Change a ticket's title or assignee (an empty assignee hands an assigned ticket back: open)."""
    context.require_writable()
    who = context.actor(actor)
    if title is None and assignee is None:
        raise InputError("nothing to change: give a title or an assignee", code="E_NOTHING_TO_CHANGE")
    if title is not None and not title.strip():
        raise InputError("a ticket needs a title", code="E_TITLE_REQUIRED")
    with db.atomic():
        ticket = get_ticket(ident)
        changes = []
        if title is not None and title.strip() != ticket.title:
            ticket.title = title.strip()[:512]
            changes.append(f"title: {ticket.title}")
        if assignee is not None and (assignee.strip() or None) != ticket.assignee:
            if ticket.state == "resolved":
                raise IllegalTransition(f"ticket {ticket.id} is resolved; its assignee stays")
            ticket.assignee = assignee.strip() or None
            ticket.state = "assigned" if ticket.assignee else "open"
            changes.append(f"assigned to {ticket.assignee}" if ticket.assignee else "unassigned")
        if changes:
            ticket.updated_at = utc_now()
            ticket.save()
            workflow.add_event(
                Incident.get_by_id(ticket.incident_id),
                "ticket",
                who,
                f"ticket {ticket.id} edited: {'; '.join(changes)}",
            )
    return show_ticket(ticket.id)


@retry_busy
def delete(ident, actor: str | None = None) -> dict:
    """Remove a ticket opened by mistake; the incident's timeline says who removed it."""
    context.require_writable()
    who = context.actor(actor)
    with db.atomic():
        ticket = get_ticket(ident)
        workflow.add_event(
            Incident.get_by_id(ticket.incident_id), "ticket", who, f"ticket {ticket.id} deleted: {ticket.title}"
        )
        ticket.delete_instance()
    return {"deleted": ticket.id, "incident_id": ticket.incident_id, "title": ticket.title}
