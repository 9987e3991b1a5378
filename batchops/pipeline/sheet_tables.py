"""Find the tables on one sheet: a grid of cell values (rows of lists) in, ``SheetTable`` list out.

Works on any workbook format (calamine's ``to_python`` grid), so .xlsx, .xls, .xlsb and
.ods share it.

* **Header row:** the first row, among the next 30, with at least two text cells covering
  most of the table's width (title rows and merged banners have one cell, so they are
  skipped).
* **Two-row headers:** a group row over sub-labels ("Marks" merged over "Maths | Science",
  "Roll No" merged down two rows) is read as one header. A column is named by its
  sub-label, prefixed with its group label only when the sub-label alone repeats
  ("Term 1 Maths", "Term 2 Maths").
* **Where a table ends:** at a totals/notes row ("Total", "Note: ..."), at a sparse row
  after a blank row, or at a new header after a blank row (a second table below). A
  repeat of the header (a printed-page habit) is skipped; other blank rows are dropped.
* **Tables side by side:** columns empty in the header and in every row split the sheet
  into blocks. Blocks are separate tables when their rows differ or both hold a key column
  (an ID or a name); otherwise the empty column is a spacer inside one table.

Tables are never joined: several tables come back as several ``SheetTable`` and the
caller picks one (``choose``) or refuses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from batchops.pipeline.columns import snake
from batchops.pipeline.findings import excel_column

HEADER_SCAN_ROWS = 30
SPLIT_WINDOW_ROWS = 200
KEY_COLUMNS = ("student_id", "name")
FOOTER_RE = re.compile(
    r"^\s*(grand\s+total|totals?|sum|average|avg|mean|class\s+average|notes?|remarks?|signature|"
    r"prepared\s+by|checked\s+by|generated|\*)\b",
    re.IGNORECASE,
)


@dataclass
class SheetTable:
    header_rows: tuple[int, ...]  # 0-based grid rows holding the header (one or two)
    first_col: int  # 0-based grid column of the table's first column
    headers: list[str | None]  # one name per column
    data_rows: list[int]  # 0-based grid rows

    @property
    def width(self) -> int:
        return len(self.headers)

    def cell_range(self) -> str:
        last_row = self.data_rows[-1] if self.data_rows else self.header_rows[-1]
        return (
            f"{excel_column(self.first_col)}{self.header_rows[0] + 1}:"
            f"{excel_column(self.first_col + self.width - 1)}{last_row + 1}"
        )

    def describe(self) -> str:
        names = " | ".join(h for h in self.headers if h)
        if len(names) > 80:
            names = names[:77] + "..."
        return f"{self.cell_range()}, {len(self.data_rows):,} rows, header {names}"


def blank(v) -> bool:
    t = type(v)  # the exact types first: this runs for every cell of a sheet
    if t is str:
        return not v.strip()
    if t is int:
        return False
    if t is float:
        return v != v  # NaN
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v))


def _looks_number(s: str) -> bool:
    try:
        float(s.replace(",", "").strip())
        return True
    except ValueError:
        return False


def is_texty(v) -> bool:
    return isinstance(v, str) and bool(v.strip()) and not _looks_number(v)


def _cell(row: Sequence, pos: int):
    return row[pos] if pos < len(row) else None


def _filled(row: Sequence, c0: int = 0, c1: int | None = None) -> list:
    return [v for v in row[c0:c1] if not blank(v)]


def _label(v) -> str | None:
    return None if blank(v) else str(v).strip()


def find_header(rows: list[list], start: int = 0) -> int | None:
    """Index of the header row at or below ``start`` (within 30 rows), or None."""
    widths = [len(_filled(r)) for r in rows[start : start + HEADER_SCAN_ROWS * 2]]
    table_width = max(widths) if widths else 0
    best = None
    for i in range(start, min(len(rows), start + HEADER_SCAN_ROWS)):
        filled = _filled(rows[i])
        if len(filled) < 2:
            continue
        if not all(is_texty(v) for v in filled) or len(filled) < max(2, 0.6 * table_width):
            continue
        if any(len(_filled(r)) >= 2 for r in rows[i + 1 : i + 6]):
            return i
        if best is None:
            best = i  # header only: keep looking for a better one, else use it
    return best


def _is_sub_header(rows: list[list], h: int, width: int) -> bool:
    """Row h+1 holds sub-labels under row h's group labels (not the first data row)."""
    if h + 1 >= len(rows):
        return False
    top, sub = rows[h], rows[h + 1]
    filled = _filled(sub, 0, width)
    if len(filled) < 2 or not any(len(_filled(r, 0, width)) >= 2 for r in rows[h + 2 : h + 7]):
        return False
    # under a merged group label: row h is blank where row h+1 has a label
    fills_gap = any(blank(_cell(top, c)) and not blank(_cell(sub, c)) for c in range(width))
    if not fills_gap:
        return False
    if all(is_texty(v) for v in filled):
        # not an all-text first data row: a label merged down leaves a hole here, or text sits over numbers
        merged_down = any(not blank(_cell(top, c)) and blank(_cell(sub, c)) for c in range(width))
        over_numbers = any(is_texty(_cell(sub, c)) and _numeric_below(rows, h + 2, c) for c in range(width))
        return merged_down or over_numbers
    # numeric sub-labels (years, terms) only where the key column is merged down (blank here, filled below)
    key = next(c for c in range(width) if not blank(_cell(top, c)))
    return blank(_cell(sub, key)) and all(not blank(_cell(r, key)) for r in rows[h + 2 : h + 5])


