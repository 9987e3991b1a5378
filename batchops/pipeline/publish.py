"""Publish: CSV (formula cells neutralised, written with pyarrow) and PDF (the text here, laid out by report_pdf).

Both files are written to a temporary name inside ``out_dir`` and renamed into
place with ``os.replace``, so a reader never sees half a report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from batchops.fsutil import atomic_path, atomic_write_bytes, safe_stem  # noqa: F401 - safe_stem is part of this API
from batchops.pipeline.report_pdf import ReportText, TableText, lay_out

# A cell a spreadsheet reads as a number is data, never a formula: -5, +7, -3.2, 1e5,
# -1,234.5 and -12% all parse as numbers in Excel, LibreOffice and Google Sheets.
_NUMBER = r"^[+-]?(\d{1,3}(,\d{3})+(\.\d*)?|\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?$"
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_MARKS = ("-", "+")  # a lone sign is a "no mark" dash, not a formula


def runs_as_formula(v: object) -> bool:
    """Would a spreadsheet opening the CSV run this cell as a formula?"""
    return (
        isinstance(v, str)
        and re.match(_FORMULA_START, v) is not None
        and v.strip() not in _PLAIN_MARKS
        and not re.match(_NUMBER, v.strip())
    )


def neutralize_text(values: list[str | None]) -> list[str | None]:
    """Pure-Python version of the rule (used for headers and small tables)."""
    return ["'" + v if isinstance(v, str) and runs_as_formula(v) else v for v in values]


def _neutralize_table(table):
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = []
    for arr in table.columns:
        if (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) and any(
            pc.any(pc.starts_with(arr, ch)).as_py() for ch in "=+-@\t\r"
        ):
            trimmed = pc.utf8_trim_whitespace(arr)
            risky = pc.and_(
                pc.and_(
                    pc.match_substring_regex(arr, _FORMULA_START),
                    pc.invert(pc.is_in(trimmed, value_set=pa.array(_PLAIN_MARKS, type=arr.type))),
                ),
                pc.invert(pc.match_substring_regex(trimmed, _NUMBER)),
            )
            if pc.any(risky).as_py():
                quote = pa.scalar("'", type=arr.type)
                empty = pa.scalar("", type=arr.type)
                arr = pc.if_else(risky, pc.binary_join_element_wise(quote, arr, empty), arr)
        cols.append(arr)
    names = neutralize_text([str(n) for n in table.column_names])
    return pa.table(cols, names=names)


def _to_arrow(df: pd.DataFrame):
    import pyarrow as pa

    df = df.reset_index(drop=True)
    df.columns = [str(c) for c in df.columns]
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        fixed = {}
        for c in df.columns:
            s = df[c]
            if s.dtype == object:
                s = s.map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v))
            fixed[c] = s
        table = pa.Table.from_pandas(pd.DataFrame(fixed), preserve_index=False)
    return pa.table([whole_floats_as_ints(col) for col in table.columns], names=table.column_names)


def whole_floats_as_ints(arr):
    """A float column of whole numbers (gaps allowed) as int64, so it prints ``85648100300``
    rather than ``8.56481003e+10`` (workbook cells are floats). Other columns as they are."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_floating(arr.type) or arr.null_count == len(arr):
        return arr
    v = arr.to_numpy(zero_copy_only=False)
    v = v[~np.isnan(v)]
    if not len(v) or not np.isfinite(v).all() or np.abs(v).max() >= 2**53:
        return arr
    if not (v == np.trunc(v)).all() or np.signbit(v[v == 0]).any():  # -0 keeps its sign
        return arr
    return pc.cast(pc.if_else(pc.is_nan(arr), pa.scalar(None, arr.type), arr), pa.int64())


def write_csv(df: pd.DataFrame, final: Path) -> Path:
    import pyarrow.csv as pacsv

    table = _neutralize_table(_to_arrow(df))
    with atomic_path(final) as tmp:
        with open(tmp, "wb") as fh:
            pacsv.write_csv(table, fh, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return final


def write_bytes(data: bytes, final: Path) -> Path:
    """The PDF, written atomically (not fsynced: the Upload row keeps the bytes too)."""
    atomic_write_bytes(final, data, fsync=False)
    return final


# ---------------------------------------------------------------- PDF


@dataclass
class Block:
    heading: str
    df: pd.DataFrame
    note: str = ""
    max_rows: int | None = None
    exact: bool = False  # dataset cells: numbers shown exactly as the CSV has them, not rounded


@dataclass
class PdfSpec:
    title: str
    school: str
    generated_at: str
    blocks: list[Block] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    about: list[str] = field(default_factory=list)  # technical details, on a last "About this report" section


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if v != v:
            return ""
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


def _column_strings(s: pd.Series, exact: bool = False) -> list[str]:
    if pd.api.types.is_float_dtype(s.dtype) and exact:
        import pyarrow as pa
        import pyarrow.compute as pc

        # the same formatting as the CSV writer (and as the text the numbers were read from)
        numbers = pa.array(s.to_numpy(dtype="float64", na_value=float("nan")), from_pandas=True)
        text = pc.cast(whole_floats_as_ints(numbers), pa.string())
        return [v or "" for v in text.to_pylist()]
    if pd.api.types.is_float_dtype(s.dtype):
        return [_fmt(v) for v in s.tolist()]
    return ["" if (v is None or (isinstance(v, float) and v != v) or v is pd.NA) else str(v) for v in s.tolist()]


def _table_text(block: Block) -> TableText:
    """One block's cells as the strings the PDF shows (its first ``max_rows`` rows)."""
    from batchops.pipeline.report_text import display_name

    df = block.df
    if block.max_rows is not None and len(df) > block.max_rows:
        df = df.iloc[: block.max_rows]
    columns = [_column_strings(df[c], block.exact) for c in df.columns]
    return TableText(
        heading=block.heading,
        headers=[display_name(c) for c in df.columns],
        columns=columns,
        right=[_numeric_column(df[c], cells) for c, cells in zip(df.columns, columns)],
        rows=len(df),
        total=len(block.df),
        note=block.note,
    )


def _numeric_column(s: pd.Series, cells: list[str]) -> bool:
    """Right-align a column of numbers: a numeric dtype, or text cells that all read as numbers."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return False
    if pd.api.types.is_numeric_dtype(s.dtype):
        return True
    filled = [c for c in cells if c]
    return bool(filled) and all(re.match(_NUMBER, c.strip()) for c in filled)


def pdf_text(spec: PdfSpec) -> ReportText:
    """Everything the PDF shows, as plain text: what report_pdf lays out, here or in the helper process."""
    return ReportText(
        title=spec.title,
        school=spec.school,
        generated_at=spec.generated_at,
        tables=[_table_text(b) for b in spec.blocks],
        notes=list(spec.notes),
        about=list(spec.about),
    )


def render_pdf(spec: PdfSpec, missing: list[str] | None = None) -> bytes:
    """The PDF's bytes; characters the font cannot draw are appended to ``missing``.

    A one-shot command's helper process lays it out if there is one (render_ahead), else this one.
    """
    from batchops.pipeline import render_ahead

    text = pdf_text(spec)
    missed: list[str] = []
    done = render_ahead.render(text, missed)
    data = lay_out(text, missed) if done is None else done
    if missing is not None:
        missing.extend(missed)
    return data
