"""Incidents: the API the CLI and the TUI share.

Every function returns plain dicts; every mutating one checks read-only mode
first, runs in one short write transaction, appends to the timeline and
returns the incident as ``show_incident`` does. Illegal moves raise
``IllegalTransition`` (exit 2) naming the state and the action.
"""

from __future__ import annotations

from peewee import JOIN

from batchops import context
from batchops.clock import utc_now
from batchops.errors import InputError, NotFound
from batchops.incidents import workflow
from batchops.incidents.workflow import ACTIVE_STATES
from batchops.services.common import before_bound, check_filter, get_record, row_dict
from batchops.store.db import db, retry_busy
from batchops.store.models import (
    INCIDENT_STATES,
    SEVERITIES,
    Incident,
    IncidentEvent,
    Job,
    JobRun,
    KnownError,
    Ticket,
    Upload,
)

STATE_FILTERS = (*INCIDENT_STATES, "active")


def allowed_actions(incident) -> list[str]:
    """Actions legal in the incident's state (model or dict): the TUI disables the rest."""
    return workflow.allowed_actions(incident)


def incident_dict(incident: Incident, known_error_name: str | None = None) -> dict:
    out = row_dict(incident)
    if known_error_name is None and incident.known_error_id:
        ke = KnownError.select(KnownError.name).where(KnownError.id == incident.known_error_id).first()
        known_error_name = ke.name if ke else None
    out["known_error_name"] = known_error_name
    out["allowed_actions"] = workflow.allowed_actions(incident)
    return out


def event_dict(event: IncidentEvent) -> dict:
    return row_dict(event)


def get_incident(ident) -> Incident:
    return get_record(Incident, ident, "incident")


def list_incidents(
    state: str | None = None,
    severity: str | None = None,
    text: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict]:
    """Newest first, keyset-paged by ``before_id``. ``state="active"`` means open, assigned or analyzing."""
    check_filter(state, STATE_FILTERS, "incident state")
    check_filter(severity, SEVERITIES, "severity")
    query = (
        Incident.select(Incident, KnownError.name.alias("ke_name"))
        .join(KnownError, on=(Incident.known_error == KnownError.id), join_type=JOIN.LEFT_OUTER)
        .order_by(Incident.id.desc())
        .limit(max(1, min(int(limit), 10000)))
    )
    if state == "active":
        query = query.where(Incident.state.in_(ACTIVE_STATES))
    elif state:
        query = query.where(Incident.state == state)
    if severity:
        query = query.where(Incident.severity == severity)
    if text:
        query = query.where(
            Incident.title.contains(text)
            | Incident.error_message.contains(text)
            | Incident.signature.contains(text)
            | Incident.error_code.contains(text)
        )
    if before_id:
        query = query.where(Incident.id < before_bound(before_id))
    return [incident_dict(i, getattr(i, "ke_name", None) or "") for i in query.objects()]


def show_incident(ident) -> dict:
    """The incident with its timeline, tickets, matched known error and links."""
    incident = get_incident(ident)
    out = incident_dict(incident)
    out["events"] = [
        event_dict(e)
        for e in IncidentEvent.select().where(IncidentEvent.incident == incident.id).order_by(IncidentEvent.id)
    ]
    out["tickets"] = [row_dict(t) for t in Ticket.select().where(Ticket.incident == incident.id).order_by(Ticket.id)]
    ke = KnownError.get_or_none(KnownError.id == incident.known_error_id) if incident.known_error_id else None
    out["known_error"] = row_dict(ke) if ke else None
    upload = Upload.get_or_none(Upload.id == incident.upload_id) if incident.upload_id else None
    out["upload"] = (
        {"id": upload.id, "original_name": upload.original_name, "status": upload.status} if upload else None
    )
    job = Job.get_or_none(Job.id == incident.job_id) if incident.job_id else None
    out["job"] = {"id": job.id, "name": job.name} if job else None
    out["followup_ids"] = [i.id for i in Incident.select(Incident.id).where(Incident.previous == incident.id)]
    return out


@retry_busy
def _mutate(ident, fn) -> dict:
    context.require_writable()
    with db.atomic():
        incident = get_incident(ident)
        fn(incident)
    return show_incident(incident.id)


def assign(ident, to: str, actor: str | None = None) -> dict:
    return _mutate(ident, lambda i: workflow.assign(i, to, context.actor(actor)))


def analyze(
    ident,
    impact: str | None = None,
    root_cause: str | None = None,
    corrective_action: str | None = None,
    actor: str | None = None,
) -> dict:
    return _mutate(
        ident,
        lambda i: workflow.analyze(
            i, context.actor(actor), impact=impact, root_cause=root_cause, corrective_action=corrective_action
        ),
    )


