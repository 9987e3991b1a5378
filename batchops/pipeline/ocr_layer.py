"""OCR'd pages -> a text PDF that ``load_pdf`` reads like a born-digital one.

Every word is written where the scan had it, stretched to the width of its box, on a
baseline shared by its line (so the table readers see the same rows and column gaps as on
paper). A ruled table's rules are drawn back as vector lines, so the ruled reader finds the
same cells. The PDF is a working file: it never reaches an operator.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from batchops.pipeline.ocr import ScanPage

FONT = Path(__file__).resolve().parent.parent / "assets" / "fonts" / "DejaVuSans.ttf"
CAP_HEIGHT = 0.73  # DejaVu Sans: capital height per em (a word box is about that tall)
WORD_GAP = 1.6  # a gap under 1.6 capital heights is a space (monospace spaces are wide); wider is a column gap


def _lines(words: list[dict]) -> list[list[dict]]:
    by_line: dict[tuple, list[dict]] = {}
    for w in words:
        by_line.setdefault(w.get("line", (0, 0, round(w["bottom"]))), []).append(w)
    return list(by_line.values())


def _grid(page: ScanPage) -> tuple[list[float], list[float], float, float, float, float] | None:
    """Rule positions extended to one rectangle, or None when the rules do not make a grid of cells."""
    if len(page.h_rules) < 3 or len(page.v_rules) < 3:
        return None
    ys = sorted(y for y, _, _ in page.h_rules)
    xs = sorted(x for x, _, _ in page.v_rules)
    return ys, xs, xs[0], xs[-1], ys[0], ys[-1]


def _segments(line: list[dict], height: float, rules: list[float]) -> list[list[dict]]:
    """Words of a line joined into runs of text (real spaces between them) up to a column gap or a rule."""
    segs: list[list[dict]] = []
    for w in line:
        if segs:
            prev = segs[-1][-1]
            crosses = any(prev["x1"] <= x <= w["x0"] for x in rules)
            if w["x0"] - prev["x1"] <= WORD_GAP * height and not crosses:
                segs[-1].append(w)
                continue
        segs.append([w])
    return segs


def write_layer(pages: list[ScanPage], out: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0)
    pdf.add_font("DejaVu", "", str(FONT))
    for page in pages:
        pdf.add_page(format=(page.width_pt, page.height_pt))
        grid = _grid(page)
        if grid:
            ys, xs, left, right, top, bottom = grid
            pdf.set_line_width(0.5)
            for y in ys:
                pdf.line(left, y, right, y)
            for x in xs:
                pdf.line(x, top, x, bottom)
        rules = grid[1] if grid else []
        for line in _lines(page.words):
            height = statistics.median(w["bottom"] - w["top"] for w in line)
            baseline = statistics.median(w["bottom"] for w in line)
            pdf.set_font("DejaVu", size=max(2.0, height / CAP_HEIGHT))
            for seg in _segments(sorted(line, key=lambda w: w["x0"]), height, rules):
                text = " ".join(w["text"] for w in seg)
                natural = pdf.get_string_width(text)
                box = max(0.5, seg[-1]["x1"] - seg[0]["x0"])
                pdf.set_stretching(100.0 * box / natural if natural else 100.0)
                pdf.text(seg[0]["x0"], baseline, text)
            pdf.set_stretching(100.0)
    pdf.output(str(out))
    return out
