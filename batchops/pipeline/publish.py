"""Publish: CSV (formula cells neutralised, written with pyarrow) and PDF (fpdf2).

Both files are written to a temporary name inside ``out_dir`` and renamed into
place with ``os.replace``, so a reader never sees half a report.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from batchops.fsutil import atomic_path, atomic_write_bytes, safe_stem  # noqa: F401 - safe_stem is part of this API

FONTS = Path(__file__).resolve().parent.parent / "assets" / "fonts"
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
    total: int | None = None  # rows of the whole table when ``df`` holds only the first max_rows


@dataclass
class PdfSpec:
    title: str
    school: str
    generated_at: str
    blocks: list[Block] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    about: list[str] = field(default_factory=list)  # technical details, on a last "About this report" section


def shown_only(spec: PdfSpec) -> PdfSpec:
    """``spec`` with each block cut to the rows the PDF shows (what to send to another process)."""
    blocks = [
        replace(b, df=b.df.iloc[: b.max_rows], total=len(b.df))
        if b.max_rows is not None and len(b.df) > b.max_rows
        else b
        for b in spec.blocks
    ]
    return replace(spec, blocks=blocks)


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


def _header_line(spec: PdfSpec) -> str:
    return spec.school + (f"  ·  generated {spec.generated_at}" if spec.generated_at else "")


_spare: list = []  # one DejaVu document made ahead by warm_up()


def warm_up() -> None:
    """Import fpdf2 and parse the fonts now, so the next DejaVu report starts from a ready document."""
    if not _spare:
        _spare.append(_new_pdf(unicode=True))


def _new_pdf(unicode: bool = True):
    """A report document: DejaVu Sans (bundled TTF) when some text needs it, else Helvetica.

    The core font needs no TTF parsing (~0.1 s) and no font subsetting on output
    (~0.06 s); it covers Windows-1252 (fpdf2 declares core fonts WinAnsiEncoding).
    """
    if unicode and _spare:
        from datetime import datetime, timezone

        pdf = _spare.pop()
        pdf.set_creation_date(datetime.now(timezone.utc))  # made ahead, dated now
        return pdf
    from fpdf import FPDF

    class Report(FPDF):
        spec: PdfSpec | None = None
        face = "DejaVu"

        def header(self):
            spec = self.spec
            if spec is None:
                return
            if self.page_no() > 1:  # a running line; the first page carries the title block
                self.set_font(self.face, "", 8)
                self.set_text_color(90, 90, 90)
                self.cell(0, 5, f"{spec.school}  ·  {spec.title}", new_x="LMARGIN", new_y="NEXT")
                self.set_text_color(0, 0, 0)
                self.ln(2)
                return
            self.set_font(self.face, "B", 14)
            self.set_text_color(40, 70, 120)
            self.cell(0, 8, spec.school, new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(0, 0, 0)
            self.set_font(self.face, "B", 16)
            self.multi_cell(0, 8, spec.title, new_x="LMARGIN", new_y="NEXT")
            if spec.generated_at:
                self.set_font(self.face, "", 9)
                self.set_text_color(90, 90, 90)
                self.cell(0, 5, f"Generated {spec.generated_at}", new_x="LMARGIN", new_y="NEXT")
                self.set_text_color(0, 0, 0)
            self.ln(4)

        def footer(self):
            self.set_y(-12)
            self.set_font(self.face, "", 8)
            self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = Report(orientation="P", unit="mm", format="A4")
    if unicode:
        pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    else:
        pdf.face = "Helvetica"
        pdf.core_fonts_encoding = "cp1252"
    return pdf


def _core_font_ok(texts) -> bool:
    """True when every string encodes to Windows-1252 (what the core fonts can show)."""
    try:
        "\n".join(texts).encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _prepare(block: Block):
    """(shown rows, headers, cell strings per column) of one table block."""
    from batchops.pipeline.report_text import display_name

    df = block.df
    if block.max_rows is not None and len(df) > block.max_rows:
        df = df.iloc[: block.max_rows]
    return df, [display_name(c) for c in df.columns], [_column_strings(df[c], block.exact) for c in df.columns]


def _numeric_column(s: pd.Series, cells: list[str]) -> bool:
    """Right-align a column of numbers: a numeric dtype, or text cells that all read as numbers."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return False
    if pd.api.types.is_numeric_dtype(s.dtype):
        return True
    filled = [c for c in cells if c]
    return bool(filled) and all(re.match(_NUMBER, c.strip()) for c in filled)


