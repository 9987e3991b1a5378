"""batchops tickets ...: action items linked to incidents."""

from typing import Annotated

import typer

from batchops.cli.options import Actor, JsonOutput, Limit, Yes
from batchops.cli.output import confirm, emit, info, record, table
from batchops.cli.store import needs_store

app = typer.Typer(name="tickets", help="Tickets: action items linked to incidents.", no_args_is_help=True)

TICKET_COLUMNS = ["id", "incident_id", "state", "?assignee", "title", "?updated_at"]


def _ticket_done(d: dict, json_out: bool, what: str) -> None:
    emit(d, json_out, lambda r: info(f"ticket {r['id']} {what}: now {r['state']}"))


@app.command("list")
@needs_store()
def tickets_list(
    state: Annotated[str | None, typer.Option("--state", help="open, assigned, resolved.")] = None,
    incident: Annotated[int | None, typer.Option("--incident", help="Only this incident's tickets.")] = None,
    assignee: Annotated[str | None, typer.Option("--assignee")] = None,
    limit: Limit = 50,
    json_out: JsonOutput = False,
) -> None:
    """Tickets (action items), newest first."""
    from batchops.services import tickets

    emit(
        tickets.list_tickets(state=state, incident_id=incident, assignee=assignee, limit=limit),
        json_out,
        lambda rows: table(rows, TICKET_COLUMNS, title="Tickets", empty="no tickets"),
    )


@app.command("show")
@needs_store()
def tickets_show(ticket_id: str, json_out: JsonOutput = False) -> None:
    """One ticket."""
    from batchops.services import tickets

    emit(tickets.show_ticket(ticket_id), json_out, lambda r: record(r, title=f"Ticket {r['id']}"))


@app.command("add")
@needs_store()
def tickets_add(
    incident_id: str,
    title: Annotated[str, typer.Option("--title")],
    to: Annotated[str | None, typer.Option("--to", help="Assign at once.", metavar="NAME")] = None,
    as_: Actor = None,
    json_out: JsonOutput = False,
) -> None:
    """Add an action item to an incident."""
    from batchops.services import tickets

    _ticket_done(tickets.add(incident_id, title, actor=as_, assignee=to), json_out, "added")


@app.command("assign")
@needs_store()
def tickets_assign(
    ticket_id: str,
    to: Annotated[str, typer.Option("--to", metavar="NAME")],
    as_: Actor = None,
    json_out: JsonOutput = False,
) -> None:
    """Assign a ticket."""
    from batchops.services import tickets

    _ticket_done(tickets.assign(ticket_id, to, actor=as_), json_out, f"assigned to {to}")


@app.command("resolve")
@needs_store()
def tickets_resolve(
    ticket_id: str,
    resolution: Annotated[str, typer.Option("--resolution")],
    as_: Actor = None,
    json_out: JsonOutput = False,
) -> None:
    """Resolve a ticket."""
    from batchops.services import tickets

    _ticket_done(tickets.resolve(ticket_id, resolution, actor=as_), json_out, "resolved")


@app.command("edit")
@needs_store()
def tickets_edit(
    ticket_id: str,
    title: Annotated[str | None, typer.Option("--title")] = None,
    to: Annotated[str | None, typer.Option("--to", help='New assignee ("" unassigns).', metavar="NAME")] = None,
    as_: Actor = None,
    json_out: JsonOutput = False,
) -> None:
    """Change a ticket's title or assignee."""
    from batchops.services import tickets

    _ticket_done(tickets.edit(ticket_id, title=title, assignee=to, actor=as_), json_out, "edited")


@app.command("delete")
@needs_store()
def tickets_delete(ticket_id: str, yes: Yes = False, as_: Actor = None, json_out: JsonOutput = False) -> None:
    """Delete a ticket opened by mistake (the incident's timeline keeps a note)."""
    from batchops import context
    from batchops.services import tickets

    context.require_writable()  # refuse before asking
    ticket = tickets.show_ticket(ticket_id)
    confirm(f"Delete ticket {ticket['id']} ({ticket['title']})?", yes)
    emit(
        tickets.delete(ticket["id"], actor=as_),
        json_out,
        lambda r: info(f"deleted ticket {r['deleted']} of incident {r['incident_id']}"),
    )
