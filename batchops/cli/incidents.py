"""batchops incidents ..."""

from typing import Annotated

import typer

from batchops.cli.options import Actor, JsonOutput, Limit
from batchops.cli.output import emit, info, record, table, warn_if_no_worker
from batchops.cli.store import needs_store

app = typer.Typer(name="incidents", help="Incidents: triage, workflow, timeline.", no_args_is_help=True)

LIST_COLUMNS = [
    "id",
    "state",
    "severity",
    ("occurrences", "seen"),
    "title",
    "?known_error_name",
    "?assignee",
    "last_seen",
]
EVENT_COLUMNS = ["at", "actor", "kind", "from_state", "to_state", "message"]
SHOW_SKIP = ("events", "tickets", "known_error", "upload", "job", "signature", "error_message")


def _title(text: str) -> str:
    """Table titles are rich markup; operator text may contain [brackets] (cells print verbatim)."""
    from rich.markup import escape

    return escape(text)


def _render_incident(d: dict) -> None:
    record({k: v for k, v in d.items() if k not in SHOW_SKIP}, title=_title(f"Incident {d['id']}: {d['title']}"))
    record(
        {
            "error": d["error_message"],
            "signature": d["signature"],
            "upload": f"{d['upload']['id']} {d['upload']['original_name']} ({d['upload']['status']})"
            if d["upload"]
            else None,
            "job": f"{d['job']['id']} {d['job']['name']}" if d["job"] else None,
        }
    )
    table(d["events"], EVENT_COLUMNS, title="Timeline")
    table(d["tickets"], ["id", "state", "assignee", "title", "resolution"], title="Tickets", empty="no tickets")


def _done(d: dict, json_out: bool, what: str) -> None:
    emit(
        d,
        json_out,
        lambda r: info(
            f"incident {r['id']} {what}: now {r['state']} (next: {', '.join(r['allowed_actions']) or 'nothing'})"
        ),
    )


@app.command("list")
@needs_store()
def incidents_list(
    state: Annotated[
        str | None, typer.Option("--state", help="open, assigned, analyzing, resolved, archived or active.")
    ] = None,
    severity: Annotated[str | None, typer.Option("--severity", help="low, medium, high, critical.")] = None,
    text: Annotated[str | None, typer.Option("--text", help="Search title, error and signature.")] = None,
    limit: Limit = 50,
    json_out: JsonOutput = False,
) -> None:
    """Incidents, newest first."""
    from batchops.services import incidents

    emit(
        incidents.list_incidents(state=state, severity=severity, text=text, limit=limit),
        json_out,
        lambda rows: table(rows, LIST_COLUMNS, title="Incidents", empty="no incidents"),
    )


@app.command("open")
@needs_store()
def incidents_open(
    title: str,
    severity: Annotated[str, typer.Option("--severity", help="low, medium, high, critical.")] = "medium",
    description: Annotated[str, typer.Option("--description", help="What was seen.")] = "",
    as_: Actor = None,
    json_out: JsonOutput = False,
) -> None:
    """Open a manual incident for a problem seen outside BatchOps."""
    from batchops.services import incidents

    _done(incidents.open_manual(title, severity=severity, description=description, actor=as_), json_out, "opened")


@app.command("show")
@needs_store()
def incidents_show(incident_id: str, json_out: JsonOutput = False) -> None:
    """One incident with its timeline, tickets and matched known error."""
    from batchops.services import incidents

    emit(incidents.show_incident(incident_id), json_out, _render_incident)


@app.command("assign")
@needs_store()
def incidents_assign(
    incident_id: str,
    to: Annotated[str, typer.Option("--to", help="Who takes it.", metavar="NAME")],
    as_: Actor = None,
    json_out: JsonOutput = False,
) -> None:
    """Assign (or re-assign) an incident: open -> assigned."""
    from batchops.services import incidents

    _done(incidents.assign(incident_id, to, actor=as_), json_out, f"assigned to {to}")


@app.command("analyze")
@needs_store()
def incidents_analyze(
    incident_id: str,
    impact: Annotated[str | None, typer.Option("--impact", help="Impact summary.")] = None,
    root_cause: Annotated[str | None, typer.Option("--root-cause", help="Root cause.")] = None,
    corrective_action: Annotated[str | None, typer.Option("--corrective-action", help="Corrective action.")] = None,
    as_: Actor = None,
    json_out: JsonOutput = False,
) -> None:
    """Record the analysis (all fields stay editable): assigned -> analyzing."""
    from batchops.services import incidents

    _done(
        incidents.analyze(
            incident_id, impact=impact, root_cause=root_cause, corrective_action=corrective_action, actor=as_
        ),
        json_out,
        "analysis recorded",
    )


@app.command("retry")
@needs_store(recover=True)
def incidents_retry(
    incident_id: str,
    now: Annotated[bool, typer.Option("--now", help="Run the pipeline here instead of queueing it.")] = False,
    as_: Actor = None,
    json_out: JsonOutput = False,
) -> None:
    """Run the failed work again (re-queue the upload's pipeline, or trigger the job)."""
    from batchops.services import incidents

    result = incidents.retry(incident_id, actor=as_, now=now)
    run = result["run"] or {}
    emit(
        result,
        json_out,
        lambda r: info(
            f"incident {r['incident']['id']}: retry run {run.get('run_id')} {run.get('status')}; "
            f"incident now {r['incident']['state']}"
        ),
    )
    warn_if_no_worker([run.get("status")])
    if run.get("status") == "failed":
        raise typer.Exit(1)


@app.command("resolve")
@needs_store()
def incidents_resolve(
    incident_id: str,
    report: Annotated[str, typer.Option("--report", help="The resolution report.")],
    as_: Actor = None,
    json_out: JsonOutput = False,
) -> None:
    """Resolve with a report."""
    from batchops.services import incidents

    _done(incidents.resolve(incident_id, report, actor=as_), json_out, "resolved")


@app.command("archive")
@needs_store()
def incidents_archive(incident_id: str, as_: Actor = None, json_out: JsonOutput = False) -> None:
    """Archive a resolved incident."""
    from batchops.services import incidents

    _done(incidents.archive(incident_id, actor=as_), json_out, "archived")


@app.command("comment")
@needs_store()
def incidents_comment(incident_id: str, text: str, as_: Actor = None, json_out: JsonOutput = False) -> None:
    """Add a comment to the timeline."""
    from batchops.services import incidents

    _done(incidents.comment(incident_id, text, actor=as_), json_out, "comment added")
