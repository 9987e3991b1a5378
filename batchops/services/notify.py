"""Notifications without alert storms: e-mail and webhooks through the outbox.

When an operator hears from BatchOps:

* an incident **opens** (or re-opens) at or above ``incidents.notify_min_severity``
  - unless an auto-retry is pending (then only the final failure alerts);
* its **final retry fails** (escalation), judged on the raised severity;
* it **recovers** (auto-resolved by a later successful run) - only when an alert
  about it went out, so a recovery notice always answers an alert.

Never for a repeat occurrence, never for a run an operator started by hand
(trigger cli/tui, or a retry of one) unless ``incidents.notify_manual_runs``,
and at most one alert per signature every ``incidents.rate_limit_minutes``
(``Incident.last_notified_at`` across every incident with that signature).

Delivery goes through ``services.outbox``: a message that cannot be delivered
(no SMTP server, server down, webhook failing) waits in ``outbox/`` and is
retried by ``outbox.flush()``. Every decision is written on the timeline.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from batchops import clock, context
from batchops.clock import as_utc, utc_now
from batchops.incidents.workflow import SYSTEM_ACTOR, add_event, severity_rank
from batchops.store.db import db, retry_busy
from batchops.store.models import Incident, IncidentEvent, JobRun, KnownError

log = logging.getLogger("batchops.incidents")

ALERT_REASONS = ("opened", "reopened", "escalated")
REASONS = (*ALERT_REASONS, "recovered")


def origin_trigger(run: JobRun | None) -> str | None:
    """The trigger of the run that started this chain (a retry inherits its original's)."""
    if run is None:
        return None
    if run.trigger != "retry":
        return run.trigger
    query = JobRun.select(JobRun.trigger).where((JobRun.id < run.id) & (JobRun.trigger != "retry"))
    if run.kind == "pipeline" and run.upload_id:
        first = query.where(JobRun.upload == run.upload_id).order_by(JobRun.id.desc()).first()
    elif run.job_id:
        first = query.where(JobRun.job == run.job_id).order_by(JobRun.id.desc()).first()
    else:
        first = None
    return first.trigger if first else "retry"


def _last_notice(incident: Incident) -> IncidentEvent | None:
    return (
        IncidentEvent.select()
        .where((IncidentEvent.incident == incident.id) & (IncidentEvent.kind == "notify"))
        .order_by(IncidentEvent.id.desc())
        .first()
    )


def decide(incident: Incident, reason: str, run: JobRun | None = None, now=None) -> tuple[bool, str]:
    """(send?, why) - the whole policy in one place."""
    cfg = context.config().incidents
    now = now or utc_now()
    if reason not in REASONS:
        return False, f"unknown reason {reason}"
    if not cfg.notify_emails and not cfg.webhooks:
        return False, "no recipients configured"
    if reason == "recovered":  # however the fixing run was started: it answers an alert
        last = _last_notice(incident)
        if last is None or last.message.startswith("recovered"):
            return False, "no alert went out, so no recovery notice"
        return True, "answers the alert sent " + clock.fmt(last.at)
    trigger = origin_trigger(run)
    if trigger in ("cli", "tui") and not cfg.notify_manual_runs:
        return False, f"started by hand ({trigger}); incidents.notify_manual_runs is off"
    if severity_rank(incident.severity) < severity_rank(cfg.notify_min_severity):
        return False, f"severity {incident.severity} is below incidents.notify_min_severity ({cfg.notify_min_severity})"
    if cfg.rate_limit_minutes > 0:
        since = now - timedelta(minutes=cfg.rate_limit_minutes)
        recent = (
            Incident.select(Incident.id, Incident.last_notified_at)
            .where((Incident.signature == incident.signature) & (Incident.last_notified_at >= since))
            .first()
        )
        if recent is not None:
            return False, (
                f"rate limit: signature alerted {clock.fmt(as_utc(recent.last_notified_at))} "
                f"(once per {cfg.rate_limit_minutes:g} min)"
            )
    return True, f"severity {incident.severity} at or above {cfg.notify_min_severity}"


def payload(incident: Incident, reason: str, run: JobRun | None = None) -> dict:
    ke = KnownError.get_or_none(KnownError.id == incident.known_error_id) if incident.known_error_id else None
    return {
        "event": reason,
        "incident_id": incident.id,
        "state": incident.state,
        "severity": incident.severity,
        "title": incident.title,
        "signature": incident.signature,
        "occurrences": incident.occurrences,
        "error": {"code": incident.error_code, "message": incident.error_message},
        "known_error": {"id": ke.id, "name": ke.name} if ke else None,
        "unknown_error": incident.unknown_error,
        "retries": {"used": incident.retry_count, "max": incident.retry_max},
        "links": {
            "upload_id": incident.upload_id,
            "run_id": run.id if run is not None else incident.run_id,
            "job_id": incident.job_id,
            "previous_incident_id": incident.previous_id,
            "show": f"batchops incidents show {incident.id}",
        },
        "at": clock.iso(utc_now()),
    }


SUBJECTS = {
    "opened": "{sev} incident #{id} opened: {title}",
    "reopened": "{sev} incident #{id} re-opened: {title}",
    "escalated": "{sev} incident #{id} escalated, retries exhausted: {title}",
    "recovered": "RECOVERED incident #{id}: {title}",
}


def email_text(data: dict) -> tuple[str, str]:
    subject = "[BatchOps] " + SUBJECTS[data["event"]].format(
        sev=data["severity"].upper(), id=data["incident_id"], title=data["title"]
    )
    lines = [
        f"Incident #{data['incident_id']} - {data['title']}",
        f"Event:       {data['event']}",
        f"State:       {data['state']}    Severity: {data['severity']}    Occurrences: {data['occurrences']}",
        f"Error:       {data['error']['code']}: {data['error']['message']}",
        f"Known error: {data['known_error']['name'] if data['known_error'] else 'none (unknown error)'}",
        f"Retries:     {data['retries']['used']} of {data['retries']['max']}",
        f"Run:         {data['links']['run_id']}    Upload: {data['links']['upload_id'] or '-'}"
        f"    Job: {data['links']['job_id'] or '-'}",
        "",
        f"Details: {data['links']['show']}",
    ]
    return subject[:250], "\n".join(lines) + "\n"


def deliver(data: dict) -> dict:
    """Send to every configured address and URL; returns counts (undelivered ones wait in the outbox)."""
    from batchops.services import outbox

    cfg = context.config().incidents
    tag = f"incident-{data['incident_id']}-{data['event']}"
    sent = parked = 0
    if cfg.notify_emails:
        subject, body = email_text(data)
        result = outbox.send_email(cfg.notify_emails, subject, body, tag=tag)
        sent, parked = (sent + 1, parked) if result["delivered"] else (sent, parked + 1)
    for url in cfg.webhooks:
        result = outbox.post_webhook(url, data, tag=tag)
        sent, parked = (sent + 1, parked) if result["delivered"] else (sent, parked + 1)
    return {"delivered": sent, "outbox": parked}


@retry_busy
def _record(incident_id: int, message: str, sent: bool, stamp: bool) -> None:
    with db.atomic():
        incident = Incident.get_by_id(incident_id)
        add_event(incident, "notify" if sent else "notify-skip", SYSTEM_ACTOR, message)
        if stamp:
            Incident.update(last_notified_at=utc_now()).where(Incident.id == incident_id).execute()


def notify_incident(incident_id: int, reason: str, run: JobRun | None = None) -> dict | None:
    """Apply the policy and deliver. Returns the delivery counts, or None when nothing was sent."""
    incident = Incident.get_by_id(incident_id)
    send, why = decide(incident, reason, run)
    if not send:
        log.info("incident %s: no %s notice: %s", incident_id, reason, why)
        if why != "no recipients configured":
            _record(incident_id, f"no {reason} notice: {why}", sent=False, stamp=False)
        return None
    counts = deliver(payload(incident, reason, run))
    where = f"{counts['delivered']} delivered" + (
        f", {counts['outbox']} waiting in the outbox" if counts["outbox"] else ""
    )
    _record(incident_id, f"{reason} notice sent ({where}); {why}", sent=True, stamp=reason in ALERT_REASONS)
    return counts
