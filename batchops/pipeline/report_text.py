"""Words for the PDF a head teacher hands out: title, column headers, plan reports as sentences.

Nothing here changes a value; it only decides how labels and technical details read.
"""

from __future__ import annotations

import re

# Words that read better in capitals than sentence case.
_ACRONYMS = {"pct": "%", "id": "ID", "ids": "IDs", "kpi": "KPI", "kpis": "KPIs", "pdf": "PDF", "csv": "CSV"}


def display_name(column: object) -> str:
    """``student_id`` -> ``Student ID``; a header that is not snake_case stays as written."""
    text = str(column)
    if not re.fullmatch(r"[a-z0-9_]+", text) or not re.search(r"[a-z]", text):
        return text
    words = [w for w in text.split("_") if w]
    words = [_ACRONYMS.get(w, w) for w in words]
    if words and words[0] == words[0].lower():
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) or text


def report_title(configured: str, department: str | None, what: str, generated_at: str) -> str:
    """The configured ``[report] title`` or "Science — marks summary, 30 Nov 2026" (``what``: the plan's title)."""
    if configured.strip():
        return configured.strip()
    date = _date_part(generated_at)
    head = f"{department} — {what}" if department else what[:1].upper() + what[1:]
    return f"{head}, {date}" if date else head


def _date_part(generated_at: str) -> str:
    """The day of "2026-11-30 12:26 IST" or "28 Nov 2026, 16:00 IST", as "30 Nov 2026"."""
    from datetime import date

    text = generated_at.strip()
    iso = re.match(r"(\d{4})-(\d{2})-(\d{2})", text)
    if iso:
        try:
            day = date(*map(int, iso.groups()))
        except ValueError:
            return iso.group(0)
        return f"{day.day} {day:%b %Y}"
    return re.split(r",|\s\d{1,2}:\d{2}", text)[0].strip()


def plain(value: object) -> str:
    """A value as a sentence fragment: a mapping as ``a = 1 and b = 2``, a list comma-separated."""
    if value is None:
        return "none"
    if isinstance(value, dict):
        return " and ".join(f"{k} = {plain(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(v) for v in value) or "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def report_lines(report: dict) -> list[str]:
    """A dataset plan's report (what it did) as readable lines, never a Python repr."""
    return [f"{display_name(k)}: {plain(v)}" for k, v in report.items() if not isinstance(v, (dict, list)) or v]


def delete_lines(report: dict) -> list[str]:
    """The delete plan's report: each rule and the rows it removed."""
    lines = []
    for i, r in enumerate(report.get("rules", []), start=1):
        n = r.get("removed", 0)
        lines.append(f"Rule {i}: {plain(r.get('rule', {}))} — {n:,} row{'' if n == 1 else 's'} removed")
    lines.append(f"Rows removed in all: {report.get('removed', 0):,}")
    return lines


def about_lines(
    *,
    upload_id,
    filename: str,
    file_format: str,
    department: str | None,
    plan: str,
    plan_config: dict,
    rows_in: int,
    rows_out: int,
    columns: int,
    generated_at: str,
) -> list[str]:
    """The technical details a desk needs to trace the report, as readable lines."""
    lines = [
        f"Source file: {filename}" + (f" ({file_format.upper()})" if file_format else ""),
        f"Upload: #{upload_id}" if upload_id is not None else "Upload: not stored (run directly)",
        f"Department: {department or 'not given'}",
        f"Plan: {plan}",
    ]
    for key, value in (plan_config or {}).items():
        lines.append(f"Plan setting {key}: {plain(value)}")
    lines += [f"Rows read: {rows_in:,}; rows published: {rows_out:,}; columns: {columns:,}"]
    if generated_at:
        lines.append(f"Generated: {generated_at}")
    return lines
