"""Scheduled jobs: list, show, add, edit, delete, pause, resume, trigger, preview.

The store is the single source of truth: the scheduler tick reads these rows,
so an edit here changes what the next tick does. Every change is validated the
same way for the CLI and the TUI: a strict 5-field cron (``E_CRON_INVALID``
with the reason), an IANA zone, a registered callable
(``E_CALLABLE_NOT_REGISTERED``), JSON arguments that fit the callable, and a
missed-run policy of skip, once or all.
"""

from __future__ import annotations

from batchops import clock, context
from batchops.clock import utc_now
from batchops.errors import InputError, InvalidJSON
from batchops.services.common import get_record, parse_json, row_dict
from batchops.store.db import write
from batchops.store.models import MISSED_POLICIES, TRIGGERS, Job, JobRun

MAX_RETRY_DELAY_S = 6 * 3600
EDITABLE = (
    "name",
    "callable",
    "cron",
    "args",
    "kwargs",
    "timezone",
    "timeout_s",
    "retries",
    "retry_delay_s",
    "misfire_policy",
    "max_lateness_min",
    "description",
    "paused",
    "enabled",
)


def job_dict(job: Job) -> dict:
    out = row_dict(job)
    # what lists show: a paused job has no next run (its stored next_run_at goes stale while paused)
    out["state"] = "disabled" if not job.enabled else "paused" if job.paused else "active"
    out["next_run"] = out["next_run_at"] if out["state"] == "active" else out["state"]
    return out


def list_jobs() -> list[dict]:
    return [job_dict(j) for j in Job.select().order_by(Job.id)]


def show_job(ident) -> dict:
    return job_dict(get_record(Job, ident, "job"))


def get_job(ident) -> Job:
    return get_record(Job, ident, "job")


# ------------------------------------------------------------------ validation


def json_value(value, what: str, kind: type, default=None):
    """``value`` as a JSON array (``kind=list``) or object (``dict``): given parsed, or as text (inline or
    @file); None or blank text gives ``default`` (a callable is called; default: an empty ``kind``).
    E_JSON_INVALID otherwise. The job form checks its fields with this as they are typed."""
    default = kind if default is None else default
    if isinstance(value, str):
        value = value.strip() or None
    if value is None:
        return default() if callable(default) else default
    if isinstance(value, str):
        value = parse_json(value, what, default=default())
    if not isinstance(value, kind):
        raise InvalidJSON(f"{what} must be a JSON {'array' if kind is list else 'object'}, not {type(value).__name__}")
    return value


