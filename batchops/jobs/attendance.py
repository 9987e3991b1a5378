"""send_attendance_reminders: one email per absent student to the guardian, never twice a day.

Reads an attendance file (CSV or XLSX) or every such file in a folder, in the
shape of ``samples/attendance_today.csv``: ``student_id, name, guardian_email,
date, status`` (common header variants are accepted). Each absent student's
guardian gets one reminder - over SMTP when ``[smtp]`` is configured, otherwise
into the outbox - and the (day, student) key is remembered in the store first,
so a second run, or two workers at once, never send it again.
"""

from __future__ import annotations

import csv
import re
from datetime import date as Date
from datetime import datetime
from pathlib import Path
from typing import Any

from batchops import clock, context
from batchops.automation.job_context import check_deadline, log
from batchops.clock import utc_now
from batchops.errors import InputError, JobError
from batchops.jobs._common import allowed_path, forget, remember_once

ABSENT = {"absent", "a", "ab", "abs"}
SUFFIXES = {".csv", ".xlsx"}
HEADERS = {
    "student_id": {"student_id", "studentid", "id", "roll_no", "roll_number", "admission_no", "student"},
    "name": {"name", "student_name", "full_name"},
    "guardian_email": {"guardian_email", "parent_email", "guardian_e_mail", "email", "guardian"},
    "date": {"date", "day", "attendance_date"},
    "status": {"status", "attendance", "present_absent", "mark"},
}
EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


def _norm(header) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(header or "").strip().lower()).strip("_")


def _columns(header: list) -> dict[str, int]:
    found = {}
    for index, raw in enumerate(header):
        name = _norm(raw)
        for canonical, variants in HEADERS.items():
            if name in variants and canonical not in found:
                found[canonical] = index
    missing = [c for c in ("student_id", "guardian_email", "status") if c not in found]
    if missing:
        raise InputError(
            f"attendance file has no {', '.join(missing)} column (has: {', '.join(map(str, header))})",
            code="E_MISSING_COLUMNS",
        )
    return found


def _rows_csv(path: Path):
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        yield from csv.reader(fh)


def _rows_xlsx(path: Path):
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is one clear error
        raise InputError(
            f"cannot read workbook {path.name}: {exc.__class__.__name__}", code="E_XLSX_UNREADABLE"
        ) from None
    try:
        for row in book.worksheets[0].iter_rows(values_only=True):
            yield ["" if v is None else v for v in row]
    finally:
        book.close()


def _parse_date(value) -> Date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, Date):
        return value
    text = str(value or "").strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d"):
        try:
            return datetime.strptime(text[:10], pattern).date()
        except ValueError:
            continue
    return None


def read_attendance(path: Path) -> list[dict]:
    """Rows of one file as dicts with canonical keys; blank lines and repeated header lines skipped."""
    rows = _rows_xlsx(path) if path.suffix.lower() == ".xlsx" else _rows_csv(path)
    header = None
    out = []
    for line_no, row in enumerate(rows, start=1):
        if not any(str(c).strip() for c in row):
            continue
        if header is None:
            header = _columns(list(row))
            continue
        get = {k: (row[i] if i < len(row) else "") for k, i in header.items()}
        if _norm(get.get("student_id")) == "student_id":
            continue
        out.append(
            {
                "student_id": str(get.get("student_id", "")).strip(),
                "name": str(get.get("name", "")).strip(),
                "guardian_email": str(get.get("guardian_email", "")).strip(),
                "date": _parse_date(get.get("date")) if "date" in header else None,
                "status": str(get.get("status", "")).strip().lower(),
                "source": f"{path.name}:{line_no}",
            }
        )
    return out


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith((".", "~$"))
        )
    raise InputError(f"attendance path not found: {path}", code="E_FILE_NOT_FOUND")


def _target_date(value: str | None) -> Date | None:
    if value in (None, "", "today"):
        return clock.to_display(utc_now()).date()
    if value == "all":
        return None
    parsed = _parse_date(value)
    if parsed is None:
        raise InputError(f"date must be 'today', 'all' or YYYY-MM-DD, not {value!r}", code="E_JOB_ARGS_INVALID")
    return parsed


def send_attendance_reminders(path: str | None = None, date: str | None = "today", dry_run: bool = False) -> dict:
    cfg = context.config()
    source = path or cfg.automation.attendance_path
    if not source:
        raise InputError("no attendance file: set automation.attendance_path or pass path", code="E_CONFIG")
    if path:
        source = str(allowed_path(path, "attendance path", cfg.automation.attendance_path))
    day = _target_date(date)
    files = _files(Path(source).expanduser())
    summary: dict[str, Any] = {
        "files": [str(p) for p in files],
        "date": day.isoformat() if day else "all",
        "rows": 0,
        "absent": 0,
        "sent": 0,
        "outbox": 0,
        "already_sent": 0,
        "other_days": 0,
        "no_email": [],
        "dry_run": dry_run,
    }
    if not files:
        log(f"no CSV/XLSX attendance files in {source}")
    today = clock.to_display(utc_now()).date()
    for file in files:
        rows = read_attendance(file)
        summary["rows"] += len(rows)
        for row in rows:
            check_deadline()
            row_day = row["date"] or today
            if day is not None and row_day != day:
                summary["other_days"] += 1
                continue
            if row["status"] not in ABSENT:
                continue
            summary["absent"] += 1
            if not row["student_id"]:
                summary["no_email"].append(row["source"])
                continue
            if not EMAIL.match(row["guardian_email"]):
                summary["no_email"].append(f"{row['student_id']} ({row['source']})")
                continue
            key = f"attendance:{row_day.isoformat()}:{row['student_id']}"
            if dry_run:
                from batchops.jobs._common import seen

                summary["already_sent" if seen(key) else "sent"] += 1
                continue
            if not remember_once(key, {"to": row["guardian_email"], "at": clock.iso(utc_now())}):
                summary["already_sent"] += 1
                continue
            try:
                result = _send(row, row_day, cfg.school_name)
            except Exception:
                forget(key)  # not sent: the next run may try again
                raise
            summary["sent" if result["delivered"] else "outbox"] += 1
    if summary["other_days"] and not summary["absent"]:
        log(
            f"{summary['other_days']} row(s) are for other days than {summary['date']}: nothing to send "
            "(pass date='all' or a date to remind for them)"
        )
    log(
        f"{summary['absent']} absent, {summary['sent']} emailed, {summary['outbox']} into the outbox, "
        f"{summary['already_sent']} already reminded, {len(summary['no_email'])} without a usable email"
    )
    if summary["no_email"] and not (summary["sent"] or summary["outbox"] or summary["already_sent"]):
        raise JobError(
            f"no reminder could be addressed: {len(summary['no_email'])} absent student(s) "
            "have no valid guardian email",
            code="E_ATTENDANCE_NO_EMAIL",
        )
    return summary


def _send(row: dict, day: Date, school: str) -> dict:
    from batchops.services.outbox import send_email

    who = row["name"] or row["student_id"]
    subject = f"Absence: {who} on {day:%d %b %Y}"
    body = (
        f"Dear parent or guardian,\n\n"
        f"{who} (student ID {row['student_id']}) was marked absent at {school} on {day:%A, %d %B %Y}.\n"
        f"If you did not expect this, please contact the school office.\n\n"
        f"This is an automatic message; you receive at most one reminder per student and day.\n"
    )
    return send_email(row["guardian_email"], subject, body, tag=f"attendance:{day.isoformat()}:{row['student_id']}")