def render_pdf(spec: PdfSpec, missing: list[str] | None = None) -> bytes:
    """The PDF's bytes; characters the font cannot draw are appended to ``missing``."""
    widest = max((len(b.df.columns) for b in spec.blocks), default=1)
    orientation = "L" if widest > 6 else "P"
    prepared = [_prepare(b) for b in spec.blocks]
    texts = [spec.title, _header_line(spec), "…", ABOUT, *spec.notes, *spec.about]
    for block, (_, headers, columns) in zip(spec.blocks, prepared):
        texts += [block.heading, block.note, *headers]
        for col in columns:
            texts += col
    pdf = _new_pdf(unicode=not _core_font_ok(texts))
    pdf.spec = spec
    pdf.set_title(spec.title)
    pdf.set_author(spec.school)
    pdf.set_auto_page_break(True, margin=15)
    pdf.alias_nb_pages()
    pdf.add_page(orientation=orientation)
    for note in spec.notes:
        pdf.set_font(pdf.face, "", 9)
        pdf.multi_cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    for block, shown in zip(spec.blocks, prepared):
        _table(pdf, block, orientation, shown)
    if spec.about:
        _about(pdf, spec.about, orientation)
    with _glyph_warnings() as missed:
        data = bytes(pdf.output())
    if missing is not None:
        missing.extend(missed)
    return data


ABOUT = "About this report"
_BODY_TOP = 7  # mm below the top margin on pages after the first (the running header line)


def _keep_together(pdf, height: float, orientation: str) -> None:
    """Start a block on a new page when it would split here but fits whole on a fresh page."""
    room_here = pdf.page_break_trigger - pdf.get_y()
    room_fresh = pdf.page_break_trigger - pdf.t_margin - _BODY_TOP
    if height > room_here and height <= room_fresh:
        pdf.add_page(orientation=orientation)


def _about(pdf, lines: list[str], orientation: str) -> None:
    """The technical details (source file, upload, plan settings) as plain lines, last."""
    line_h = 5
    _keep_together(pdf, 12 + line_h * len(lines), orientation)
    pdf.ln(2)
    pdf.set_draw_color(150, 150, 150)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(2)
    pdf.set_font(pdf.face, "B", 11)
    pdf.cell(0, 7, ABOUT, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.face, "", 9)
    for line in lines:
        pdf.multi_cell(0, line_h, line, new_x="LMARGIN", new_y="NEXT")


