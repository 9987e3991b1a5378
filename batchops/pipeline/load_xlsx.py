"""XLSX -> DataFrame.

* The zip is checked before anything is decompressed: the sum of the members'
  uncompressed sizes beyond ``max_xlsx_uncompressed_bytes`` -> ``E_XLSX_TOO_LARGE``
  (zip bombs); a truncated or corrupt workbook -> ``E_XLSX_UNREADABLE``.
* Cells are read with python-calamine (read-only by nature, ~10x faster than
  openpyxl on bulk data; same values).
* Sheet: ``sheet`` if given (unknown -> ``E_SHEET_NOT_FOUND``), else the first sheet
  that holds a table.
* Header row: the first row, among the first 30, with at least two text cells
  covering most of the table's width (title rows and merged banners have one
  cell, so they are skipped).
* The table ends at a totals/notes row ("Total", "Average", "Note: ...") or at a
  sparse row after a blank row; blank rows inside the table are dropped.
* Every row keeps its Excel row number as index label; locations read "Sheet!B7".
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from batchops.pipeline import sniff
from batchops.pipeline.columns import is_text_column, normalize_columns
from batchops.pipeline.findings import excel_column
from batchops.pipeline.frame import Loaded, clean_frame, drop_unnamed_empty_columns
from batchops.pipeline.settings import PipelineSettings

HEADER_SCAN_ROWS = 30
_FOOTER_RE = re.compile(
    r"^\s*(grand\s+total|totals?|sum|average|avg|mean|class\s+average|notes?|remarks?|signature|"
    r"prepared\s+by|checked\s+by|generated|\*)\b",
    re.IGNORECASE,
)


def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and np.isnan(v))


def check_zip(path: Path, settings: PipelineSettings, name: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(i.file_size for i in zf.infolist())
            if total > settings.max_xlsx_uncompressed_bytes:  # before testzip inflates the bomb
                raise sniff.fail(
                    f"{name} expands to {total / 1048576:,.0f} MB when unzipped; the limit is "
                    f"{settings.max_xlsx_uncompressed_bytes / 1048576:,.0f} MB.",
                    "E_XLSX_TOO_LARGE",
                )
            bad = zf.testzip() if path.stat().st_size < 5 * 1024 * 1024 else None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise sniff.fail(
            f"{name} is a truncated or corrupt Excel workbook and cannot be opened; export it again.",
            "E_XLSX_UNREADABLE",
        ) from exc
    if bad:
        raise sniff.fail(
            f"{name} is a corrupt Excel workbook (damaged part {bad}); export it again.",
            "E_XLSX_UNREADABLE",
        )


# calamine turns a sheet into a dense grid from its first to its last cell before we see
# any of it: one cell at XFD1048576 asks for 17 billion cells and the failed allocation
# aborts the whole process (Rust cannot raise MemoryError). So the grid's extent is taken
# from the XML first. Sheets as Excel, LibreOffice and openpyxl write them (every
# ``<row r="N">`` and ``<c r="B7">`` explicit, in order) cost one regex pass: the row
# numbers, plus any cell beyond the extent seen so far. Anything else (cells without a
# reference, prefixed or oddly spaced tags) gets an exact walk that follows calamine's rules.
_ROW_NUM = re.compile(rb'<row r="([0-9]{1,7})"')
_ANY_REF = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"')
_ODD = rb'<c(?=[\s/>])(?! r="[A-Z]{1,3}[0-9]{1,7}")|<row(?=[\s/>])(?! r="[0-9]{1,7}")'
_TAG = re.compile(rb'<(?:\w{1,32}:)?(row|c)(?=[\s/>])([^<>]{0,4096})')
_REF = re.compile(rb'(?:^|\s)r\s*=\s*["\']\s*([A-Za-z]{0,8})\s*([0-9]{0,12})')
_CHUNK = 4 << 20


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ch - 64)
    return n


def _col_letters(n: int) -> str:
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _greater(s: str, cls: str, top: str, longest: int) -> str:
    """Regex for strings over ``cls`` (same order as ``s``) that sort after ``s``: longer, or same length and larger."""
    alts = [f"{cls}{{{len(s) + 1},{longest}}}"] if len(s) < longest else []
    for i, ch in enumerate(s):
        if ch < top:
            alts.append(f"{s[:i]}[{chr(ord(ch) + 1)}-{top}]{cls}{{{len(s) - i - 1}}}")
    return "|".join(alts) or "(?!)"


@functools.lru_cache(maxsize=64)
def _beyond(rows: int, cols: int) -> re.Pattern:
    """Cells past (rows, cols), or tags the fast path cannot read."""
    letters = _greater(_col_letters(cols), "[A-Z]", "Z", 3)
    digits = _greater(str(rows) if rows else "", "[0-9]", "9", 7)
    return re.compile(
        rb'<c r="(?:(' + letters.encode() + rb')([0-9]{1,7})|([A-Z]{1,3})(' + digits.encode() + rb'))"|' + _ODD
    )


def _windows(zf: zipfile.ZipFile, info: zipfile.ZipInfo):
    """Stream an XML part as (buffer, end) windows that never split a tag (``end`` = last whole tag)."""
    carry = b""
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            buf = carry + chunk
            cut = buf.rfind(b"<") if chunk else len(buf)
            if cut <= 0 or len(buf) - cut > 8192:
                cut = len(buf)
            yield buf, cut
            carry = buf[cut:]
            if not chunk:
                return


def _exact_extent(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    """Walk every row and cell tag the way calamine places them (explicit ``r`` or the next position)."""
    rows = cols = row = col = 0
    for buf, cut in _windows(zf, info):
        for m in _TAG.finditer(buf, 0, cut):
            ref = _REF.search(m.group(2))
            letters, digits = (ref.group(1), ref.group(2)) if ref else (b"", b"")
            if m.group(1) == b"row":
                row = int(digits) if digits else row + 1
                col = 0
            else:
                col = _col_index(letters) if letters else col + 1
                if digits:
                    row = int(digits)
                cols = max(cols, col)
            rows = max(rows, row)
    return rows, cols


def _sheet_extent(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    """(rows, columns) of the grid calamine would build from this XML part (0, 0 if it has no cells)."""
    rows = cols = 0
    for buf, cut in _windows(zf, info):
        if b":c" in buf or b":row" in buf:  # prefixed tags (<x:c>): only the exact walk reads them
            return _exact_extent(zf, info)
        if not rows and not cols:  # seed from the first cells so the scan below finds little
            for letters, digits in _ANY_REF.findall(buf, 0, min(cut, 65536)):
                cols, rows = max(cols, _col_index(letters)), max(rows, int(digits))
        tags = _ROW_NUM.findall(buf, 0, cut)
        if tags:
            rows = max(rows, max(map(int, tags)))
        for m in _beyond(rows, cols).finditer(buf, 0, cut):
            if m.group(1):
                cols = max(cols, _col_index(m.group(1)))
                rows = max(rows, int(m.group(2)))
            elif m.group(3):
                cols = max(cols, _col_index(m.group(3)))
                rows = max(rows, int(m.group(4)))
            else:
                return _exact_extent(zf, info)
    return rows, cols


def check_extent(path: Path, settings: PipelineSettings, name: str) -> None:
    """Refuse a sheet whose cells span a grid too large to load (``E_XLSX_TOO_LARGE``)."""
    # ~32 bytes a cell in calamine's grid; never below what a 26-column, 99,999-row sheet needs
    budget = max(26 * 99_999, settings.max_xlsx_uncompressed_bytes // 64)
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.lower().endswith(".xml") or not info.file_size:
                    continue
                rows, cols = _sheet_extent(zf, info)
                if rows * cols > budget:
                    raise sniff.fail(
                        f"{name} has a sheet whose cells span {rows:,} rows x {cols:,} columns "
                        f"({rows * cols:,} cells, e.g. a stray cell far below or right of the table); "
                        f"the limit is {budget:,} cells. Delete the stray cells and export again.",
                        "E_XLSX_TOO_LARGE",
                    )
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise sniff.fail(
            f"{name} is a truncated or corrupt Excel workbook and cannot be opened; export it again.",
            "E_XLSX_UNREADABLE",
        ) from exc


def _is_texty(v) -> bool:
    return isinstance(v, str) and bool(v.strip()) and not _looks_number(v)


def _looks_number(s: str) -> bool:
    try:
        float(s.replace(",", "").strip())
        return True
    except ValueError:
        return False


def find_header(rows: list[list], synonyms) -> int | None:
    """Index (0-based) of the header row among the first rows, or None."""
    scan = rows[:HEADER_SCAN_ROWS]
    widths = [sum(not _blank(v) for v in r) for r in rows[: HEADER_SCAN_ROWS * 2]]
    table_width = max(widths) if widths else 0
    best = None
    for i, row in enumerate(scan):
        filled = [v for v in row if not _blank(v)]
        if len(filled) < 2:
            continue
        texty = sum(_is_texty(v) for v in filled)
        if texty < len(filled) or len(filled) < max(2, 0.6 * table_width):
            continue
        has_data = any(sum(not _blank(v) for v in r) >= 2 for r in rows[i + 1 : i + 6])
        if not has_data:
            if best is None:
                best = i  # header only: keep looking for a better one, else use it
            continue
        return i
    return best


def table_rows(rows: list[list], header_idx: int, width: int) -> list[int]:
    """Indexes of the data rows below the header, stopping at totals/notes."""
    out: list[int] = []
    after_blank = False
    for i in range(header_idx + 1, len(rows)):
        row = rows[i][:width]
        filled = [v for v in row if not _blank(v)]
        if not filled:
            after_blank = True
            continue
        first = filled[0]
        if isinstance(first, str) and _FOOTER_RE.match(first):
            break  # "Total", "Class average", "Note: ..." end the table
        if after_blank and len(filled) < max(2, width / 2):
            break
        after_blank = False
        out.append(i)
    return out


def _text(v) -> object:
    if _blank(v):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    return str(v)


def _column(values: list, text: bool) -> pd.Series:
    nonblank = [v for v in values if not _blank(v)]
    if not text and nonblank and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in nonblank):
        return pd.Series([np.nan if _blank(v) else float(v) for v in values], dtype="float64")
    if not text and nonblank and all(isinstance(v, (dt.datetime, dt.date)) for v in nonblank):
        return pd.Series(pd.to_datetime([None if _blank(v) else v for v in values]))
    return pd.Series([_text(v) for v in values], dtype="str")


def load_xlsx(path: Path, settings: PipelineSettings, original_name: str = "", sheet: str | None = None) -> Loaded:
    name = original_name or path.name
    check_zip(path, settings, name)
    check_extent(path, settings, name)
    try:
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(path))
        sheet_names = list(wb.sheet_names)
    except Exception as exc:  # calamine raises its own error types
        raise sniff.fail(
            f"{name} is a truncated or corrupt Excel workbook and cannot be opened; export it again.",
            "E_XLSX_UNREADABLE",
        ) from exc
    if sheet is not None and sheet not in sheet_names:
        raise sniff.fail(
            f"{name} has no sheet named '{sheet}'; its sheets are: {', '.join(sheet_names)}.",
            "E_SHEET_NOT_FOUND",
        )
    candidates = [sheet] if sheet is not None else sheet_names
    chosen = None
    for sname in candidates:
        try:
            ws = wb.get_sheet_by_name(sname)
            rows = ws.to_python(skip_empty_area=False)
        except Exception as exc:
            raise sniff.fail(
                f"Sheet '{sname}' of {name} cannot be read; the workbook is damaged.", "E_XLSX_UNREADABLE"
            ) from exc
        if not rows:
            continue
        h = find_header(rows, settings.synonyms)
        if h is not None:
            chosen = (sname, rows, h)
            if len(table_rows(rows, h, len(rows[h]))) or sheet is not None:
                break
    if chosen is None:
        if not any(sheet_names):
            raise sniff.fail(f"{name} has no sheets.", "E_NO_TABLE")
        raise sniff.fail(
            f"No sheet of {name} holds a table with a header row"
            + (f" (looked at '{sheet}')" if sheet else f" (sheets: {', '.join(sheet_names)})")
            + ".",
            "E_NO_TABLE",
        )
    sname, rows, h = chosen
    header = list(rows[h])
    while header and _blank(header[-1]):
        header.pop()
    width = len(header)
    if width > settings.max_columns:
        raise sniff.fail(f"{name} has {width:,} columns; the limit is {settings.max_columns:,}.", "E_TOO_MANY_COLUMNS")
    data_idx = table_rows(rows, h, width)
    if len(data_idx) > settings.max_rows:
        raise sniff.fail(f"{name} has more than {settings.max_rows:,} rows, the configured limit.", "E_TOO_MANY_ROWS")
    headers = [None if _blank(v) else str(v).strip() for v in header]
    canonical = normalize_columns(headers, settings.synonyms)
    cols = {}
    for pos in range(width):
        values = [rows[i][pos] if pos < len(rows[i]) else None for i in data_idx]
        cols[pos] = _column(values, is_text_column(canonical[pos]))
    df = pd.DataFrame(cols)
    df.index = pd.Index([i + 1 for i in data_idx])  # Excel row numbers
    clean_frame(df)
    df, headers = drop_unnamed_empty_columns(df, headers)
    positions = [c for c in df.columns]  # original 0-based column positions
    df.columns = normalize_columns(headers, settings.synonyms)
    letters = [excel_column(p) for p in positions]

    def locator(label, col=None, _s=sname, _l=letters):
        return f"{_s}!{_l[col] if col is not None and col < len(_l) else 'A'}{label}"

    info = {"format": "xlsx", "sheet": sname, "sheets": sheet_names, "header_row": h + 1}
    return Loaded(df=df, kind="xlsx", info=info, original_columns=[str(x) if x is not None else "" for x in headers], locator=locator)
