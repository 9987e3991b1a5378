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
    if run is None:
        return None
    outcome = triage.on_failure(run, error, reserve=_reserve_retry)
    if outcome is None:
        return None
    try:
        if outcome.retry_run is not None:
            _queue_retry(run, outcome, outcome.retry_run)
        if outcome.action in ("opened", "reopened") and outcome.retry is None:
            _notify(outcome.incident_id, outcome.action, run)
        elif outcome.escalated:
            _notify(outcome.incident_id, "escalated", run)
    except Exception:  # noqa: BLE001
        log.exception("triage side effects failed for incident %s", outcome.incident_id)
    return Incident.get_or_none(Incident.id == outcome.incident_id)


def handle_success(run: JobRun | None) -> None:
    """A run succeeded: auto-resolve its incidents and send a recovery notice for each."""
    if run is None:
        return
    for incident_id in triage.on_success(run):
        try:
            _notify(incident_id, "recovered", run)
        except Exception:  # noqa: BLE001
            log.exception("recovery notice failed for incident %s", incident_id)


def _notify(incident_id: int, action: str, run: JobRun) -> None:
    from batchops.services import notify

    notify.notify_incident(incident_id, action, run=run)


def _reserve_retry(run: JobRun, attempt: int, delay: float) -> tuple[int, float | None]:
    """Write the retry's run; triage calls this inside its transaction, so decision and run are one write."""
    if run.kind == "pipeline":
        if run.upload_id is None:
            raise RuntimeError("the upload was deleted")
        from batchops.services import processing

        return processing.reserve_retry(run.upload_id, attempt).id, delay
    if run.job_id is None:
        raise RuntimeError("the job was deleted")
    from batchops.services import jobs

    retry, queue_delay = jobs.reserve_run(run.job_id, trigger="retry", delay=delay, attempt=attempt)
    return retry.id, queue_delay


def _queue_retry(run: JobRun, outcome: triage.Outcome, retry_run: int) -> None:
    """Queue the retry's run after the commit; a failure to queue is written on the timeline, never raised.

    A run whose enqueue is lost stays ``queued`` and ``tasks.requeue_lost`` queues it again."""
    attempt = outcome.retry[0] if outcome.retry else None
    try:
        if run.kind == "pipeline":
            from batchops.services import processing

            processing.queue_reserved(retry_run, delay=outcome.retry_delay)
        else:
            from batchops.services import jobs

            jobs.queue_run(retry_run, delay=outcome.retry_delay)
        log.info("incident %s: retry attempt %s: run %s queued", outcome.incident_id, attempt, retry_run)
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        log.warning("incident %s: could not queue retry: %s", outcome.incident_id, exc)
        triage.note(
            outcome.incident_id,
            "auto-retry",
            f"auto-retry attempt {attempt} could not be queued: {exc.__class__.__name__}: {exc}",
        )
