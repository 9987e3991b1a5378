"""Workbook (.xlsx, .xlsm, .xlsb, .xls, .ods) -> DataFrame.

* Guards first, per format (``workbook_guard``): zip bombs and far-away cells in the zipped
  formats, the sheet extents of a binary .xls, password protection -> ``E_WORKBOOK_ENCRYPTED``.
* Cells are read with python-calamine (read-only by nature, ~10x faster than openpyxl on
  bulk data; one API for every format).
* Sheet: ``sheet`` if given (unknown -> ``E_SHEET_NOT_FOUND``), else the first sheet that
  holds a table.
* Tables on the sheet are found by ``sheet_tables`` (header rows, two-row headers, where a
  table ends, tables side by side). One table is read; several are never joined: the one
  whose header has the required columns is taken (a finding names the others), else
  ``E_MULTIPLE_TABLES`` lists them.
* Values as the file holds them: text stays text ("007"), numbers are numbers, dates dates.
* Every row keeps its sheet row number as index label; locations read "Sheet!B7".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from batchops.errors import PipelineError
from batchops.pipeline import sniff, workbook_guard
from batchops.pipeline.columns import is_text_column, normalize_columns, synonym_lookup
from batchops.pipeline.findings import excel_column, finding
from batchops.pipeline.frame import Loaded, clean_frame, drop_unnamed_empty_columns
from batchops.pipeline.settings import PipelineSettings
from batchops.pipeline.sheet_tables import SheetTable, blank, find_tables, fits

FORMAT_NAMES = {
    "xlsx": "Excel workbook",
    "xls": "Excel 97-2003 workbook",
    "xlsb": "Excel binary workbook",
    "ods": "OpenDocument spreadsheet",
}


def _text(v) -> object:
    if blank(v):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime) and v.time() == dt.time(0):
        return v.date().isoformat()
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    return str(v)


_NUMBER_TYPES = frozenset((int, float, type(None)))


def _column(values: Sequence, text: bool) -> pd.Series:
    kinds = set(map(type, values))  # the common columns, in one C-speed pass instead of a test per cell
    if not text and kinds <= _NUMBER_TYPES and any(v is not None and v == v for v in values):
        return pd.Series(values, dtype="float64")  # None -> NaN, as below
    if kinds <= {str, type(None)}:
        return pd.Series([v if v is not None and v.strip() else None for v in values], dtype="str")
    nonblank = [v for v in values if not blank(v)]
    if not text and nonblank and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in nonblank):
        # blank cells here are None, blank text or NaN: all but the numbers become NaN
        return pd.Series([float(v) if isinstance(v, (int, float)) else np.nan for v in values], dtype="float64")
    if not text and nonblank and all(isinstance(v, (dt.datetime, dt.date)) for v in nonblank):
        return pd.Series(pd.to_datetime([None if blank(v) else v for v in values]))
    return pd.Series([_text(v) for v in values], dtype="str")


def _unreadable(name: str, fmt: str) -> PipelineError:
    return sniff.fail(
        f"{name} is a truncated or corrupt {FORMAT_NAMES.get(fmt, 'workbook')} and cannot be opened; export it again.",
        "E_XLSX_UNREADABLE",
    )


def _open(path: Path, name: str, fmt: str):
    try:
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(path))
        return wb, list(wb.sheet_names)
    except Exception as exc:  # calamine raises its own error types
        if workbook_guard.password_protected(path, fmt):
            raise workbook_guard.encrypted(name) from exc
        raise _unreadable(name, fmt) from exc


def _grid(wb, sname: str, name: str) -> list[list]:
    try:
        return wb.get_sheet_by_name(sname).to_python(skip_empty_area=False)
    except Exception as exc:
        raise sniff.fail(
            f"Sheet '{sname}' of {name} cannot be read; the workbook is damaged.", "E_XLSX_UNREADABLE"
        ) from exc


def _pick_sheet(wb, sheet_names: list[str], sheet: str | None, name: str, lookup):
    if sheet is not None and sheet not in sheet_names:
        raise sniff.fail(
            f"{name} has no sheet named '{sheet}'; its sheets are: {', '.join(sheet_names)}.", "E_SHEET_NOT_FOUND"
        )
    chosen = None
    for sname in [sheet] if sheet is not None else sheet_names:
        rows = _grid(wb, sname, name)
        tables = find_tables(rows, lookup) if rows else []
        if tables and (chosen is None or not any(t.data_rows for t in chosen[2])):
            chosen = (sname, rows, tables)
        if chosen and any(t.data_rows for t in chosen[2]):
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
    return chosen


def choose(
    tables: list[SheetTable], required: Sequence[str], lookup, sname: str, name: str
) -> tuple[SheetTable, list[dict]]:
    """The one table to read, plus a finding naming the tables left out; several candidates -> refuse."""
    if len(tables) == 1:
        return tables[0], []
    listing = "; ".join(f"table {i} at {sname}!{t.describe()}" for i, t in enumerate(tables, start=1))
    fitting = [t for t in tables if fits(t, required, lookup)]
    if len(fitting) != 1:
        why = (
            f"{len(fitting)} of them have" if fitting else "none has"
        ) + f" the required columns ({', '.join(required) or 'none configured'})"
        raise sniff.fail(
            f"Sheet '{sname}' of {name} holds {len(tables)} separate tables and {why}, so BatchOps will not "
            f"guess: {listing}. Put the table to publish on a sheet of its own (choose it with --sheet) "
            "or export it as CSV.",
            "E_MULTIPLE_TABLES",
            tables=[t.describe() for t in tables],
        )
    table = fitting[0]
    others = "; ".join(f"{sname}!{t.describe()}" for t in tables if t is not table)
    note = finding(
        "W_OTHER_TABLES",
        f"Sheet '{sname}' holds {len(tables)} tables; read the one at {sname}!{table.cell_range()} "
        f"(it has the required columns) and left out: {others}.",
        location=f"{sname}!{table.cell_range()}",
    )
    return table, [note]


def load_xlsx(
    path: Path,
    settings: PipelineSettings,
    original_name: str = "",
    sheet: str | None = None,
    fmt: str = "xlsx",
    required: Sequence[str] = (),
) -> Loaded:
    name = original_name or path.name
    workbook_guard.check(path, settings, name, fmt)
    wb, sheet_names = _open(path, name, fmt)
    lookup = synonym_lookup(settings.synonyms)
    sname, rows, tables = _pick_sheet(wb, sheet_names, sheet, name, lookup)
    table, found = choose(tables, required, lookup, sname, name)
    width = table.width
    if width > settings.max_columns:
        raise sniff.fail(f"{name} has {width:,} columns; the limit is {settings.max_columns:,}.", "E_TOO_MANY_COLUMNS")
    if len(table.data_rows) > settings.max_rows:
        raise sniff.fail(f"{name} has more than {settings.max_rows:,} rows, the configured limit.", "E_TOO_MANY_ROWS")
    headers = list(table.headers)
    canonical = normalize_columns(headers, settings.synonyms)
    c0 = table.first_col
    cols = {}
    for pos in range(width):
        values = [rows[i][c0 + pos] if c0 + pos < len(rows[i]) else None for i in table.data_rows]
        cols[pos] = _column(values, is_text_column(canonical[pos]))
    df = pd.DataFrame(cols)
    df.index = pd.Index([i + 1 for i in table.data_rows])  # sheet row numbers
    clean_frame(df)
    df, headers = drop_unnamed_empty_columns(df, headers)
    letters = [excel_column(c0 + p) for p in df.columns]  # columns are still the positions here
    df.columns = normalize_columns(headers, settings.synonyms)

    def locator(label, col=None, _s=sname, _l=letters):
        return f"{_s}!{_l[col] if col is not None and col < len(_l) else 'A'}{label}"

    info = {
        "format": fmt,
        "sheet": sname,
        "sheets": sheet_names,
        "header_row": table.header_rows[0] + 1,
        "tables": len(tables),
        "range": table.cell_range(),
    }
    if len(table.header_rows) > 1:
        info["header_rows"] = len(table.header_rows)
    return Loaded(
        df=df,
        kind="xlsx",
        info=info,
        original_columns=[str(x) if x is not None else "" for x in headers],
        locator=locator,
        findings=found,
    )
