"""batchops incidents ... and batchops tickets ..."""

from __future__ import annotations

from typing import Optional

import typer

from batchops.cli.main import setup
from batchops.cli.output import emit, info, record, table, warn_if_no_worker

JSON = typer.Option(False, "--json", help="One JSON document on stdout.")
AS = typer.Option(None, "--as", help="Who is acting (default: the OS user).", metavar="NAME")
incidents_app = typer.Typer(no_args_is_help=True)
tickets_app = typer.Typer(no_args_is_help=True)

LIST_COLUMNS = ["id", "state", "severity", ("occurrences", "seen"), "title", "?known_error_name", "?assignee", "last_seen"]
EVENT_COLUMNS = ["at", "actor", "kind", "from_state", "to_state", "message"]
TICKET_COLUMNS = ["id", "incident_id", "state", "?assignee", "title", "?updated_at"]
SHOW_SKIP = ("events", "tickets", "known_error", "upload", "job", "signature", "error_message")


def _title(text: str) -> str:
    """Table titles are rich markup; operator text may contain [brackets] (cells print verbatim)."""
    from rich.markup import escape

    return escape(text)


def _render_incident(d: dict) -> None:
    record({k: v for k, v in d.items() if k not in SHOW_SKIP}, title=_title(f"Incident {d['id']}: {d['title']}"))
    record({"error": d["error_message"], "signature": d["signature"],
            "upload": f"{d['upload']['id']} {d['upload']['original_name']} ({d['upload']['status']})"
            if d["upload"] else None,
            "job": f"{d['job']['id']} {d['job']['name']}" if d["job"] else None})
    table(d["events"], EVENT_COLUMNS, title="Timeline")
    table(d["tickets"], ["id", "state", "assignee", "title", "resolution"], title="Tickets", empty="no tickets")


def _done(d: dict, json_out: bool, what: str) -> None:
    emit(d, json_out, lambda r: info(f"incident {r['id']} {what}: now {r['state']} "
                                     f"(next: {', '.join(r['allowed_actions']) or 'nothing'})"))


@incidents_app.command("list")
def incidents_list(
    state: Optional[str] = typer.Option(None, "--state", help="open, assigned, analyzing, resolved, archived or active."),
    severity: Optional[str] = typer.Option(None, "--severity", help="low, medium, high, critical."),
    text: Optional[str] = typer.Option(None, "--text", help="Search title, error and signature."),
    limit: int = typer.Option(50, "--limit", "-n"),
    json_out: bool = JSON,
) -> None:
    """Incidents, newest first."""
    from batchops.services import incidents

    setup()
    emit(incidents.list_incidents(state=state, severity=severity, text=text, limit=limit), json_out,
         lambda rows: table(rows, LIST_COLUMNS, title="Incidents", empty="no incidents"))


@incidents_app.command("open")
def incidents_open(
    title: str,
    severity: str = typer.Option("medium", "--severity", help="low, medium, high, critical."),
    description: str = typer.Option("", "--description", help="What was seen."),
    as_: Optional[str] = AS,
    json_out: bool = JSON,
) -> None:
    """Open a manual incident for a problem seen outside BatchOps."""
    from batchops.services import incidents

    setup()
    _done(incidents.open_manual(title, severity=severity, description=description, actor=as_), json_out, "opened")


@incidents_app.command("show")
def incidents_show(incident_id: str, json_out: bool = JSON) -> None:
    """One incident with its timeline, tickets and matched known error."""
    from batchops.services import incidents

    setup()
    emit(incidents.show_incident(incident_id), json_out, _render_incident)


@incidents_app.command("assign")
def incidents_assign(
    incident_id: str,
    to: str = typer.Option(..., "--to", help="Who takes it.", metavar="NAME"),
    as_: Optional[str] = AS,
    json_out: bool = JSON,
) -> None:
    """Assign (or re-assign) an incident: open -> assigned."""
    from batchops.services import incidents

    setup()
    _done(incidents.assign(incident_id, to, actor=as_), json_out, f"assigned to {to}")


@incidents_app.command("analyze")
def incidents_analyze(
    incident_id: str,
    impact: Optional[str] = typer.Option(None, "--impact", help="Impact summary."),
    root_cause: Optional[str] = typer.Option(None, "--root-cause", help="Root cause."),
    corrective_action: Optional[str] = typer.Option(None, "--corrective-action", help="Corrective action."),
    as_: Optional[str] = AS,
    json_out: bool = JSON,
) -> None:
    """Record the analysis (all fields stay editable): assigned -> analyzing."""
    from batchops.services import incidents

    setup()
    _done(incidents.analyze(incident_id, impact=impact, root_cause=root_cause,
                            corrective_action=corrective_action, actor=as_), json_out, "analysis recorded")


@incidents_app.command("retry")
def incidents_retry(
    incident_id: str,
    now: bool = typer.Option(False, "--now", help="Run the pipeline here instead of queueing it."),
    as_: Optional[str] = AS,
    json_out: bool = JSON,
) -> None:
    """Run the failed work again (re-queue the upload's pipeline, or trigger the job)."""
    from batchops.services import incidents

    setup(recover=True)
    result = incidents.retry(incident_id, actor=as_, now=now)
    run = result["run"] or {}
    emit(result, json_out, lambda r: info(
        f"incident {r['incident']['id']}: retry run {run.get('run_id')} {run.get('status')}; "
        f"incident now {r['incident']['state']}"))
    warn_if_no_worker([run.get("status")])
    if run.get("status") == "failed":
        raise typer.Exit(1)


