"""From page fragments to tables: headers, wrapped lines, pages, spilled columns, the choice.

* **Header**: the first row with two or more filled cells and no number, after
  title rows; the rows right under it join it when they fill its blank cells
  (a spanning header over sub-columns) or sit closer than the body's line gap
  (a header printed on several lines).
* **Continuation lines** (borderless only): a line joins the row above when it has
  no key cell, no number, fills at most half the cells the row has, and follows
  at the body's usual line pitch. The key column is the student ID column, else
  the first column filled in nearly every row; without one nothing is joined, so
  real rows whose first cell is empty stay rows. An ID ending in "/" or "-" takes
  the key text of the next line ("ARTS/2026/" + "00009").
* **Pages**: a fragment continues a table only when it repeats that table's
  header, or has no header and the same columns (count and x-ranges) as the
  table it follows. Anything else is another table.
* **Spilled columns** (a sheet printed "pages across, then down"): when every
  table is one column group of the same rows, the groups are joined back side by
  side (same row count per page band, and the later groups either repeat the key
  column or carry no key column of their own); otherwise the file is refused.
* **Choice**: one table is used. With several, ``--table N`` picks one; else the
  one whose header has the department's required columns; else the file is
  refused with the list of tables found.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from batchops.errors import (
    E_PDF_MANY_TABLES,
    E_PDF_SPILLED_COLUMNS,
    E_PDF_TABLE_NOT_FOUND,
)
from batchops.pipeline import sniff
from batchops.pipeline.columns import normalize_columns, snake
from batchops.pipeline.pdf_layout import Fragment, is_num

_NOTE = re.compile(r"^\s*(notes?|remarks?|generated|printed|signature|source)\b", re.IGNORECASE)
KEY_COLUMNS = ("student_id", "name")


@dataclass
class Row:
    cells: list[str]
    page: int
    row: int
    top: float = 0.0  # where the row starts on its page (spilled columns sit level with their rows)


@dataclass
class PdfTable:
    layout: str
    header: list[str]
    rows: list[Row]
    spans: list[tuple[float, float]]
    page_width: float
    bands: list[tuple[int, int]] = field(default_factory=list)  # (page, rows) per fragment
    signals: list[dict] = field(default_factory=list)
    header_guessed: bool = False  # no header-like row: the first row stands in

    @property
    def pages(self) -> list[int]:
        return sorted({p for p, _ in self.bands})

    def key(self) -> str:
        return header_key(self.header)

    def describe(self) -> str:
        pages = self.pages
        where = f"page {pages[0]}" if len(pages) == 1 else f"pages {pages[0]}-{pages[-1]}"
        head = " | ".join(h for h in self.header if h)[:80] or "(no header)"
        return f"{where}, {len(self.rows)} rows x {len(self.header)} columns, header: {head}"


def header_key(header: list[str]) -> str:
    return "|".join(snake(c) for c in header)


def filled(cells: list[str]) -> int:
    return sum(1 for c in cells if c)


def header_like(cells: list[str]) -> bool:
    texts = [c for c in cells if c]
    return len(texts) >= 2 and not any(is_num(c) or len(c) > 80 for c in texts)


def _body_gap(frag: Fragment, start: int) -> float:
    gaps = [frag.tops[k + 1] - frag.bottoms[k] for k in range(start, len(frag.rows) - 1)]
    return statistics.median(gaps) if gaps else 0.0


def split_header(frag: Fragment) -> tuple[list[str] | None, int]:
    """(header, index of the first body row); header None when the fragment starts with data."""
    rows = frag.rows
    i = 0
    while i < len(rows) and filled(rows[i]) <= 1:
        i += 1  # titles above the header
    if i >= len(rows) or not header_like(rows[i]):
        return None, 0
    header = list(rows[i])
    j = i + 1
    gap = _body_gap(frag, j) if frag.layout == "borderless" else 0.0
    while j < len(rows) - 1 and j - i < 5:
        r = rows[j]
        if not filled(r) or any(is_num(c) for c in r if c) or any(len(c) > 80 for c in r):
            break
        fills_blank = any(c and not header[k] for k, c in enumerate(r))
        close = frag.layout == "borderless" and gap > 0 and frag.tops[j] - frag.bottoms[j - 1] < 0.5 * gap
        if not (fills_blank or close):
            break
        header = [(h + " " + c).strip() for h, c in zip(header, r)]
        j += 1
    return header, j


def key_column(header: list[str], rows: list[list[str]], synonyms) -> int | None:
    canonical = normalize_columns(header, synonyms)
    if "student_id" in canonical:
        return canonical.index("student_id")
    full = [r for r in rows if filled(r) >= 2]
    if not full:
        return None
    for j in range(len(header)):
        if sum(1 for r in full if j < len(r) and r[j]) >= 0.9 * len(full):
            return j
    return None


def merge_continuations(rows: list[list[str]], tops: list[float], key: int | None) -> list[int]:
    """Indices of the rows that start a record; the others are folded into the one above, in place."""
    starts: list[int] = []
    steps = [b - a for a, b in zip(tops, tops[1:]) if b > a]
    pitch = statistics.median(steps) if steps else 0.0
    for k, cells in enumerate(rows):
        if starts and key is not None:
            prev = rows[starts[-1]]
            others = [c for j, c in enumerate(cells) if c and j != key]
            id_cell = cells[key] if key < len(cells) else ""
            prev_id = prev[key] if key < len(prev) else ""
            close = not pitch or tops[k] - tops[k - 1] <= 1.3 * pitch
            broken_id = bool(prev_id) and prev_id[-1] in "/-" and bool(id_cell) and not any(is_num(c) for c in others)
            wrapped = (
                not id_cell
                and others
                and not any(is_num(c) for c in others)
                and len(others) <= max(1, filled(prev) // 2)
            )
            if close and (broken_id or wrapped):
                for j, c in enumerate(cells):
                    if not c or j >= len(prev):
                        continue
                    if j == key and prev[j] and prev[j][-1] in "/-":
                        prev[j] = prev[j] + c
                    else:
                        prev[j] = (prev[j] + " " + c).strip()
                continue
        starts.append(k)
    return starts


def same_layout(table: PdfTable, frag: Fragment) -> bool:
    if frag.layout != table.layout or frag.width != len(table.spans):
        return False
    tol = max(4.0, 0.01 * frag.page_width)
    for (a0, a1), (b0, b1) in zip(table.spans, frag.spans):
        if table.layout == "ruled":
            if abs(a0 - b0) > tol or abs(a1 - b1) > tol:
                return False
        elif min(a1, b1) - max(a0, b0) < -tol:
            return False
    return True


def assemble(frags: list[Fragment], synonyms) -> list[PdfTable]:
    tables: list[PdfTable] = []
    last: PdfTable | None = None
    for frag in frags:
        header, start = split_header(frag)
        target = None
        if header is not None:
            key = header_key(header)
            target = next((t for t in reversed(tables) if t.key() == key), None)
        elif last is not None and frag.page - max(last.pages) in (0, 1) and same_layout(last, frag):
            target = last
        if target is None:
            guessed = header is None
            if header is None:  # data with no header row: the first row stands in, and the gate will see it
                first = next((i for i, r in enumerate(frag.rows) if filled(r) >= 2), 0)
                header, start = list(frag.rows[first]), first + 1
            target = PdfTable(frag.layout, header, [], list(frag.spans), frag.page_width, header_guessed=guessed)
            tables.append(target)
        _add_body(target, frag, start, synonyms)
        last = target
    return [t for t in tables if t.rows]


def _add_body(table: PdfTable, frag: Fragment, start: int, synonyms) -> None:
    rows = [list(r) for r in frag.rows[start:]]
    tops = frag.tops[start:]
    keep = list(range(len(rows)))
    if frag.layout == "borderless":
        keep = merge_continuations(rows, tops, key_column(table.header, rows, synonyms))
    page_row = sum(n for p, n in table.bands if p == frag.page)
    added = 0
    for k in keep:
        cells = rows[k]
        if not filled(cells) or header_key(cells) == table.key():
            continue  # blank rows; the header repeated inside a fragment
        if filled(cells) == 1 and _NOTE.match(" ".join(cells)):
            continue
        added += 1
        table.rows.append(Row(cells + [""] * (len(table.header) - len(cells)), frag.page, page_row + added, tops[k]))
    table.bands.append((frag.page, added))
    table.signals.extend(frag.signals)


# ---------------------------------------------------------------- spilled columns


def _has_key(table: PdfTable, synonyms, required: tuple[str, ...]) -> bool:
    canonical = set(normalize_columns(table.header, synonyms))
    return bool(canonical & (set(required) | set(KEY_COLUMNS)))


def _interleaved(tables: list[PdfTable]) -> bool:
    """Each table is one column group: as many page bands as the others, on pages of its own,
    its rows level with the first group's rows (a printer puts row N at the same height on every page)."""
    n = len(tables[0].bands)
    if any(len(t.bands) != n for t in tables):
        return False
    pages = [p for t in tables for p, _ in t.bands]
    if len(pages) != len(set(pages)):
        return False
    first = _by_band(tables[0])
    for t in tables[1:]:
        for a, b in zip(first, _by_band(t)):
            if any(abs(x.top - y.top) > 2.0 for x, y in zip(a, b)):
                return False
    return True


