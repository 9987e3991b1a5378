"""Triage: every failed run becomes one clear incident, not a pile of duplicates.

``on_failure(run, error)`` records the incident for a failed pipeline or job run
and returns the decision (an ``Outcome``: which incident, retry or not,
escalated or not); ``on_success(run)`` auto-resolves and returns the incidents it
resolved. Triage only decides and records: ``services.failures`` acts on the
decision (queues the retry, sends notices). Neither function ever raises into
its caller: a bug here is logged, and the run's own outcome (a clean failure
with a code) stands.

Matching (``match``): a known error applies when its error code equals the
error's code, its regex finds something in the message (case-insensitive) and
its step filter, if any, equals the failed step. A known error with both a code
and a pattern needs both. The most specific one wins:

    code + pattern  >  code only  >  pattern only

then one with a step filter over one without, then the longer pattern, then the
older entry. An error whose code carries no information (``E_INTERNAL`` and the
other catch-alls) is matched on the pattern alone, so a wrapped
"database is locked" still finds "Database busy". No match: the config's
default severity and ``unknown_error`` set, so operators can teach BatchOps.

The signature (de-duplication key) is what failed plus the error code:
``pipeline|<normalised file name>|<step>|<code>`` or ``job|<job name>|<code>``.
While an incident with that signature is active a repeat only counts; a
recurrence within the re-open window after resolution re-opens it; a later one
opens a new incident linked to the old one (``previous``).

Auto-retry: when the matched known error allows it (or, for a job without one,
the job's own ``retries``), the caller's ``reserve`` writes the retry's run in the same
transaction as the decision and the services queue it after the commit; the incident counts
attempts, and when the final attempt
fails it escalates (severity one step up, a timeline event, a notification).
A later successful run of the same file or job resolves the incident with
"recovered by run N".
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from batchops import context
from batchops.clock import as_utc, utc_now
from batchops.incidents import patterns, workflow
from batchops.incidents.workflow import ACTIVE_STATES, SYSTEM_ACTOR, add_event
from batchops.redact import redact
from batchops.store.db import db, for_update, lock, retry_busy
from batchops.store.models import Incident, JobRun, KnownError, Ticket, Upload

log = logging.getLogger("batchops.incidents")

# Codes that say nothing about the cause: matched on the message alone.
GENERIC_CODES = frozenset({"", "E_INTERNAL", "E_BATCHOPS", "E_FAILED", "E_PIPELINE", "E_JOB_FAILED"})
LEVEL_NAMES = {3: "code+pattern", 2: "code", 1: "pattern"}
MAX_SUBJECT = 160


# --------------------------------------------------------------------------- matching


@dataclass
class Match:
    known_error: KnownError
    level: int  # 3 code+pattern, 2 code, 1 pattern

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]

    def rank(self) -> tuple:
        ke = self.known_error
        return (self.level, 1 if ke.step else 0, len(ke.pattern or ""), -ke.id)


compile_pattern = patterns.compile_pattern  # operators' regexes run under a time budget


def match_one(ke: KnownError, code: str | None, message: str, step: str | None, compiled=None) -> Match | None:
    """How ``ke`` matches this error, or None."""
    ke_code = (ke.error_code or "").strip()
    try:
        regex = compiled if compiled is not None else compile_pattern(ke.pattern)
    except patterns.error:
        log.warning("known error %s has an invalid pattern %r; skipped", ke.id, ke.pattern)
        return None
    if not ke_code and regex is None:
        return None  # matches everything: too broad to mean anything
    if ke.step and step and ke.step != step:
        return None
    code = (code or "").strip()
    pattern_hit = regex is not None and patterns.search(regex, message or "")
    if ke_code and code == ke_code:
        if regex is None:
            return Match(ke, 2)
        return Match(ke, 3) if pattern_hit else None
    if ke_code and code not in GENERIC_CODES:
        return None  # a specific, different code
    return Match(ke, 1) if pattern_hit else None


def match_all(
    code: str | None, message: str, step: str | None = None, known: list[KnownError] | None = None
) -> list[Match]:
    """Every known error that matches, best first."""
    known = known if known is not None else list(KnownError.select())
    found = [m for ke in known if (m := match_one(ke, code, message, step)) is not None]
    return sorted(found, key=Match.rank, reverse=True)


def match(
    code: str | None, message: str, step: str | None = None, known: list[KnownError] | None = None
) -> Match | None:
    found = match_all(code, message, step, known)
    return found[0] if found else None


# --------------------------------------------------------------------------- signature


def normalise_name(name: str | None) -> str:
    """'Reports/Missing  Columns.CSV' -> 'missing columns.csv' (base name, case and spaces folded)."""
    base = re.split(r"[\\/]", (name or "").strip())[-1]
    return re.sub(r"\s+", " ", base).strip().lower() or "(unnamed)"


def _fit(subject: str) -> str:
    if len(subject) <= MAX_SUBJECT:
        return subject
    digest = hashlib.sha1(subject.encode("utf-8")).hexdigest()[:12]
    return f"{subject[: MAX_SUBJECT - 13]}~{digest}"


def subject_of(run: JobRun) -> str:
    """What failed, without the error: the prefix every signature of this file or job shares."""
    if run.kind == "pipeline":
        # The department is part of "what": Arts' marks.csv is not Science's marks.csv.
        name = department = None
        if run.upload_id:
            row = Upload.select(Upload.original_name, Upload.department).where(Upload.id == run.upload_id).first()
            name, department = (row.original_name, row.department) if row else (None, None)
        dept = normalise_name(department) if department else "-"
        return f"pipeline|{dept}|{_fit(normalise_name(name or f'upload-{run.upload_id}'))}|"
    return f"job|{_fit((run.job_name or f'job-{run.job_id}').strip())}|"


def signature(run: JobRun, code: str | None, step: str | None) -> str:
    if run.kind == "pipeline":
        return f"{subject_of(run)}{step or '-'}|{code or 'E_UNKNOWN'}"
    return f"{subject_of(run)}{code or 'E_UNKNOWN'}"


# --------------------------------------------------------------------------- failure


@dataclass
class Outcome:
    """What the transaction decided; the side effects (queue, mail) happen after commit."""

    incident_id: int
    action: str  # opened / occurrence / reopened
    retry: tuple[int, int] | None = None  # (attempt number, delay seconds)
    escalated: bool = False
    retry_run: int | None = None  # the retry's run, written in the same transaction as the decision
    retry_delay: float | None = None  # what to queue it with (a job's retries back off)


def _error_parts(run: JobRun, error) -> tuple[str | None, str, str | None]:
    code = getattr(error, "code", None) or run.error_code
    message = getattr(error, "message", None) or (str(error) if error is not None else "") or run.error_message or ""
    step = getattr(error, "step", None) or run.failed_step
    return code, redact(message), step


def _retry_policy(run: JobRun, ke: KnownError | None) -> tuple[int, int]:
    """(max retries, delay seconds): the known error's, else (for jobs) the job's own."""
    if ke is not None and ke.auto_retry and ke.retry_max > 0:
        return ke.retry_max, max(0, ke.retry_delay_s)
    if run.kind == "job" and run.job_id:
        from batchops.store.models import Job

        job = Job.get_or_none(Job.id == run.job_id)
        if job is not None and job.retries > 0:
            return job.retries, max(0, job.retry_delay_s)
    return 0, 0


def _title(run: JobRun, ke: KnownError | None, code: str | None, step: str | None) -> str:
    what = ke.name if ke is not None else f"Unknown error {code or 'E_UNKNOWN'}"
    if run.kind == "pipeline":
        name = None
        if run.upload_id:
            row = Upload.select(Upload.original_name).where(Upload.id == run.upload_id).first()
            name = row.original_name if row else None
        where = f" in {name or f'upload {run.upload_id}'}"
        return f"{what}{where}" + (f" ({step})" if step else "")
    return f"{what} in job {run.job_name or run.job_id}"


def _open_new(run, sig, code, message, step, found: Match | None, previous: Incident | None, now) -> Incident:
    ke = found.known_error if found else None
    retry_max, _ = _retry_policy(run, ke)
    incident = Incident.create(
        title=_title(run, ke, code, step)[:512],
        state="open",
        severity=ke.severity if ke is not None else context.config().incidents.default_severity,
        signature=sig,
        occurrences=1,
        upload=run.upload_id,
        run=run.id,
        job=run.job_id,
        known_error=ke.id if ke is not None else None,
        previous=previous.id if previous is not None else None,
        unknown_error=ke is None,
        error_code=code,
        error_message=message,
        step=step,
        root_cause=ke.root_cause if ke is not None else "",
        corrective_action=ke.corrective_action if ke is not None else "",
        retry_max=retry_max,
        first_seen=now,
        last_seen=now,
        opened_at=now,
        updated_at=now,
    )
    how = (
        f"matched known error {ke.id} {ke.name!r} on {found.level_name}"
        if found is not None and ke is not None
        else "no known error matched (unknown error: teach BatchOps with `batchops known-errors add`)"
    )
    text = f"run {run.id} ({run.trigger}) failed: {code}: {message} - {how}"
    if previous is not None:
        text += (
            f"; recurrence of incident {previous.id} (resolved {previous.resolved_at:%Y-%m-%d %H:%M} UTC)"
            if previous.resolved_at
            else f"; follows incident {previous.id}"
        )
    add_event(incident, "open", SYSTEM_ACTOR, text, to_state="open", run_id=run.id, at=now)
    if ke is None or ke.open_ticket:
        title = (
            f"Fix: {incident.title}" if ke is not None else f"Investigate {incident.title} and add a known error for it"
        )
        ticket = Ticket.create(incident=incident.id, title=title[:512], created_at=now, updated_at=now)
        add_event(incident, "ticket", SYSTEM_ACTOR, f"ticket {ticket.id} opened: {ticket.title}", at=now)
    return incident


def _count_recurrence(incident: Incident, run: JobRun, message: str, now) -> None:
    """One more occurrence of a known incident: this run is now its latest evidence.

    The count is incremented in SQL (``occurrences = occurrences + 1``), never from a value read earlier.
    """
    Incident.update(
        occurrences=Incident.occurrences + 1,
        last_seen=now,
        run=run.id,
        upload=run.upload_id or incident.upload_id,
        error_message=message,
        updated_at=now,
    ).where(Incident.id == incident.id).execute()
    fresh = Incident.select(Incident.occurrences).where(Incident.id == incident.id).get()
    incident.occurrences, incident.last_seen, incident.run = fresh.occurrences, now, run.id
    incident.upload, incident.error_message, incident.updated_at = run.upload_id or incident.upload_id, message, now


@retry_busy
def _record_failure(run: JobRun, error, reserve=None) -> Outcome:
    code, message, step = _error_parts(run, error)
    sig = signature(run, code, step)
    now = utc_now()
    window = timedelta(hours=context.config().incidents.reopen_window_hours)
    # Operators' regexes run before the write lock: a slow pattern must not stall every process.
    found = match(code, message, step)
    with db.atomic():  # IMMEDIATE on SQLite: two workers cannot both open the same incident
        lock(f"incident:{sig}")  # PostgreSQL: the same, per signature (the unique index is the backstop)
        active = for_update(
            Incident.select()
            .where((Incident.signature == sig) & (Incident.state.in_(ACTIVE_STATES)))
            .order_by(Incident.id.desc())
        ).first()
        if active is not None:
            incident, action = active, "occurrence"
            _count_recurrence(incident, run, message, now)
            add_event(
                incident,
                "occurrence",
                SYSTEM_ACTOR,
                f"occurrence {incident.occurrences}: run {run.id} ({run.trigger}, attempt {run.attempt}) "
                f"failed again: {code}: {message}",
                run_id=run.id,
                at=now,
            )
        else:
            last = Incident.select().where(Incident.signature == sig).order_by(Incident.id.desc()).first()
            resolved_at = as_utc(last.resolved_at) if last is not None else None
            if last is not None and last.state == "resolved" and resolved_at and now - resolved_at <= window:
                incident, action = last, "reopened"
                _count_recurrence(incident, run, message, now)
                workflow.reopen(
                    incident,
                    f"re-opened: run {run.id} failed again with {code} "
                    f"{_ago(now - resolved_at)} after it was resolved "
                    f"(within the {window.total_seconds() / 3600:g} h window)",
                    run_id=run.id,
                )
            else:
                incident = _open_new(run, sig, code, message, step, found, last, now)
                action = "opened"
        outcome = _decide_retry(incident, run, action, now)
        if outcome.retry is not None and reserve is not None:
            _reserve_retry(run, incident, outcome, now, reserve)
        return outcome


def _decide_retry(incident: Incident, run: JobRun, action: str, now) -> Outcome:
    outcome = Outcome(incident.id, action)
    ke = KnownError.get_or_none(KnownError.id == incident.known_error_id) if incident.known_error_id else None
    retry_max, delay = _retry_policy(run, ke)
    if retry_max <= 0:
        return outcome
    if incident.retry_max != retry_max:
        incident.retry_max = retry_max
    if incident.retry_count < retry_max:
        Incident.update(retry_count=Incident.retry_count + 1, retry_max=retry_max).where(
            Incident.id == incident.id
        ).execute()
        incident.retry_count = Incident.select(Incident.retry_count).where(Incident.id == incident.id).scalar()
        outcome.retry = (run.attempt + 1, delay)
        add_event(
            incident,
            "auto-retry",
            SYSTEM_ACTOR,
            f"auto-retry {incident.retry_count} of {retry_max} scheduled in {delay} s (attempt {run.attempt + 1})",
            run_id=run.id,
            at=now,
        )
    elif run.trigger == "retry" and not incident.escalated:
        before = incident.severity
        incident.severity = workflow.raise_severity(before)
        incident.escalated = True
        incident.updated_at = now
        Incident.update(severity=incident.severity, escalated=True, updated_at=now, retry_max=retry_max).where(
            Incident.id == incident.id
        ).execute()
        outcome.escalated = True
        add_event(
            incident,
            "escalate",
            SYSTEM_ACTOR,
            f"final retry failed (run {run.id}, {incident.retry_count} of {retry_max} retries used): "
            f"severity {before} -> {incident.severity}",
            run_id=run.id,
            at=now,
        )
    elif incident.retry_max != retry_max:
        Incident.update(retry_max=retry_max).where(Incident.id == incident.id).execute()
    return outcome


def _ago(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _reserve_retry(run: JobRun, incident: Incident, outcome: Outcome, now, reserve) -> None:
    """Write the retry's run with the decision (``reserve`` is the services' writer): a process
    killed before queueing it leaves a queued run (``requeue_lost`` queues it), never an announced
    retry that never comes."""
    assert outcome.retry is not None  # only called once a retry was decided
    attempt, delay = outcome.retry
    try:
        with db.atomic():  # a savepoint: a retry that cannot be written must not undo the incident
            outcome.retry_run, outcome.retry_delay = reserve(run, attempt, delay)
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        outcome.retry_run = None
        log.warning("incident %s: could not schedule retry: %s", incident.id, exc)
        add_event(
            incident,
            "auto-retry",
            SYSTEM_ACTOR,
            f"auto-retry attempt {attempt} could not be queued: {exc.__class__.__name__}: {exc}",
            at=now,
        )


@retry_busy
def note(incident_id: int, kind: str, message: str) -> None:
    """Add a system event to an incident's timeline (e.g. a retry that could not be queued)."""
    with db.atomic():
        incident = Incident.get_by_id(incident_id)
        add_event(incident, kind, SYSTEM_ACTOR, message)


