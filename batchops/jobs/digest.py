"""send_system_status_digest: the morning summary an IT desk reads with its tea.

Health, yesterday's runs (in the display zone), open incidents and the next
scheduled jobs, written to ``digests/digest-<date>.txt`` in the data home and
emailed (or put into the outbox) to ``incidents.notify_emails``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from batchops import clock, context
from batchops.automation.job_context import log
from batchops.clock import utc_now
from batchops.store.models import Incident, Job, JobRun
from batchops.store.objects import objects

OPEN_STATES = ("open", "assigned", "analyzing")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def _yesterday_bounds(now: datetime) -> tuple[datetime, datetime, str]:
    local_today = clock.to_display(now).date()
    day = local_today - timedelta(days=1)
    zone = clock.zone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(local_today, time.min, tzinfo=zone)
    return clock.as_utc(start), clock.as_utc(end), day.isoformat()


def build_digest(now: datetime | None = None) -> tuple[str, str, dict]:
    """(subject, body text, facts) - also used by tests and the CLI."""
    from batchops.services.health import health

    now = now or utc_now()
    cfg = context.config()
    lines: list[str] = []
    facts: dict = {}

    status = health()
    facts["healthy"] = status["healthy"]
    lines.append(f"BatchOps status digest for {cfg.school_name}, {clock.fmt(now)}")
    lines.append("")
    lines.append(f"HEALTH: {'healthy' if status['healthy'] else 'NOT healthy'}")
    for name, check in status["checks"].items():
        detail = ", ".join(
            f"{k}={clock.fmt(v) if isinstance(v, datetime) else v}"
            for k, v in check.items()
            if k not in ("ok", "online") and not isinstance(v, (list, dict))
        )
        lines.append(f"  [{'ok' if check.get('ok') else 'BAD'}] {name}: {detail}")

    start, end, day = _yesterday_bounds(now)
    runs = list(
        JobRun.select(
            JobRun.id,
            JobRun.kind,
            JobRun.status,
            JobRun.job_name,
            JobRun.upload,
            JobRun.error_code,
            JobRun.error_message,
            JobRun.trigger,
            JobRun.queued_at,
        )
        .where((JobRun.queued_at >= start) & (JobRun.queued_at < end))
        .order_by(JobRun.id)
    )
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    facts["runs_yesterday"] = counts
    lines.append("")
    lines.append(
        f"YESTERDAY ({day}): {len(runs)} run(s)"
        + (": " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) if counts else "")
    )
    failed = [r for r in runs if r.status == "failed"]
    for run in failed[:20]:
        what = f"job {run.job_name}" if run.kind == "job" else f"upload {run.upload_id}"
        lines.append(
            f"  {clock.fmt(run.queued_at)} run {run.id} ({what}, {run.trigger}): {run.error_code}: "
            f"{(run.error_message or '')[:160]}"
        )
    if len(failed) > 20:
        lines.append(f"  ... and {len(failed) - 20} more failed runs")

    incidents = sorted(
        Incident.select().where(Incident.state.in_(OPEN_STATES)),
        key=lambda i: (SEVERITY_ORDER.get(i.severity, 9), i.id),
    )
    facts["open_incidents"] = len(incidents)
    lines.append("")
    lines.append(f"OPEN INCIDENTS: {len(incidents)}")
    for inc in incidents[:20]:
        lines.append(
            f"  #{inc.id} [{inc.severity}] {inc.state}: {inc.title} "
            f"(x{inc.occurrences}, {inc.assignee or 'unassigned'}, since {clock.fmt(inc.opened_at)})"
        )
    if len(incidents) > 20:
        lines.append(f"  ... and {len(incidents) - 20} more")

    jobs = list(
        Job.select()
        .where(Job.enabled & ~Job.paused & Job.next_run_at.is_null(False))
        .order_by(Job.next_run_at)
        .limit(10)
    )
    paused = Job.select().where(Job.paused).count()
    facts["next_jobs"] = [j.name for j in jobs]
    lines.append("")
    lines.append("NEXT SCHEDULED JOBS" + (f" ({paused} paused)" if paused else ""))
    for job in jobs:
        lines.append(
            f"  {clock.fmt(job.next_run_at)}  {job.name} ({job.callable})"
            + (f" - last {job.last_status}" if job.last_status else "")
        )
    if not jobs:
        lines.append("  none")
    subject = (
        f"[BatchOps] {'OK' if status['healthy'] else 'ATTENTION'}: {len(incidents)} open incident(s), "
        f"{counts.get('failed', 0)} failed run(s) yesterday"
    )
    return subject, "\n".join(lines) + "\n", facts


def send_system_status_digest(to: list[str] | None = None) -> dict:
    cfg = context.config()
    now = utc_now()
    subject, body, facts = build_digest(now)
    local_day = clock.to_display(now).date().isoformat()
    key = f"digests/digest-{local_day}.txt"
    objects().put_bytes(key, (subject + "\n\n" + body).encode("utf-8"))
    path = objects().location(key)
    log(f"digest written to {path}")
    recipients = list(to) if to else list(cfg.incidents.notify_emails)
    out = {"file": str(path), "subject": subject, "recipients": recipients, "delivered": False, "outbox": None, **facts}
    if not recipients:
        log("no recipients (set incidents.notify_emails): the digest is only on disk")
        return out
    from batchops.services.outbox import send_email

    result = send_email(recipients, subject, body, tag="digest")
    out["delivered"], out["outbox"] = result["delivered"], result["outbox"]
    log("emailed to " + ", ".join(recipients) if result["delivered"] else f"queued in the outbox: {result['error']}")
    return out