def _numeric_below(rows: list[list], start: int, col: int) -> bool:
    values = [_cell(r, col) for r in rows[start : start + 3] if not blank(_cell(r, col))]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _combine(top: Sequence, sub: Sequence, width: int) -> list[str | None]:
    """One name per column from a group row and a sub-label row."""
    groups: list[str | None] = []
    current = None
    for c in range(width):
        t, s = _label(_cell(top, c)), _label(_cell(sub, c))
        if t is not None:
            current = t
        elif s is None:
            current = None  # a gap ends the group
        groups.append(t if t is not None else (current if s is not None else None))
    subs = [_label(_cell(sub, c)) for c in range(width)]
    counts: dict[str, int] = {}
    for s in subs:
        if s is not None:
            counts[snake(s)] = counts.get(snake(s), 0) + 1
    names: list[str | None] = []
    for g, s in zip(groups, subs):
        if s is None:
            names.append(g)
        elif g is None or g == s or counts[snake(s)] == 1:
            names.append(s)
        else:
            names.append(f"{g} {s}")
    return names


def _has_duplicates(labels: list[str | None]) -> bool:
    keys = [snake(v) for v in labels if v]
    return len(keys) != len(set(keys))


def _trimmed(row: Sequence) -> list:
    out = list(row)
    while out and blank(out[-1]):
        out.pop()
    return out


def header_of(rows: list[list], h: int) -> tuple[tuple[int, ...], list[str | None]]:
    """The header rows starting around ``h`` and one name per column (trailing blanks cut)."""
    row = _trimmed(rows[h])
    width = len(row)
    if h + 1 < len(rows):
        wider = max(width, len(_trimmed(rows[h + 1])))  # sub-labels may reach past the group row
        if _is_sub_header(rows, h, wider):
            return (h, h + 1), _combine(rows[h], rows[h + 1], wider)
    labels = [_label(v) for v in row]
    above = rows[h - 1] if h > 0 else []
    if (
        _has_duplicates(labels)
        and len(_filled(above, 0, width)) >= 2
        and all(is_texty(v) for v in _filled(above, 0, width))
    ):
        return (h - 1, h), _combine(above, row, width)  # group labels tell the repeats apart
    return (h,), labels


def _data_rows(
    rows: list[list], start: int, c0: int, c1: int, header_rows: list[list], numeric_cols: set[int] | None = None
) -> list[int]:
    """Rows of the table below its header, within columns [c0, c1)."""
    width = c1 - c0
    repeats = [[_label(v) for v in r[c0:c1]] for r in header_rows]
    repeats = [r + [None] * (width - len(r)) for r in repeats]
    out: list[int] = []
    numeric: dict[int, int] = {}  # numbers per column in out[:counted], counted only when a blank row asks
    counted = 0
    after_blank = False
    for i in range(start, len(rows)):
        part = rows[i][c0:c1]
        # blank() inlined: this runs for every cell of the table
        filled = [
            v
            for v in part
            if not (v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v))
        ]
        if not filled:
            after_blank = True
            continue
        if isinstance(filled[0], str) and FOOTER_RE.match(filled[0]):
            break  # "Total", "Class average", "Note: ..." end the table
        first = _label(part[0]) if part else None
        if any((not r or r[0] == first) and _labels_are(part, r) for r in repeats):
            continue  # the header again (printed-page habit)
        if after_blank:
            if len(filled) < max(2, width / 2):
                break
            counted = _count_numbers(rows, out, counted, c0, c1, numeric)
            if _new_header(part, numeric, len(out), rows[i + 1 : i + 4], c0, c1):
                break
        after_blank = False
        out.append(i)
    return out