def resolve(ident, report: str, actor: str | None = None) -> dict:
    return _mutate(ident, lambda i: workflow.resolve(i, report, context.actor(actor)))


def archive(ident, actor: str | None = None) -> dict:
    return _mutate(ident, lambda i: workflow.archive(i, context.actor(actor)))


def comment(ident, text: str, actor: str | None = None) -> dict:
    return _mutate(ident, lambda i: workflow.comment(i, text, context.actor(actor)))


def retry(ident, actor: str | None = None, now: bool = False) -> dict:
    """Run the failed work again: re-queue the upload's pipeline (or run it here with ``now``), or
    trigger the job. Returns ``{"incident": ..., "run": <result>}``."""
    context.require_writable()
    who = context.actor(actor)
    incident = get_incident(ident)
    workflow.check(incident, "retry")
    kind, target = _retry_target(incident)
    if kind == "pipeline":
        upload = Upload.get_or_none(Upload.id == target)
        if upload is None:
            raise NotFound(f"incident {incident.id}: its upload {target} no longer exists; nothing to retry")
        if upload.status in ("queued", "processing"):
            raise InputError(f"upload {upload.id} is already {upload.status}", code="E_UPLOAD_BUSY")
        what = f"pipeline for upload {upload.id} ({upload.original_name})"
    else:
        if Job.get_or_none(Job.id == target) is None:
            raise NotFound(f"incident {incident.id}: its job {target} no longer exists; nothing to retry")
        what = f"job {target}"
    _record_retry(incident.id, who, f"manual retry of the {what}" + (" (run here)" if now else " (queued)"))
    try:
        result = _start_retry(kind, target, now)
    except Exception as exc:
        _record_note(incident.id, who, f"retry could not start: {getattr(exc, 'message', None) or exc}")
        raise
    run_id = result.get("run_id") if isinstance(result, dict) else None
    if run_id:
        _record_note(incident.id, who, f"retry run {run_id}: {result.get('status')}", run_id=run_id)
    return {"incident": show_incident(incident.id), "run": result}


def _retry_target(incident: Incident) -> tuple[str, int]:
    if incident.upload_id:
        return "pipeline", incident.upload_id
    if incident.job_id:
        return "job", incident.job_id
    run = JobRun.get_or_none(JobRun.id == incident.run_id) if incident.run_id else None
    if run is not None and run.upload_id:
        return "pipeline", run.upload_id
    if run is not None and run.job_id:
        return "job", run.job_id
    raise InputError(f"incident {incident.id} has no upload or job left to retry", code="E_NOTHING_TO_RETRY")


def _start_retry(kind: str, target: int, now: bool) -> dict:
    if kind == "pipeline":
        from batchops.services import processing

        return processing.submit(target, trigger="retry", queue=not now)
    from batchops.services import jobs

    if now:
        return jobs.run_job_now(target, trigger="retry")
    return jobs.trigger_job(target, trigger="retry")


@retry_busy
def _record_retry(incident_id: int, actor: str, message: str) -> None:
    with db.atomic():
        incident = Incident.get_by_id(incident_id)
        workflow.check(incident, "retry")  # re-checked inside the transaction
        workflow.add_event(incident, "retry", actor, message, from_state=incident.state, to_state=incident.state)
        Incident.update(updated_at=utc_now()).where(Incident.id == incident_id).execute()


@retry_busy
def _record_note(incident_id: int, actor: str, message: str, run_id: int | None = None) -> None:
    with db.atomic():
        workflow.add_event(Incident.get_by_id(incident_id), "retry", actor, message, run_id=run_id)


@retry_busy
def open_manual(title: str, severity: str = "medium", description: str = "", actor: str | None = None) -> dict:
    """A manual incident: a problem seen outside BatchOps (a printer, a late export) worked like any other."""
    context.require_writable()
    title = (title or "").strip()
    if not title:
        raise InputError("a manual incident needs a title", code="E_TITLE_REQUIRED")
    if severity not in SEVERITIES:
        raise InputError(f"unknown severity {severity!r} (one of {', '.join(SEVERITIES)})", code="E_BAD_SEVERITY")
    who = context.actor(actor)
    now = utc_now()
    with db.atomic():
        incident = Incident.create(
            title=title[:512],
            severity=severity,
            error_message=(description or "").strip(),
            signature=f"manual|{now:%Y%m%d%H%M%S%f}",
            first_seen=now,
            last_seen=now,
            opened_at=now,
            updated_at=now,
        )
        workflow.add_event(incident, "open", who, f"opened by hand: {title}", to_state="open", at=now)
    return show_incident(incident.id)
