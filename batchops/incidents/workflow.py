"""The incident state machine and its append-only timeline.

States: ``open -> assigned -> analyzing -> resolved -> archived``.

=========  ===============================  ==========================
action     allowed from                     leads to
=========  ===============================  ==========================
assign     open, assigned, analyzing        assigned (analyzing stays)
analyze    assigned, analyzing              analyzing
retry      open, assigned, analyzing        (unchanged)
resolve    open, assigned, analyzing        resolved
archive    resolved                         archived
=========  ===============================  ==========================

``reopen`` (resolved -> open) is done only by triage, when the same failure
comes back within ``incidents.reopen_window_hours``. Anything else raises
``IllegalTransition`` (exit 2) naming the state and the action. Every change
appends an ``IncidentEvent``; events are never updated or deleted.

These functions work on model instances inside the caller's transaction; the
``services.incidents`` module is the API that front doors call.
"""

from __future__ import annotations

from batchops.clock import utc_now
from batchops.errors import IllegalTransition, InputError
from batchops.redact import redact
from batchops.store.models import ACTIVE_INCIDENT_STATES, SEVERITIES, Incident, IncidentEvent, Ticket

ACTIVE_STATES = ACTIVE_INCIDENT_STATES
ACTIONS = {
    "assign": ACTIVE_STATES,
    "analyze": ("assigned", "analyzing"),
    "retry": ACTIVE_STATES,
    "resolve": ACTIVE_STATES,
    "archive": ("resolved",),
}
HINTS = {
    ("analyze", "open"): "assign it first",
    ("archive", "open"): "resolve it first",
    ("archive", "assigned"): "resolve it first",
    ("archive", "analyzing"): "resolve it first",
}
SYSTEM_ACTOR = "batchops"


def _state_of(incident) -> str:
    return incident["state"] if isinstance(incident, dict) else incident.state


def allowed_actions(incident) -> list[str]:
    """The actions legal in the incident's state (a model or a dict), in workflow order."""
    state = _state_of(incident)
    return [action for action, states in ACTIONS.items() if state in states]


def check(incident: Incident, action: str) -> None:
    if action not in ACTIONS:
        raise InputError(f"unknown incident action {action!r} (one of {', '.join(ACTIONS)})", code="E_BAD_ACTION")
    if incident.state not in ACTIONS[action]:
        hint = HINTS.get((action, incident.state))
        raise IllegalTransition(
            f"incident {incident.id} is {incident.state}; cannot {action} it "
            f"({action} is allowed from {', '.join(ACTIONS[action])})" + (f"; {hint}" if hint else "")
        )


def add_event(
    incident: Incident,
    kind: str,
    actor: str = SYSTEM_ACTOR,
    message: str = "",
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    run_id: int | None = None,
    at=None,
) -> IncidentEvent:
    return IncidentEvent.create(
        incident=incident.id,
        kind=kind,
        actor=actor or SYSTEM_ACTOR,
        message=redact(message),
        from_state=from_state,
        to_state=to_state,
        run=run_id,
        at=at or utc_now(),
    )


def _move(incident: Incident, to_state: str, kind: str, actor: str, message: str, run_id=None, **fields) -> None:
    now = utc_now()
    before = incident.state
    incident.state = to_state
    incident.updated_at = now
    for key, value in fields.items():
        setattr(incident, key, value)
    # only what moved: a whole-row save would write back a stale occurrence count (PostgreSQL's
    # writers run side by side)
    incident.save(only=[Incident.state, Incident.updated_at, *(getattr(Incident, k) for k in fields)])
    add_event(incident, kind, actor, message, from_state=before, to_state=to_state, run_id=run_id, at=now)


def assign(incident: Incident, to: str, actor: str) -> None:
    check(incident, "assign")
    to = (to or "").strip()
    if not to:
        raise InputError("assign needs a name (--to NAME)", code="E_ASSIGNEE_REQUIRED")
    previous = incident.assignee
    target = "assigned" if incident.state == "open" else incident.state
    message = f"assigned to {to}" + (f" (was {previous})" if previous and previous != to else "")
    _move(
        incident, target, "assign", actor, message, assignee=to, acknowledged_at=incident.acknowledged_at or utc_now()
    )


def analyze(
    incident: Incident,
    actor: str,
    impact: str | None = None,
    root_cause: str | None = None,
    corrective_action: str | None = None,
) -> None:
    """Move to analyzing and record the analysis; the fields stay editable (call again)."""
    check(incident, "analyze")
    changed = {}
    for key, value in (("impact", impact), ("root_cause", root_cause), ("corrective_action", corrective_action)):
        if value is not None:
            changed[key] = value.strip()
    parts = [f"{key.replace('_', ' ')}: {value}" for key, value in changed.items()]
    message = "; ".join(parts) if parts else "analysis started"
    _move(
        incident,
        "analyzing",
        "analyze",
        actor,
        message,
        acknowledged_at=incident.acknowledged_at or utc_now(),
        **changed,
    )


def resolve(incident: Incident, report: str, actor: str, run_id: int | None = None) -> None:
    check(incident, "resolve")
    report = (report or "").strip()
    if not report:
        raise InputError("resolve needs a resolution report (--report TEXT)", code="E_REPORT_REQUIRED")
    _move(incident, "resolved", "resolve", actor, report, run_id=run_id, resolution=report, resolved_at=utc_now())
    _close_tickets(incident, actor, f"incident resolved: {report}")


def archive(incident: Incident, actor: str) -> None:
    check(incident, "archive")
    _move(incident, "archived", "archive", actor, "archived", archived_at=utc_now())
    _close_tickets(incident, actor, "incident archived")


def _close_tickets(incident: Incident, actor: str, why: str) -> None:
    """Tickets follow their incident: the ones still open are resolved, each with a timeline event."""
    now = utc_now()
    for ticket in Ticket.select().where((Ticket.incident == incident.id) & (Ticket.state != "resolved")):
        ticket.state, ticket.resolution, ticket.resolved_at, ticket.updated_at = "resolved", why, now, now
        ticket.save()
        add_event(incident, "ticket", actor, f"ticket {ticket.id} resolved with the incident: {ticket.title}", at=now)


def reopen(incident: Incident, message: str, run_id: int | None = None, actor: str = SYSTEM_ACTOR) -> None:
    """Triage only: the failure came back soon after it was resolved."""
    if incident.state != "resolved":
        raise IllegalTransition(f"incident {incident.id} is {incident.state}; only a resolved incident re-opens")
    _move(
        incident,
        "open",
        "reopen",
        actor,
        message,
        run_id=run_id,
        resolved_at=None,
        acknowledged_at=None,
        retry_count=0,
        escalated=False,
    )


def comment(incident: Incident, text: str, actor: str) -> None:
    text = (text or "").strip()
    if not text:
        raise InputError("a comment needs some text", code="E_COMMENT_EMPTY")
    add_event(incident, "comment", actor, text)
    Incident.update(updated_at=utc_now()).where(Incident.id == incident.id).execute()


def raise_severity(severity: str) -> str:
    """One step up (critical stays critical)."""
    index = SEVERITIES.index(severity) if severity in SEVERITIES else 1
    return SEVERITIES[min(index + 1, len(SEVERITIES) - 1)]


def severity_rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1