def _count_numbers(rows: list[list], out: list[int], counted: int, c0: int, c1: int, numeric: dict[int, int]) -> int:
    """Add the numbers in the rows out[counted:] to ``numeric`` (per column); returns len(out)."""
    for i in out[counted:]:
        for c, v in enumerate(rows[i][c0:c1]):
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:  # not NaN
                numeric[c] = numeric.get(c, 0) + 1
    return len(out)


def _labels_are(part: Sequence, labels: list[str | None]) -> bool:
    """``[_label(v) for v in part]``, padded with None, equals ``labels`` (stops at the first difference)."""
    n = len(part)
    return all((_label(part[j]) if j < n else None) == want for j, want in enumerate(labels))


def _new_header(part: Sequence, numeric: dict[int, int], n_rows: int, below: list[list], c0: int, c1: int) -> bool:
    """After a blank row: a row of labels heading a table of its own, not a data row."""
    filled = _filled(part)
    if len(filled) < 2 or not all(is_texty(v) for v in filled):
        return False
    if not any(len(_filled(r, c0, c1)) >= 2 for r in below):
        return True  # labels with nothing under them: a caption or a header-only block, not data
    # text where the table so far has numbers
    return any(is_texty(v) and numeric.get(c, 0) > n_rows / 2 for c, v in enumerate(part))


def _segments(rows: list[list], header_rows: tuple[int, ...], headers: list[str | None]) -> list[tuple[int, int]]:
    """Column blocks [c0, c1) separated by columns that are empty in the header and every row."""
    width = len(headers)
    body = []
    for r in rows[header_rows[-1] + 1 : header_rows[-1] + 1 + SPLIT_WINDOW_ROWS]:
        if not _filled(r, 0, width):
            break
        body.append(r)
    used = [headers[c] is not None or any(not blank(_cell(r, c)) for r in body) for c in range(width)]
    segs: list[tuple[int, int]] = []
    c = 0
    while c < width:
        if not used[c]:
            c += 1
            continue
        c0 = c
        while c < width and used[c]:
            c += 1
        segs.append((c0, c))
    return segs


def _keys(headers: list[str | None], lookup: dict[str, str]) -> set[str]:
    return {lookup.get(snake(h), snake(h)) for h in headers if h}


def tables_at(rows: list[list], h: int, lookup: dict[str, str]) -> list[SheetTable]:
    """The table(s) whose header is at row h: one, or several side by side."""
    header_rows, headers = header_of(rows, h)
    grid_headers = [rows[i] for i in header_rows]
    start = header_rows[-1] + 1
    segs = _segments(rows, header_rows, headers) or [(0, len(headers))]
    parts = [
        SheetTable(header_rows, c0, headers[c0:c1], _data_rows(rows, start, c0, c1, grid_headers)) for c0, c1 in segs
    ]
    if len(parts) == 1 or _separate(parts, lookup):
        return parts  # (one block: it already is the whole table)
    c0, c1 = segs[0][0], segs[-1][1]
    return [SheetTable(header_rows, c0, headers[c0:c1], _data_rows(rows, start, c0, c1, grid_headers))]


def _separate(parts: list[SheetTable], lookup: dict[str, str]) -> bool:
    if any(sum(h is not None for h in p.headers) < 2 for p in parts):
        return False  # a lone column beyond a spacer ("Remarks") belongs to the table
    if len({tuple(p.data_rows) for p in parts}) > 1:
        return True
    keyed = [p for p in parts if _keys(p.headers, lookup) & set(KEY_COLUMNS)]
    return len(keyed) > 1


def find_tables(rows: list[list], lookup: dict[str, str]) -> list[SheetTable]:
    """Every table on the sheet, top to bottom, left to right."""
    tables: list[SheetTable] = []
    top = 0
    while top < len(rows):
        h = find_header(rows, top)
        if h is None:
            break
        found = tables_at(rows, h, lookup)
        tables.extend(found)
        top = max(t.data_rows[-1] if t.data_rows else t.header_rows[-1] for t in found) + 1
    # a header-only block is kept only when there is nothing else
    with_rows = [t for t in tables if t.data_rows]
    return with_rows or tables[:1]


def fits(table: SheetTable, required: Sequence[str], lookup: dict[str, str]) -> bool:
    return bool(required) and set(required) <= _keys(table.headers, lookup)
