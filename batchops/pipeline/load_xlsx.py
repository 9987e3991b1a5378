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
            bad = zf.testzip() if path.stat().st_size < 5 * 1024 * 1024 else None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise sniff.fail(
            f"{name} is a truncated or corrupt Excel workbook and cannot be opened; export it again.",
            "E_XLSX_UNREADABLE",
        ) from exc
    if total > settings.max_xlsx_uncompressed_bytes:
        raise sniff.fail(
            f"{name} expands to {total / 1048576:,.0f} MB when unzipped; the limit is "
            f"{settings.max_xlsx_uncompressed_bytes / 1048576:,.0f} MB.",
            "E_XLSX_TOO_LARGE",
        )
    if bad:
        raise sniff.fail(
            f"{name} is a corrupt Excel workbook (damaged part {bad}); export it again.",
            "E_XLSX_UNREADABLE",
        )


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
