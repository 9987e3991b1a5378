"""Act on triage's decisions: queue the auto-retry, send the notices.

Triage (``incidents.triage``) records the incident and decides; this service
does what the decision asks after the transaction has committed. Like triage,
neither function ever raises into the run that failed or succeeded.
"""

from __future__ import annotations

import logging

from batchops.incidents import triage
from batchops.store.models import Incident, JobRun

log = logging.getLogger("batchops.incidents")


def handle_failure(run: JobRun | None, error) -> Incident | None:
    """Triage a failed run, queue its retry, notify; the incident (None if triage could not record it)."""
    outcome = triage.on_failure(run, error)
    if outcome is None:
        return None
    try:
        if outcome.retry is not None:
            _queue_retry(run, outcome.incident_id, *outcome.retry)
        if outcome.action in ("opened", "reopened") and outcome.retry is None:
            _notify(outcome.incident_id, outcome.action, run)
        elif outcome.escalated:
            _notify(outcome.incident_id, "escalated", run)
    except Exception:  # noqa: BLE001
        log.exception("triage side effects failed for incident %s", outcome.incident_id)
    return Incident.get_or_none(Incident.id == outcome.incident_id)


def handle_success(run: JobRun | None) -> None:
    """A run succeeded: auto-resolve its incidents and send a recovery notice for each."""
    for incident_id in triage.on_success(run):
        try:
            _notify(incident_id, "recovered", run)
        except Exception:  # noqa: BLE001
            log.exception("recovery notice failed for incident %s", incident_id)


def _notify(incident_id: int, action: str, run: JobRun) -> None:
    from batchops.services import notify

    notify.notify_incident(incident_id, action, run=run)


def _queue_retry(run: JobRun, incident_id: int, attempt: int, delay: int) -> None:
    """Queue the retry; a failure to queue is written on the timeline, never raised."""
    try:
        if run.kind == "pipeline":
            if run.upload_id is None:
                raise RuntimeError("the upload was deleted")
            from batchops.services import processing

            result = processing.submit(run.upload_id, trigger="retry", queue=True, attempt=attempt, delay=delay)
        else:
            if run.job_id is None:
                raise RuntimeError("the job was deleted")
            from batchops.services import jobs

            result = jobs.trigger_job(run.job_id, trigger="retry", delay=delay, attempt=attempt)
        log.info("incident %s: retry attempt %s: run %s queued", incident_id, attempt,
                 result.get("run_id", result.get("id")))
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        log.warning("incident %s: could not schedule retry: %s", incident_id, exc)
        triage.note(incident_id, "auto-retry", f"auto-retry attempt {attempt} could not be queued: "
                                               f"{exc.__class__.__name__}: {exc}")
