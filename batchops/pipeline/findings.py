"""Findings: row-level observations with a source location.

A finding is a plain dict so it can be stored as JSON as is::

    {"severity": "error"|"warning", "code": "W_NON_NUMERIC", "message": "...",
     "location": "line 12" | "Term 1!D7" | "page 2 row 14", "column": "physics", "row": 12}
"""

from __future__ import annotations

from typing import Any, Callable

# (row label, column position or None) -> "line 12" / "Sheet!B7" / "page 1 row 3"
Locator = Callable[[Any, "int | None"], str]


def finding(
    code: str,
    message: str,
    *,
    severity: str = "warning",
    location: str = "",
    column: str | None = None,
    row: Any = None,
) -> dict:
    if row is not None:
        try:
            row = int(row)
        except (TypeError, ValueError):
            row = str(row)
    return {
        "severity": severity,
        "code": code,
        "message": message,
        "location": location,
        "column": column,
        "row": row,
    }


def count_codes(findings: list[dict]) -> dict[str, int]:
    """How many findings of each code, in the order the codes first appear."""
    out: dict[str, int] = {}
    for f in findings:
        out[f["code"]] = out.get(f["code"], 0) + 1
    return out


def excel_column(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def line_locator(label: Any, col: int | None = None) -> str:
    return f"line {label}"