@contextmanager
def _glyph_warnings():
    """Collect the characters fpdf2 reports as missing from the font, instead of it logging to stderr."""
    missed: list[str] = []

    class Capture(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            text = record.getMessage()
            if "missing the following glyphs" not in text:
                return True
            missed.extend(re.findall(r"'(.)' \(", text))
            return False

    capture = Capture()
    logger = logging.getLogger("fpdf.output")
    logger.addFilter(capture)
    try:
        yield missed
    finally:
        logger.removeFilter(capture)


def _fit(pdf, text: str, width: float, char_w: float) -> str:
    """``text`` cut with "…" to fit ``width``: a handful of width measurements, not one per character.

    Prefix widths only grow, so a binary search finds the longest prefix that fits
    with the ellipsis; the search starts from a prefix twice the average-width
    estimate (a 100 KB cell costs ~8 measurements of short strings).
    """
    room = width - 2
    n = len(text)
    if n * char_w <= room:
        return text
    measure = pdf.get_string_width
    hi = min(n, int(room / char_w * 2) + 2)
    if measure(text[:hi]) <= room:  # narrow glyphs: the estimate was too short
        if hi == n or measure(text) <= room:
            return text
        hi = n
    lo = 0  # invariant: text[:lo] + "…" fits (or lo == 0); text[:hi] + "…" does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if measure(text[:mid] + "…") <= room:
            lo = mid
        else:
            hi = mid
    return text[:lo] + "…"


def _table(pdf, block: Block, orientation: str, shown=None) -> None:
    """Equal-width columns, header repeated on every page, alternating fills.

    The body is drawn with ``text()`` + one fill rectangle and one rule per row and
    the column rules per page: ~5x faster than a ``cell()`` per value.
    """
    total = len(block.df) if block.total is None else block.total
    df, headers, columns = shown if shown is not None else _prepare(block)
    face = pdf.face
    ncols = max(1, len(df.columns))
    size = 9 if ncols <= 6 else (8 if ncols <= 9 else (7 if ncols <= 12 else 6))
    row_h = round(size * 0.55, 2)
    x0 = pdf.l_margin
    table_w = pdf.epw
    width = table_w / ncols
    char_w = size * 0.3528 * 0.62  # mm per character, a generous average for DejaVu Sans
    baseline = row_h * 0.72

    right = [_numeric_column(df[c], col) for c, col in zip(df.columns, columns)]
    has_note = bool(block.note or (block.max_rows is not None and total > block.max_rows))
    _keep_together(pdf, 7 + (9 if has_note else 0) + (row_h + 1) + max(1, len(df)) * row_h + 3, orientation)
    if pdf.will_page_break(row_h * 4):
        pdf.add_page(orientation=orientation)
    pdf.set_font(face, "B", 11)
    pdf.cell(0, 7, block.heading, new_x="LMARGIN", new_y="NEXT")
    if has_note:
        pdf.set_font(face, "", 8)
        note = block.note or f"Showing {len(df):,} of {total:,} rows; the CSV has them all."
        pdf.multi_cell(0, 4.5, note, new_x="LMARGIN", new_y="NEXT")

    pdf.set_draw_color(150, 150, 150)
    pdf.set_line_width(0.1)

    def head() -> float:
        pdf.set_font(face, "B", size)
        pdf.set_fill_color(40, 70, 120)
        pdf.set_text_color(255, 255, 255)
        for h, r in zip(headers, right):
            pdf.cell(width, row_h + 1, _fit(pdf, h, width, char_w), border=1, fill=True, align="R" if r else "L")
        pdf.ln(row_h + 1)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(face, "", size)
        pdf.set_fill_color(235, 240, 248)
        return pdf.get_y()

    def rules(top: float, bottom: float) -> None:
        if bottom > top:
            for j in range(ncols + 1):
                x = x0 + j * width
                pdf.line(x, top, x, bottom)

    y = top = head()
    limit = pdf.page_break_trigger
    text = pdf.text
    widths: dict[str, float] = {}  # numbers repeat: measure each distinct one once

    def right_x(j: int, v: str) -> float:
        w = widths.get(v)
        if w is None:
            w = widths[v] = pdf.get_string_width(v)
        return x0 + (j + 1) * width - 1 - w

    for i in range(len(df)):
        if y + row_h > limit:
            rules(top, y)
            pdf.add_page(orientation=orientation)
            y = top = head()
            limit = pdf.page_break_trigger
        if i % 2:
            pdf.rect(x0, y, table_w, row_h, style="F")
        by = y + baseline
        for j, col in enumerate(columns):
            v = col[i]
            if v:
                v = _fit(pdf, v, width, char_w)
                text(right_x(j, v) if right[j] else x0 + j * width + 1, by, v)
        y += row_h
        pdf.line(x0, y, x0 + table_w, y)
    rules(top, y)
    pdf.set_y(y)
    if not len(df):
        pdf.cell(0, row_h, "(no rows)", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
