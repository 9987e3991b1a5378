"""The known-error library: list, show, add, edit, delete, and test a message.

A known error names a failure operators have seen before: an error code and/or
a regex over the message (and optionally the pipeline step), with the severity,
root cause and corrective action triage copies onto the incident, and the
auto-retry policy. ``test_message`` shows which entry a message would match
and how many past failed runs an entry would have matched - before you save.
"""

from __future__ import annotations

import re

from batchops import context
from batchops.clock import utc_now
from batchops.errors import InputError
from batchops.incidents import patterns, triage
from batchops.services.common import get_record, row_dict
from batchops.store.db import db, retry_busy
from batchops.store.models import SEVERITIES, JobRun, KnownError

STEPS = ("standardize", "validate", "transform", "summarize", "publish")
FIELDS = (
    "name",
    "error_code",
    "pattern",
    "step",
    "severity",
    "root_cause",
    "corrective_action",
    "auto_retry",
    "retry_max",
    "retry_delay_s",
    "open_ticket",
)
MAX_PATTERN = 1000
PAST_RUNS_SCAN = 20000  # newest failed runs checked by test_message
SPEED_SAMPLES = 2000  # newest failed-run messages a new pattern is timed on


def list_known_errors() -> list[dict]:
    return [row_dict(k) for k in KnownError.select().order_by(KnownError.id)]


def show_known_error(ident) -> dict:
    ke = get_record(KnownError, ident, "known error")
    out = row_dict(ke)
    out["past_matches"] = _past_matches(ke)["matched"]
    return out


def validate_pattern(pattern: str | None) -> str:
    pattern = pattern or ""
    if len(pattern) > MAX_PATTERN:
        raise InputError(f"pattern is {len(pattern)} characters; the limit is {MAX_PATTERN}", code="E_REGEX_INVALID")
    try:
        patterns.compile_pattern(pattern)
    except patterns.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise InputError(
            f"pattern {pattern!r} is not a valid regular expression: {exc.msg}{where}", code="E_REGEX_INVALID"
        ) from None
    # A slow pattern would stall triage on every failure whose text it meets: refuse it now,
    # tried on pathological strings and on the messages it would have met already.
    if pattern:
        patterns.check_speed(pattern, [r.error_message for r in _failed_runs().limit(SPEED_SAMPLES) if r.error_message])
    return pattern


