"""A staged file and its own settings: department, notes, the plan and the plan's payload.

Each staged file carries its own settings (one department and plan for every
file silently mislabelled uploads); "apply to all" is an explicit action on the
stage screen. The queue is saved in ui_state as a list of these dicts; a bare
path (what older versions saved) reads as a file with the default settings.

A new per-file setting is one entry in ``DEFAULTS`` plus one widget with the
same id on the stage form: it is saved, restored, copied by "apply to all" and
passed to ``processing.process_file`` as a keyword argument of that name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STAGED_KEY = "tui.staged"
MAX_STAGED = 5
# what the pipeline reads (it sniffs the content; the name only picks what the file tree lists)
SUFFIXES = frozenset(
    {".csv", ".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}
)  # images: photos and scans, read by OCR
ACCEPTED = "CSV, XLS/XLSX/XLSM/XLSB, ODS, PDF, scans (OCR)"  # short: hints must fit 80 columns

# the form's payload boxes: turned into plan_config, never passed on by themselves
PAYLOAD_TEXT = ("records", "rules", "instructions", "options")
PAYLOAD_FIELDS = {"append": "records", "delete": "rules", "custom": "instructions"}
DEFAULTS: dict[str, Any] = {
    "department": "",
    "notes": "",
    "table": "",
    "plan": "transform",
    "records": "",
    "rules": "",
    "instructions": "",
    "options": "",
}


def entry(item: Any) -> dict:
    """A staged file as a full dict (path + every setting), from whatever was saved."""
    if isinstance(item, str):
        return {"path": item, **DEFAULTS}
    data = dict(item or {})
    return {"path": str(data.get("path", "")), **{k: data.get(k, v) for k, v in DEFAULTS.items()}}


def entries(saved: Any) -> list[dict]:
    return [entry(item) for item in (saved or []) if item]


def file_name(item: Any) -> str:
    return Path(entry(item)["path"]).name


def settings(item: dict) -> dict:
    """Everything but the path: what "apply to all" copies."""
    return {k: item.get(k, v) for k, v in DEFAULTS.items()}


def label(item: dict) -> str:
    """One line that tells staged files apart at 80 columns: name first, then what will be done."""
    dept = item.get("department") or "no dept"
    return f"{file_name(item)} · {dept} · {item.get('plan') or 'transform'}"


def plan_config(item: dict) -> dict:
    """The plan's payload from the file's boxes (only the one its plan shows); InputError when it does not fit."""
    from batchops.services import plans

    plan = item.get("plan") or "transform"
    wanted = PAYLOAD_FIELDS.get(plan)
    return plans.plan_config(
        plan,
        records=item.get("records") if wanted == "records" else None,
        rules=item.get("rules") if wanted == "rules" else None,
        instructions=item.get("instructions") if wanted == "instructions" else None,
        options=item.get("options") or "" if wanted is None else "",
    )


def request(item: dict) -> dict:
    """Keyword arguments for ``processing.process_file`` (plus ``path``); raises InputError first."""
    out: dict[str, Any] = {"path": item["path"], "plan_config": plan_config(item)}
    for key in DEFAULTS:
        if key in PAYLOAD_TEXT:
            continue
        value = item.get(key, DEFAULTS[key])
        out[key] = value.strip() if isinstance(value, str) else value
    out["department"] = out.get("department") or None
    out["table"] = table_number(out.get("table") or "")
    return out


def table_number(text: str) -> int | None:
    """The PDF table field: blank -> None (BatchOps chooses), else a number from 1."""
    text = str(text).strip()
    return int(text) if text.isdigit() and int(text) >= 1 else None