def _by_band(table: PdfTable) -> list[list[Row]]:
    out, i = [], 0
    for _, n in table.bands:
        out.append(table.rows[i : i + n])
        i += n
    return out


def join_spilled(tables: list[PdfTable], synonyms, required: tuple[str, ...], name: str) -> list[PdfTable]:
    if len(tables) < 2 or not _interleaved(tables):
        return tables
    first, rest = tables[0], tables[1:]
    if not _has_key(first, synonyms, required) or any(
        _has_key(t, synonyms, required) and not _repeats_key(first, t) for t in rest
    ):
        return tables  # separate tables that happen to be laid out alike
    counts = [[n for _, n in t.bands] for t in tables]
    if any(c != counts[0] for c in counts[1:]):
        if len(counts[0]) < 2:
            return tables  # one page each: two tables, not one printed in pieces
        raise sniff.fail(
            f"{name} looks like a spreadsheet printed with its columns spilling onto later pages, but the "
            f"pages do not hold the same rows ({', '.join(t.describe() for t in tables)}); export the sheet as "
            "CSV or XLSX instead.",
            E_PDF_SPILLED_COLUMNS,
        )
    header, rows = list(first.header), [Row(list(r.cells), r.page, r.row) for r in first.rows]
    for t in rest:
        drop = 1 if _repeats_key(first, t) else 0
        header += t.header[drop:]
        for joined, r in zip(rows, t.rows):
            joined.cells += r.cells[drop:]
    out = PdfTable(
        first.layout,
        header,
        rows,
        first.spans,
        first.page_width,
        list(first.bands),
        [s for t in tables for s in t.signals],
        first.header_guessed,
    )
    out.signals.append(
        {
            "kind": "spilled_join",
            "page": first.pages[0],
            "text": f"columns from pages {', '.join(str(p) for t in rest for p in t.pages)} joined",
        }
    )
    return [out]


