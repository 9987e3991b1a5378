"""The report's own PDF writer: what it writes reads back (pdfplumber, fontTools), and it
does not pull in fpdf2's stack (the fixed cost a small file would pay)."""

from __future__ import annotations

import io
import subprocess
import sys

import pdfplumber

from batchops.pipeline.pdf_writer import PdfDocument
from batchops.pipeline.publish import FONTS


def _read(data: bytes):
    return pdfplumber.open(io.BytesIO(data))


def test_core_font_text_lines_and_fills_read_back():
    doc = PdfDocument()
    doc.add_page()
    doc.set_font("Helvetica", "B", 12)
    doc.cell(0, 8, "Café (costs) \\ 5 €", new_x="LMARGIN", new_y="NEXT")
    doc.set_fill_color(235, 240, 248)
    doc.rect(10, 30, 50, 5, style="F")
    doc.line(10, 40, 60, 40)
    with _read(doc.output()) as pdf:
        page = pdf.pages[0]
        assert page.extract_text() == "Café (costs) \\ 5 €"
        assert page.chars[0]["fontname"] == "Helvetica-Bold" and round(page.chars[0]["size"]) == 12
        assert len(page.rects) == 1 and len(page.lines) == 1


def test_truetype_subset_draws_what_it_shows_and_lists_what_it_lacks():
    from fontTools.ttLib import TTFont

    doc = PdfDocument()
    doc.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    doc.add_page()
    doc.set_font("DejaVu", "", 10)
    doc.text(20, 20, "Łukasz Żółć é…")  # é is a composite glyph in DejaVu Sans
    doc.text(20, 30, "王")
    data = doc.output()
    assert doc.missing_glyphs == ["王"]
    with _read(data) as pdf:
        assert pdf.pages[0].extract_text().splitlines()[0] == "Łukasz Żółć é…"
    # the embedded subset is a valid TrueType font holding every glyph drawn
    from batchops.pipeline import pdf_truetype

    ttf = pdf_truetype.load(str(FONTS / "DejaVuSans.ttf"))
    used = {ttf.glyph(c) for c in "Łukasz Żółć é…" if c != " "}
    sub = TTFont(io.BytesIO(ttf.subset(used)))
    glyf = sub["glyf"]
    for gid in used:
        glyph = glyf[sub.getGlyphName(gid)]
        assert glyph.numberOfContours != 0, gid
        for part in glyph.getComponentNames(glyf) if glyph.isComposite() else []:
            assert glyf[part].numberOfContours != 0, part
    assert glyf[sub.getGlyphName(ttf.glyph("Q"))].numberOfContours == 0  # not drawn: emptied


def test_long_text_wraps_inside_the_margins_and_pages_break():
    doc = PdfDocument()
    doc.add_page()
    doc.set_font("Helvetica", "", 10)
    words = [f"word{i}" for i in range(400)]
    doc.multi_cell(0, 5, " ".join(words), new_x="LMARGIN", new_y="NEXT")
    doc.multi_cell(0, 5, "x" * 400, new_x="LMARGIN", new_y="NEXT")  # one word wider than the page
    with _read(doc.output()) as pdf:
        found = [w for p in pdf.pages for w in p.extract_words()]
        assert all(w["x1"] <= p.width - 28 for p in pdf.pages for w in p.extract_words())
    assert [w["text"] for w in found if w["text"].startswith("word")] == words
    assert "".join(w["text"] for w in found if w["text"].startswith("x")) == "x" * 400


def test_footer_counts_pages_and_header_repeats():
    class Doc(PdfDocument):
        def header(self):
            self.set_font("Helvetica", "B", 9)
            self.cell(0, 5, "Running head", new_x="LMARGIN", new_y="NEXT")

        def footer(self):
            self.set_y(-12)
            self.set_font("Helvetica", "", 8)
            self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")

    doc = Doc()
    doc.set_auto_page_break(True, margin=15)
    doc.add_page()
    doc.set_font("Helvetica", "", 10)
    for i in range(120):
        doc.cell(0, 5, f"line {i}", new_x="LMARGIN", new_y="NEXT")
    with _read(doc.output()) as pdf:
        texts = [p.extract_text() for p in pdf.pages]
    assert len(texts) >= 3
    for n, text in enumerate(texts, start=1):
        assert text.splitlines()[0] == "Running head" and text.splitlines()[-1] == f"Page {n} of {len(texts)}"
    assert "line 0" in texts[0] and "line 119" in texts[-1]


def test_rendering_a_report_does_not_import_fpdf2():
    probe = (
        "import sys, pandas as pd\n"
        "from batchops.pipeline.publish import Block, PdfSpec, render_pdf\n"
        "df = pd.DataFrame({'name': ['Łukasz', 'Asha'], 'maths': [7.5, 9.0]})\n"
        "assert render_pdf(PdfSpec('t', 's', 'now', [Block('Data', df)])).startswith(b'%PDF')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fpdf', 'fontTools', 'PIL', 'cryptography'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