@incidents_app.command("resolve")
def incidents_resolve(
    incident_id: str,
    report: str = typer.Option(..., "--report", help="The resolution report."),
    as_: Optional[str] = AS,
    json_out: bool = JSON,
) -> None:
    """Resolve with a report."""
    from batchops.services import incidents

    setup()
    _done(incidents.resolve(incident_id, report, actor=as_), json_out, "resolved")


@incidents_app.command("archive")
def incidents_archive(incident_id: str, as_: Optional[str] = AS, json_out: bool = JSON) -> None:
    """Archive a resolved incident."""
    from batchops.services import incidents

    setup()
    _done(incidents.archive(incident_id, actor=as_), json_out, "archived")


@incidents_app.command("comment")
def incidents_comment(incident_id: str, text: str, as_: Optional[str] = AS, json_out: bool = JSON) -> None:
    """Add a comment to the timeline."""
    from batchops.services import incidents

    setup()
    _done(incidents.comment(incident_id, text, actor=as_), json_out, "comment added")


# --------------------------------------------------------------------------- tickets


def _ticket_done(d: dict, json_out: bool, what: str) -> None:
    emit(d, json_out, lambda r: info(f"ticket {r['id']} {what}: now {r['state']}"))


@tickets_app.command("list")
def tickets_list(
    state: Optional[str] = typer.Option(None, "--state", help="open, assigned, resolved."),
    incident: Optional[int] = typer.Option(None, "--incident", help="Only this incident's tickets."),
    assignee: Optional[str] = typer.Option(None, "--assignee"),
    limit: int = typer.Option(50, "--limit", "-n"),
    json_out: bool = JSON,
) -> None:
    """Tickets (action items), newest first."""
    from batchops.services import tickets

    setup()
    emit(tickets.list_tickets(state=state, incident_id=incident, assignee=assignee, limit=limit), json_out,
         lambda rows: table(rows, TICKET_COLUMNS, title="Tickets", empty="no tickets"))


@tickets_app.command("show")
def tickets_show(ticket_id: str, json_out: bool = JSON) -> None:
    """One ticket."""
    from batchops.services import tickets

    setup()
    emit(tickets.show_ticket(ticket_id), json_out, lambda r: record(r, title=f"Ticket {r['id']}"))


@tickets_app.command("add")
def tickets_add(
    incident_id: str,
    title: str = typer.Option(..., "--title"),
    to: Optional[str] = typer.Option(None, "--to", help="Assign at once.", metavar="NAME"),
    as_: Optional[str] = AS,
    json_out: bool = JSON,
) -> None:
    """Add an action item to an incident."""
    from batchops.services import tickets

    setup()
    _ticket_done(tickets.add(incident_id, title, actor=as_, assignee=to), json_out, "added")


@tickets_app.command("assign")
def tickets_assign(
    ticket_id: str,
    to: str = typer.Option(..., "--to", metavar="NAME"),
    as_: Optional[str] = AS,
    json_out: bool = JSON,
) -> None:
    """Assign a ticket."""
    from batchops.services import tickets

    setup()
    _ticket_done(tickets.assign(ticket_id, to, actor=as_), json_out, f"assigned to {to}")


@tickets_app.command("resolve")
def tickets_resolve(
    ticket_id: str,
    resolution: str = typer.Option(..., "--resolution"),
    as_: Optional[str] = AS,
    json_out: bool = JSON,
) -> None:
    """Resolve a ticket."""
    from batchops.services import tickets

    setup()
    _ticket_done(tickets.resolve(ticket_id, resolution, actor=as_), json_out, "resolved")


@tickets_app.command("edit")
def tickets_edit(
    ticket_id: str,
    title: Optional[str] = typer.Option(None, "--title"),
    to: Optional[str] = typer.Option(None, "--to", help="New assignee (\"\" unassigns).", metavar="NAME"),
    as_: Optional[str] = AS,
    json_out: bool = JSON,
) -> None:
    """Change a ticket's title or assignee."""
    from batchops.services import tickets

    setup()
    _ticket_done(tickets.edit(ticket_id, title=title, assignee=to, actor=as_), json_out, "edited")


@tickets_app.command("delete")
def tickets_delete(
    ticket_id: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    as_: Optional[str] = AS,
    json_out: bool = JSON,
) -> None:
    """Delete a ticket opened by mistake (the incident's timeline keeps a note)."""
    from batchops import context
    from batchops.cli.output import confirm
    from batchops.services import tickets

    setup()
    context.require_writable()  # refuse before asking
    ticket = tickets.show_ticket(ticket_id)
    confirm(f"Delete ticket {ticket['id']} ({ticket['title']})?", yes)
    emit(tickets.delete(ticket["id"], actor=as_), json_out,
         lambda r: info(f"deleted ticket {r['deleted']} of incident {r['incident_id']}"))


def register(app: typer.Typer) -> None:
    app.add_typer(incidents_app, name="incidents", help="Incidents: triage, workflow, timeline.")
    app.add_typer(tickets_app, name="tickets", help="Tickets: action items linked to incidents.")
