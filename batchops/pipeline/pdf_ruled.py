"""Ruled tables (cell borders): pdfplumber's table finder, one fragment per table found."""

from __future__ import annotations

from batchops.pipeline.pdf_layout import Fragment


def norm_cell(v) -> str:
    return " ".join(str(v).split()) if v is not None else ""


def page_fragments(page, pno: int) -> list[Fragment]:
    try:
        found = page.find_tables()
    except Exception:
        return []
    out = []
    for t in found:
        try:
            table = t.extract()
        except Exception:
            continue
        if not table or len(table) < 2 or max(len(r) for r in table) < 2:
            continue
        rows = [[norm_cell(c) for c in r] for r in table]
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        tops = [r.bbox[1] for r in t.rows]
        bottoms = [r.bbox[3] for r in t.rows]
        out.append(Fragment(pno, "ruled", rows, tops, bottoms, _spans(t, width), float(page.width)))
    return out


def _spans(table, width: int) -> list[tuple[float, float]]:
    """Each column's x-range, from the table's column boxes."""
    spans = []
    for col in table.columns[:width]:
        boxes = [c for c in col.cells if c]
        spans.append((min(c[0] for c in boxes), max(c[2] for c in boxes)) if boxes else (0.0, 0.0))
    return spans + [(0.0, 0.0)] * (width - len(spans))