def _repeats_key(first: PdfTable, other: PdfTable) -> bool:
    """The later group starts with the first group's first column, row for row (print titles)."""
    if snake(first.header[0]) != snake(other.header[0]) or len(first.rows) != len(other.rows):
        return False
    return all(a.cells[0] == b.cells[0] for a, b in zip(first.rows, other.rows))


# ---------------------------------------------------------------- the choice


def table_list(tables: list[PdfTable]) -> str:
    return "; ".join(f"table {i}: {t.describe()}" for i, t in enumerate(tables, start=1))


def choose(tables: list[PdfTable], synonyms, required: tuple[str, ...], table_no: int | None, name: str) -> PdfTable:
    if table_no is not None:
        if 1 <= table_no <= len(tables):
            return tables[table_no - 1]
        raise sniff.fail(
            f"{name} has {len(tables)} table(s); there is no table {table_no}. Found: {table_list(tables)}.",
            E_PDF_TABLE_NOT_FOUND,
            tables=[t.describe() for t in tables],
        )
    if len(tables) == 1:
        return tables[0]
    if required:
        fits = [t for t in tables if set(required) <= set(normalize_columns(t.header, synonyms))]
        if len(fits) == 1:
            return fits[0]
    raise sniff.fail(
        f"{name} holds {len(tables)} tables and BatchOps will not join them or guess: {table_list(tables)}. "
        "Choose one with --table N.",
        E_PDF_MANY_TABLES,
        tables=[t.describe() for t in tables],
    )
