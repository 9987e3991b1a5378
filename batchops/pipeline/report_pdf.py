"""The PDF report laid out with fpdf2, from plain text (publish.pdf_text makes it from the frames).

No pandas here: the report helper of a one-shot command (render_ahead.py) imports only this module,
so it is ready to lay out before the run that feeds it has read its file.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

FONTS = Path(__file__).resolve().parent.parent / "assets" / "fonts"


@dataclass
class TableText:
    """One table as the PDF shows it: cell strings per column, for the first ``rows`` of ``total`` rows."""

    heading: str
    headers: list[str]
    columns: list[list[str]]
    right: list[bool]  # right-aligned: a column of numbers
    rows: int
    total: int
    note: str = ""


@dataclass
class ReportText:
    title: str
    school: str
    generated_at: str
    tables: list[TableText] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    about: list[str] = field(default_factory=list)  # technical details, on a last "About this report" section


def _header_line(doc: ReportText) -> str:
    return doc.school + (f"  ·  generated {doc.generated_at}" if doc.generated_at else "")


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
        doc: ReportText | None = None
        face = "DejaVu"

        def header(self):
            doc = self.doc
            if doc is None:
                return
            if self.page_no() > 1:  # a running line; the first page carries the title block
                self.set_font(self.face, "", 8)
                self.set_text_color(90, 90, 90)
                self.cell(0, 5, f"{doc.school}  ·  {doc.title}", new_x="LMARGIN", new_y="NEXT")
                self.set_text_color(0, 0, 0)
                self.ln(2)
                return
            self.set_font(self.face, "B", 14)
            self.set_text_color(40, 70, 120)
            self.cell(0, 8, doc.school, new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(0, 0, 0)
            self.set_font(self.face, "B", 16)
            self.multi_cell(0, 8, doc.title, new_x="LMARGIN", new_y="NEXT")
            if doc.generated_at:
                self.set_font(self.face, "", 9)
                self.set_text_color(90, 90, 90)
                self.cell(0, 5, f"Generated {doc.generated_at}", new_x="LMARGIN", new_y="NEXT")
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


def lay_out(doc: ReportText, missing: list[str] | None = None) -> bytes:
    """The PDF's bytes; characters the font cannot draw are appended to ``missing``."""
    widest = max((len(t.headers) for t in doc.tables), default=1)
    orientation = "L" if widest > 6 else "P"
    texts = [doc.title, _header_line(doc), "…", ABOUT, *doc.notes, *doc.about]
    for table in doc.tables:
        texts += [table.heading, table.note, *table.headers]
        for col in table.columns:
            texts += col
    pdf = _new_pdf(unicode=not _core_font_ok(texts))
    pdf.doc = doc
    pdf.set_title(doc.title)
    pdf.set_author(doc.school)
    pdf.set_auto_page_break(True, margin=15)
    pdf.alias_nb_pages()
    pdf.add_page(orientation=orientation)
    for note in doc.notes:
        pdf.set_font(pdf.face, "", 9)
        pdf.multi_cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    for table in doc.tables:
        _table(pdf, table, orientation)
    if doc.about:
        _about(pdf, doc.about, orientation)
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


def _table(pdf, table: TableText, orientation: str) -> None:
    """Equal-width columns, header repeated on every page, alternating fills.

    The body is drawn with ``text()`` + one fill rectangle and one rule per row and
    the column rules per page: ~5x faster than a ``cell()`` per value.
    """
    headers, columns, right, rows, total = table.headers, table.columns, table.right, table.rows, table.total
    face = pdf.face
    ncols = max(1, len(headers))
    size = 9 if ncols <= 6 else (8 if ncols <= 9 else (7 if ncols <= 12 else 6))
    row_h = round(size * 0.55, 2)
    x0 = pdf.l_margin
    table_w = pdf.epw
    width = table_w / ncols
    char_w = size * 0.3528 * 0.62  # mm per character, a generous average for DejaVu Sans
    baseline = row_h * 0.72

    has_note = bool(table.note or rows < total)
    _keep_together(pdf, 7 + (9 if has_note else 0) + (row_h + 1) + max(1, rows) * row_h + 3, orientation)
    if pdf.will_page_break(row_h * 4):
        pdf.add_page(orientation=orientation)
    pdf.set_font(face, "B", 11)
    pdf.cell(0, 7, table.heading, new_x="LMARGIN", new_y="NEXT")
    if has_note:
        pdf.set_font(face, "", 8)
        note = table.note or f"Showing {rows:,} of {total:,} rows; the CSV has them all."
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

    for i in range(rows):
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
    if not rows:
        pdf.cell(0, row_h, "(no rows)", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
