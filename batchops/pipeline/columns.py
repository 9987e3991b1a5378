"""Column names: snake_case plus a synonym map ("Roll No" -> ``student_id``).

The built-in map is merged with ``PipelineSettings.synonyms`` (canonical -> extra
synonyms; configured entries win). Matching is on the snake_case form, so
"Reg. No.", "reg no" and "REG_NO" are the same synonym. The original headers are
kept by the caller (``summary["original_columns"]`` and ``summary["column_map"]``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

BUILTIN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "student_id": (
        "Student ID",
        "Student No",
        "Student Number",
        "Roll No",
        "Roll Number",
        "Roll",
        "Reg No",
        "Reg. No.",
        "Register No",
        "Registration No",
        "Registration Number",
        "Admission No",
        "Admission Number",
        "Adm No",
        "Enrollment No",
        "Enrolment No",
        "Enrollment Number",
        "USN",
        "PRN",
        "ID",
        "Student Code",
    ),
    "name": ("Name", "Student Name", "Candidate Name", "Full Name", "Student", "Pupil Name"),
    "department": ("Department", "Dept", "Dept."),
    "class": ("Class", "Class Section", "Standard", "Std"),
    "section": ("Section", "Sec"),
    "guardian_email": ("Guardian Email", "Guardian E-mail", "Parent Email", "Parent E-mail"),
    "attendance_pct": ("Attendance %", "Attendance Pct", "Attendance Percent", "Attendance Percentage"),
}

# Canonical columns that must be kept as text (never parsed as numbers: leading zeros).
TEXT_COLUMNS = frozenset({"student_id", "name", "department", "class", "section", "guardian_email"})


def snake(text: object) -> str:
    """'Reg. No.' -> 'reg_no'; 'Attendance %' -> 'attendance_pct'; '' -> ''."""
    return _snake(str(text))


@lru_cache(maxsize=1 << 14)  # headers and header-like cells repeat on every page and row checked
def _snake(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).replace("\xa0", " ").strip()
    s = s.replace("%", " pct ").replace("#", " no ").replace("&", " and ")
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)  # camelCase -> camel_case
    s = s.lower()
    s = re.sub(r"[^\w]+", "_", s, flags=re.UNICODE).strip("_")
    s = re.sub(r"_+", "_", s)
    if s and s[0].isdigit():
        s = "col_" + s
    return s


def synonym_lookup(extra: Mapping[str, Iterable[str]] | None = None) -> dict[str, str]:
    """snake_case synonym -> canonical name."""
    table: dict[str, str] = {}
    for canonical, words in BUILTIN_SYNONYMS.items():
        for w in words:
            table[snake(w)] = canonical
        table[canonical] = canonical
    for canonical, extra_words in (extra or {}).items():
        canon = snake(canonical) or canonical
        for w in extra_words:
            table[snake(w)] = canon
        table[canon] = canon
    return table


def normalize_columns(headers: Sequence[object], extra: Mapping[str, Iterable[str]] | None = None) -> list[str]:
    """New names for ``headers``, unique, in the same order.

    A canonical name is given to the first header that maps to it; a second
    "Name"-like header keeps its own snake_case form. Empty headers become
    ``column_<n>`` (1-based position).
    """
    lookup = synonym_lookup(extra)
    out: list[str] = []
    used: set[str] = set()
    for pos, header in enumerate(headers, start=1):
        base = snake(header) if header is not None else ""
        name = lookup.get(base, base) or f"column_{pos}"
        if name in used and base and base not in used:
            name = base
        candidate, n = name, 2
        while candidate in used:
            candidate = f"{name}_{n}"
            n += 1
        used.add(candidate)
        out.append(candidate)
    return out


def is_text_column(name: str) -> bool:
    return name in TEXT_COLUMNS or name.endswith("_id") or name.endswith("_email")


_NOT_SUBJECT = re.compile(
    r"(^|_)(id|no|number|roll|year|age|phone|mobile|date|pct|percent|percentage|total|rank|"
    r"serial|sno|s_no|attendance|class|section|pin|zip)(_|$)"
)


def is_subject_column(name: str) -> bool:
    """A numeric column that holds marks (used for range checks and KPIs)."""
    return not is_text_column(name) and not _NOT_SUBJECT.search(name)
