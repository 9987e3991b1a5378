"""Processing plans: the registry with descriptions, and a plan's payload built from what an operator typed.

The CLI (``process --records/--where/--rules/--instructions/--set``) and the
TUI's stage form both build the payload here, so they accept the same input
and fail with the same codes; ``validate_plan_config`` is the pipeline's own
check, the one a run applies before it starts.
"""

from __future__ import annotations

from batchops.errors import InputError
from batchops.services.common import parse_json


def plans() -> list[dict]:
    """Every registered plan, in registry order: name, description, what it publishes."""
    from batchops.pipeline.plans import PLANS

    return [{"name": p.name, "description": p.description, "publishes": p.publishes} for p in PLANS.values()]


def describe(name: str) -> str:
    """One plan's description ("" for an unknown name)."""
    return next((p["description"] for p in plans() if p["name"] == name), "")


def validate_plan_config(plan: str, plan_config: dict | None) -> None:
    """E_PLAN_INVALID for an unknown plan or a payload that does not fit it (the pipeline's check)."""
    from batchops.pipeline.plans import validate_plan_config as check

    check(plan, plan_config)


def parse_rules(text: str | None, what: str = "delete rules") -> list[dict]:
    """Delete rules as JSON (inline or @file: one rule or a list), or one COLUMN=VALUE a line."""
    text = (text or "").strip()
    if not text:
        return []
    if text[0] in "[{@":
        loaded = parse_json(text, what)
        return loaded if isinstance(loaded, list) else [loaded]
    rules = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        column, sep, value = line.partition("=")
        if not sep or not column.strip():
            raise InputError(f"{what} line {n}: write COLUMN=VALUE, not {line.strip()!r}", code="E_PLAN_INVALID")
        rules.append({column.strip(): value.strip()})
    return rules


def _scalar(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _options(options, what: str) -> dict:
    """KEY=VALUE items (numbers become numbers), or one JSON object as text."""
    if isinstance(options, str):
        if not options.strip():
            return {}
        extra = parse_json(options.strip(), what)
        if not isinstance(extra, dict):
            raise InputError(f'{what} must be a JSON object like {{"top_n": 5}}', code="E_PLAN_INVALID")
        return extra
    out = {}
    for item in options or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set takes KEY=VALUE, not {item!r}", code="E_USAGE")
        out[key.strip()] = _scalar(value)
    return out


def plan_config(
    plan: str | None = None,
    *,
    records: str | None = None,
    where: list[str] | None = None,
    rules: str | None = None,
    instructions: str | None = None,
    options=None,
    labels: dict | None = None,
) -> dict:
    """The plan's payload from operator input; with ``plan``, also checked against that plan.

    ``records``: JSON (or @file), an object or a list of objects. ``where``: COLUMN=VALUE
    items, one rule each. ``rules``: see ``parse_rules``. ``instructions``: the narrative.
    ``options``: KEY=VALUE items or a JSON object as text. ``labels`` names the inputs in
    error messages (the CLI says ``--records``, the form ``records``).
    Errors: E_JSON_INVALID, E_USAGE (a malformed item), E_PLAN_INVALID.
    """
    names = {"records": "records", "rules": "delete rules", "options": "plan options", **(labels or {})}
    config: dict = _options(options, names["options"])
    if records and records.strip():
        config["records"] = parse_json(records.strip(), names["records"])
    parsed_rules = parse_rules(rules, names["rules"])
    for item in where or []:
        column, sep, value = item.partition("=")
        if not sep or not column.strip():
            raise InputError(f"--where takes COLUMN=VALUE, not {item!r}", code="E_USAGE")
        parsed_rules.append({column.strip(): value})
    if parsed_rules:
        config["rules"] = parsed_rules
    if instructions and instructions.strip():
        config["instructions"] = instructions.strip()
    if plan is not None:
        validate_plan_config(plan, config)
    return config