def on_failure(run: JobRun | None, error, reserve=None) -> Outcome | None:
    """Triage a failed run: open, count or re-open its incident and decide the retry. Never raises.

    ``reserve(run, attempt, delay) -> (retry run id, delay to queue it with)`` writes the retry's
    run inside triage's transaction (the services pass it); the caller queues it after the commit.
    """
    try:
        if run is None:
            return None
        return _record_failure(run, error, reserve)
    except Exception:  # noqa: BLE001 - triage must never turn a clean failure into a traceback
        log.exception("triage failed for run %s", getattr(run, "id", None))
        return None


# --------------------------------------------------------------------------- success


@retry_busy
def _resolve_recovered(run: JobRun) -> list[int]:
    prefix = subject_of(run)
    resolved: list[int] = []
    active = Incident.select(Incident.id).where(
        Incident.state.in_(ACTIVE_STATES) & Incident.signature.startswith(prefix)
    )
    if not active.exists():
        return resolved  # the usual case: nothing to resolve, no write transaction
    with db.atomic():
        candidates = for_update(
            Incident.select().where(Incident.state.in_(ACTIVE_STATES) & Incident.signature.startswith(prefix))
        )
        for incident in candidates:
            if not incident.signature.startswith(prefix):  # LIKE is case-insensitive; be exact
                continue
            if incident.run_id is not None and incident.run_id > run.id:
                continue  # failed after this run: not recovered
            if run.kind == "pipeline" and incident.upload_id is not None and incident.upload_id != run.upload_id:
                continue  # another upload of a same-named file succeeding does not fix the failed one
            workflow.resolve(incident, f"recovered by run {run.id}", SYSTEM_ACTOR, run_id=run.id)
            resolved.append(incident.id)
    return resolved


def on_success(run: JobRun | None) -> list[int]:
    """A run succeeded: auto-resolve active incidents of the same file or job; their ids. Never raises."""
    try:
        if run is None:
            return []
        return _resolve_recovered(run)
    except Exception:  # noqa: BLE001
        log.exception("auto-resolve failed for run %s", getattr(run, "id", None))
        return []
