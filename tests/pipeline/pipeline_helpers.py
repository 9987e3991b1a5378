"""Helpers shared by the pipeline tests (imported as a plain module: tests are not a package)."""

from __future__ import annotations

from pathlib import Path


def pdf_text(path) -> str:
    """Every page's text of a PDF, read back by pdfplumber ("" for a page without any)."""
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def write(tmp_path: Path, name: str, data: bytes | str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return p


def make_borderless_pdf(
    path: Path,
    rows: list[tuple],
    header=("Roll No", "Candidate Name", "Maths", "Science"),
    per_page: int = 20,
    title: str = "EXAM CELL - MARKS",
) -> Path:
    """A borderless text report: fixed x positions, names and IDs wrapping onto a
    continuation line, the header repeated on each page, a footer 'Page n of m'."""
    from fpdf import FPDF

    fonts = Path(__file__).resolve().parents[2] / "batchops" / "assets" / "fonts"
    xs = (12, 50, 120, 150)
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.set_auto_page_break(False)
    pdf.set_font("DejaVu", size=9)
    chunks = [rows[i : i + per_page] for i in range(0, len(rows), per_page)]
    for pno, chunk in enumerate(chunks, start=1):
        pdf.add_page()
        y = 15
        pdf.text(12, y, title)
        y += 8
        for x, h in zip(xs, header):
            pdf.text(x, y, h)
        y += 6
        for sid, name, m, s in chunk:
            sid_lines = sid.split("\n")
            name_lines = name.split("\n")
            pdf.text(xs[0], y, sid_lines[0])
            pdf.text(xs[1], y, name_lines[0])
            pdf.text(xs[2], y, str(m))
            pdf.text(xs[3], y, str(s))
            for extra in range(1, max(len(sid_lines), len(name_lines))):
                y += 4.5
                if extra < len(sid_lines):
                    pdf.text(xs[0], y, sid_lines[extra])
                if extra < len(name_lines):
                    pdf.text(xs[1], y, name_lines[extra])
            y += 5
        pdf.text(95, 285, f"Page {pno} of {len(chunks)}")
    pdf.output(str(path))
    return path


def _unicode_pdf(orientation: str = "P"):
    from fpdf import FPDF

    fonts = Path(__file__).resolve().parents[2] / "batchops" / "assets" / "fonts"
    pdf = FPDF(orientation=orientation, unit="mm", format="A4")
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.set_auto_page_break(False)
    pdf.set_font("DejaVu", size=9)
    return pdf


def ruled_table(pdf, y: float, header: tuple, rows: list[tuple], widths: tuple | None = None, x: float = 12) -> float:
    """Draw a ruled table (every cell bordered) at ``y``; returns the y below it."""
    widths = widths or (30,) * len(header)
    for row in [header, *rows]:
        pdf.set_xy(x, y)
        for w, value in zip(widths, row):
            pdf.cell(w, 6, str(value), border=1)
        y += 6
    return y


def text_table(pdf, y: float, xs: tuple, header: tuple | None, rows: list[tuple], pitch: float = 5.5) -> float:
    """Draw a borderless table: each value at its column's x; returns the y below it."""
    for row in ([header] if header else []) + rows:
        for x, value in zip(xs, row):
            if value != "":
                pdf.text(x, y, str(value))
        y += pitch
    return y


def make_pdf(path: Path, pages: list, orientation: str = "P") -> Path:
    """``pages``: one callable per page, called with the FPDF object after add_page()."""
    pdf = _unicode_pdf(orientation)
    for draw in pages:
        pdf.add_page()
        draw(pdf)
    pdf.output(str(path))
    return path