def _clean(values: dict) -> dict:
    """Validate the given fields (only those present) and normalise them."""
    out = {}
    for key, value in values.items():
        if key not in FIELDS:
            raise InputError(f"unknown known-error field {key!r}", code="E_BAD_FIELD")
        if key == "name":
            value = (value or "").strip()
            if not value:
                raise InputError("a known error needs a name", code="E_NAME_REQUIRED")
            if len(value) > 128:
                raise InputError("name is longer than 128 characters", code="E_NAME_TOO_LONG")
        elif key == "pattern":
            value = validate_pattern(value)
        elif key == "error_code":
            value = (value or "").strip().upper() or None
            if value and not re.fullmatch(r"[A-Z0-9_]{1,64}", value):
                raise InputError(
                    f"error code {value!r} must be letters, digits and _ (like E_MISSING_COLUMNS)", code="E_BAD_CODE"
                )
        elif key == "step":
            value = (value or "").strip().lower() or None
            if value and value not in STEPS:
                raise InputError(f"unknown step {value!r} (one of {', '.join(STEPS)})", code="E_BAD_STEP")
        elif key == "severity":
            if value not in SEVERITIES:
                raise InputError(f"unknown severity {value!r} (one of {', '.join(SEVERITIES)})", code="E_BAD_SEVERITY")
        elif key in ("retry_max", "retry_delay_s"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InputError(f"{key} must be a whole number >= 0", code="E_BAD_RETRY")
        elif key in ("auto_retry", "open_ticket"):
            value = bool(value)
        elif value is None:
            value = ""
        out[key] = value
    return out


def _check_whole(ke: dict) -> None:
    if not ke.get("error_code") and not ke.get("pattern"):
        raise InputError(
            "a known error needs an error code or a pattern (or both); one with neither would match every failure",
            code="E_KNOWN_ERROR_TOO_BROAD",
        )
    if ke.get("auto_retry") and int(ke.get("retry_max") or 0) < 1:
        raise InputError("auto-retry needs a retry limit of at least 1 (--retry-max N)", code="E_BAD_RETRY")


def _name_taken(name: str, except_id: int | None = None) -> bool:
    query = KnownError.select(KnownError.id).where(KnownError.name == name)
    if except_id is not None:
        query = query.where(KnownError.id != except_id)
    return query.exists()


@retry_busy
def add_known_error(
    name: str,
    *,
    error_code: str | None = None,
    pattern: str = "",
    step: str | None = None,
    severity: str = "medium",
    root_cause: str = "",
    corrective_action: str = "",
    auto_retry: bool = False,
    retry_max: int = 0,
    retry_delay_s: int = 60,
    open_ticket: bool = True,
) -> dict:
    context.require_writable()
    values = _clean(
        dict(
            name=name,
            error_code=error_code,
            pattern=pattern,
            step=step,
            severity=severity,
            root_cause=root_cause,
            corrective_action=corrective_action,
            auto_retry=auto_retry,
            retry_max=retry_max,
            retry_delay_s=retry_delay_s,
            open_ticket=open_ticket,
        )
    )
    _check_whole(values)
    with db.atomic():
        if _name_taken(values["name"]):
            raise InputError(f"a known error named {values['name']!r} already exists", code="E_DUPLICATE")
        ke = KnownError.create(**values, builtin=False)
    return show_known_error(ke.id)


@retry_busy
def edit_known_error(ident, **changes) -> dict:
    """Change only the fields given (None means leave as is)."""
    context.require_writable()
    values = _clean({k: v for k, v in changes.items() if v is not None})
    with db.atomic():
        ke = get_record(KnownError, ident, "known error")
        merged = {**row_dict(ke), **values}
        _check_whole(merged)
        if "name" in values and _name_taken(values["name"], ke.id):
            raise InputError(f"a known error named {values['name']!r} already exists", code="E_DUPLICATE")
        if values:
            KnownError.update(**values, updated_at=utc_now()).where(KnownError.id == ke.id).execute()
    return show_known_error(ke.id)


@retry_busy
def delete_known_error(ident) -> dict:
    """Delete an entry; incidents that matched it keep their copied root cause and action."""
    context.require_writable()
    with db.atomic():
        ke = get_record(KnownError, ident, "known error")
        out = row_dict(ke)
        ke.delete_instance()
    return out


def _failed_runs():
    return (
        JobRun.select(JobRun.id, JobRun.error_code, JobRun.error_message, JobRun.failed_step)
        .where(JobRun.status == "failed")
        .order_by(JobRun.id.desc())
        .limit(PAST_RUNS_SCAN)
    )


def _past_matches(ke: KnownError, runs: list | None = None, known: list | None = None) -> dict:
    """How many past failed runs ``ke`` matches, and on how many it would be the best match."""
    runs = runs if runs is not None else list(_failed_runs())
    known = known if known is not None else list(KnownError.select())
    matched = best = 0
    run_ids = []
    for run in runs:
        if triage.match_one(ke, run.error_code, run.error_message or "", run.failed_step) is None:
            continue
        matched += 1
        run_ids.append(run.id)
        top = triage.match(run.error_code, run.error_message or "", run.failed_step, known)
        if top is not None and top.known_error.id == ke.id:
            best += 1
    return {"matched": matched, "best": best, "run_ids": run_ids[:20]}


def test_message(message: str, code: str | None = None, step: str | None = None, pattern: str | None = None) -> dict:
    """Which known error would match this message (and code/step), and how many past failed runs it,
    and every other candidate, would have matched. With ``pattern``, also try an unsaved regex
    (with ``code`` as its error code) against the message and the past failed runs."""
    code = (code or "").strip().upper() or None
    code_from_message = False
    if code is None:  # pasted from an incident or the CLI: "E_CODE: message" (triage sees them apart)
        import re

        parsed = re.match(r"\s*(?:error\s+)?(E_[A-Z0-9_]+)\s*:\s*(.*)", message or "", re.S)
        if parsed:
            code, message, code_from_message = parsed.group(1), parsed.group(2), True
    step = (step or "").strip().lower() or None
    known = list(KnownError.select())
    runs = list(_failed_runs())
    candidates = []
    for found in triage.match_all(code, message or "", step, known):
        ke = found.known_error
        past = _past_matches(ke, runs, known)
        candidates.append(
            {
                "id": ke.id,
                "name": ke.name,
                "error_code": ke.error_code,
                "pattern": ke.pattern,
                "step": ke.step,
                "severity": ke.severity,
                "level": found.level_name,
                "auto_retry": ke.auto_retry,
                "past_matches": past["matched"],
                "past_best": past["best"],
                "past_run_ids": past["run_ids"],
            }
        )
    out = {
        "message": message,
        "code": code,
        "code_from_message": code_from_message,
        "step": step,
        "match": candidates[0] if candidates else None,
        "candidates": candidates,
        "unknown": not candidates,
        "failed_runs_checked": len(runs),
    }
    if pattern is not None:
        validate_pattern(pattern)
        draft = KnownError(id=0, name="(draft)", pattern=pattern, error_code=code, step=step)
        hit = triage.match_one(draft, code, message or "", step)
        past = _past_matches(draft, runs, known + [draft])
        out["draft"] = {
            "pattern": pattern,
            "error_code": code,
            "step": step,
            "matches_message": hit is not None,
            "level": hit.level_name if hit else None,
            "past_matches": past["matched"],
            "past_best": past["best"],
            "past_run_ids": past["run_ids"],
        }
    return out