def _int(value, what: str, low: int, high: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a whole number, not {value!r}", code="E_JOB_INVALID") from None
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InputError(f"{what} must be {bound}, not {number}", code="E_JOB_INVALID")
    return number


def _policy(value: str) -> str:
    if value not in MISSED_POLICIES:
        raise InputError(
            f"missed-run policy must be one of {', '.join(MISSED_POLICIES)}, not {value!r}", code="E_POLICY_INVALID"
        )
    return value


def _name(value: str, job_id: int | None = None) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise InputError("a job needs a name", code="E_JOB_INVALID")
    if len(name) > 128:
        raise InputError("job names are at most 128 characters", code="E_JOB_INVALID")
    clash = Job.select(Job.id).where(Job.name == name)
    if job_id is not None:
        clash = clash.where(Job.id != job_id)
    if clash.exists():
        raise InputError(f"a job named {name!r} exists already", code="E_JOB_EXISTS")
    return name


def _validated(fields: dict, job_id: int | None = None) -> dict:
    """Normalise and check the given fields (only those present)."""
    from batchops.automation import registry
    from batchops.cron import validate_cron, validate_timezone

    out = dict(fields)
    if "name" in out:
        out["name"] = _name(out["name"], job_id)
    if "callable" in out:
        registry.entry(out["callable"])
        out["callable"] = out["callable"].strip()
    if "cron" in out:
        out["cron"] = validate_cron(out["cron"])
    if "timezone" in out:
        out["timezone"] = validate_timezone(out["timezone"] or context.config().display_timezone)
    if "args" in out:
        out["args"] = json_value(out["args"], "args", list)
    if "kwargs" in out:
        out["kwargs"] = json_value(out["kwargs"], "kwargs", dict)
    if "timeout_s" in out:
        out["timeout_s"] = _int(out["timeout_s"], "timeout", 1, 7 * 86400)
    if "retries" in out:
        out["retries"] = _int(out["retries"], "retries", 0, 20)
    if "retry_delay_s" in out:
        out["retry_delay_s"] = _int(out["retry_delay_s"], "retry delay", 0, MAX_RETRY_DELAY_S)
    if "max_lateness_min" in out:
        out["max_lateness_min"] = _int(out["max_lateness_min"], "max lateness", 0, 31 * 24 * 60)
    if "misfire_policy" in out:
        out["misfire_policy"] = _policy(out["misfire_policy"])
    if "description" in out:
        out["description"] = str(out["description"] or "")
    for flag in ("paused", "enabled"):
        if flag in out:
            out[flag] = bool(out[flag])
    return out


# ------------------------------------------------------------------ changes


def add_job(
    name,
    callable,
    cron,
    *,
    args=None,
    kwargs=None,
    timezone=None,
    timeout_s=600,
    retries=0,
    retry_delay_s=60,
    misfire_policy=None,
    max_lateness_min=None,
    description="",
    paused=False,
) -> dict:
    """Create a job; its first fire time is the next cron time after now in its zone."""
    from batchops.automation import registry
    from batchops.cron import next_fire_time

    context.require_writable()
    cfg = context.config()
    fields = _validated(
        {
            "name": name,
            "callable": callable,
            "cron": cron,
            "args": args,
            "kwargs": kwargs,
            "timezone": timezone or cfg.display_timezone,
            "timeout_s": timeout_s,
            "retries": retries,
            "retry_delay_s": retry_delay_s,
            "misfire_policy": misfire_policy or cfg.worker.default_missed_policy,
            "max_lateness_min": max_lateness_min
            if max_lateness_min is not None
            else int(cfg.worker.max_lateness_minutes),
            "description": description or "",
            "paused": paused,
        }
    )
    registry.check_arguments(fields["callable"], fields["args"], fields["kwargs"])
    if not fields["description"]:
        entry = registry.entry(fields["callable"])
        fields["description"] = entry.description

    def change() -> Job:
        return Job.create(**fields, next_run_at=next_fire_time(fields["cron"], fields["timezone"]))

    return job_dict(write(change))


def edit_job(job_id, **changes) -> dict:
    """Change some fields; a new cron or zone recomputes the next fire time from now."""
    from batchops.automation import registry
    from batchops.cron import next_fire_time

    context.require_writable()
    job = get_job(job_id)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InputError(f"cannot edit {', '.join(unknown)} (editable: {', '.join(EDITABLE)})", code="E_JOB_INVALID")
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return job_dict(job)
    fields = _validated(changes, job.id)
    if {"callable", "args", "kwargs"} & set(fields):
        registry.check_arguments(
            fields.get("callable", job.callable),
            fields.get("args", job.args or []),
            fields.get("kwargs", job.kwargs or {}),
        )
    cron = fields.get("cron", job.cron)
    tz = fields.get("timezone", job.timezone)
    if "cron" in fields or "timezone" in fields or (fields.get("paused") is False and job.paused):
        fields["next_run_at"] = next_fire_time(cron, tz)
    if fields.get("paused") is False:
        fields["paused_reason"] = ""
    fields["updated_at"] = utc_now()

    def change():
        Job.update(**fields).where(Job.id == job.id).execute()

    write(change)
    return job_dict(Job.get_by_id(job.id))


def delete_job(job_id) -> dict:
    """Delete a job; its runs stay (with the job's name) and its pending runs are cancelled when they start."""
    context.require_writable()
    job = get_job(job_id)
    data = job_dict(job)

    def change():
        job.delete_instance()

    write(change)
    return data


def pause_job(job_id, reason: str = "") -> dict:
    """No scheduled fires while paused (manual triggers still run)."""
    context.require_writable()
    job = get_job(job_id)

    def change():
        Job.update(paused=True, paused_reason=reason or f"paused by {context.actor()}", updated_at=utc_now()).where(
            Job.id == job.id
        ).execute()

    write(change)
    return job_dict(Job.get_by_id(job.id))


def resume_job(job_id) -> dict:
    """Resume from now on: fires missed while paused are not caught up (pausing is deliberate)."""
    from batchops.cron import next_fire_time

    context.require_writable()
    job = get_job(job_id)

    def change():
        Job.update(
            paused=False, paused_reason="", next_run_at=next_fire_time(job.cron, job.timezone), updated_at=utc_now()
        ).where(Job.id == job.id).execute()

    write(change)
    return job_dict(Job.get_by_id(job.id))


def retry_delay(delay: float | None, attempt: int) -> float | None:
    """Retries back off: attempt 2 waits ``delay``, attempt 3 twice that, then 4x ... (capped at 6 h)."""
    if not delay:
        return delay
    return float(min(MAX_RETRY_DELAY_S, delay * (2 ** max(0, attempt - 2))))


def trigger_job(job_id, trigger: str = "cli", delay: float | None = None, attempt: int = 1) -> dict:
    """Create a job run and queue it for the worker (retries back off; see ``retry_delay``)."""
    run, delay = reserve_run(job_id, trigger=trigger, delay=delay, attempt=attempt)
    return queue_run(run.id, delay)


def reserve_run(
    job_id, trigger: str = "cli", delay: float | None = None, attempt: int = 1
) -> tuple[JobRun, float | None]:
    """Check the job and write its run (``queued``); returns it with the delay to queue it with.

    Triage calls this inside its own transaction, so a retry it decides on and the retry's run
    are one write; a run whose enqueue is then lost is queued again by ``requeue_lost``.
    """
    from batchops.automation import registry
    from batchops.services import runs

    context.require_writable()
    job = get_job(job_id)
    if trigger not in TRIGGERS:
        raise InputError(f"unknown trigger {trigger!r}", code="E_JOB_INVALID")
    registry.entry(job.callable)  # refuse now rather than fail in the worker
    if trigger == "retry":
        delay = retry_delay(delay, attempt)
    return runs.create_run("job", job=job, trigger=trigger, attempt=max(1, int(attempt))), delay


def queue_run(run_id: int, delay: float | None = None) -> dict:
    """Enqueue a run written by ``reserve_run``; one that cannot be queued is cancelled."""
    from batchops.services import runs, tasks

    try:
        tasks.enqueue_job(run_id, delay=delay)
    except BaseException as exc:
        runs.abandon(run_id, f"could not be queued: {exc}")
        raise
    out = runs.run_dict(JobRun.get_by_id(run_id))
    out["run_id"] = run_id
    out["delay_s"] = delay or 0
    return out


def run_job_now(job_id, trigger: str = "cli") -> dict:
    """Create a job run and execute it in this process (``jobs trigger --now``: no worker needed)."""
    from batchops.automation import registry
    from batchops.services import job_runs, runs

    context.require_writable()
    job = get_job(job_id)
    registry.entry(job.callable)
    run = runs.create_run("job", job=job, trigger=trigger)
    out = job_runs.execute(run.id)
    out["run_id"] = run.id
    return out


def preview_cron(cron: str, tz: str | None = None, n: int = 5, after=None) -> list[dict]:
    """The next ``n`` fire times of a cron expression in zone ``tz`` (default: the display zone), with
    daylight-saving notes; E_CRON_INVALID / E_TIMEZONE_INVALID. Nothing is stored."""
    from batchops.cron import preview

    tz = tz or context.config().display_timezone
    n = _int(n, "-n", 1, 1000)
    return [
        {
            "utc": clock.iso(fire.utc),
            "local": fire.local.isoformat(),
            "timezone": tz,
            "display": clock.fmt(fire.utc, tz),
            "note": fire.note,
        }
        for fire in preview(cron, tz, n, after=after)
    ]


def next_runs(job_id, n: int = 5, after=None) -> list[dict]:
    """The next ``n`` fire times in the job's zone (after ``after``, default now), with daylight-saving notes."""
    job = get_job(job_id)
    n = _int(n, "-n", 1, 1000)
    return preview_cron(job.cron, job.timezone, n, after=after)


def callables() -> list[dict]:
    """Registered callables with descriptions and argument docs (the TUI's picker uses this)."""
    from batchops.automation import registry

    return registry.callables()
