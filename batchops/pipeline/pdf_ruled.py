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
        width = max(len(r) for r in table)
        rows = [[norm_cell(c) for c in r] + [""] * (width - len(r)) for r in table]
        tops = [r.bbox[1] for r in t.rows]
        spans = _spans(t, width)
        signals = _fill_row_spans(t, table, rows, tops, spans, pno)
        bottoms = [r.bbox[3] for r in t.rows]
        out.append(Fragment(pno, "ruled", rows, tops, bottoms, spans, float(page.width), signals))
    return out


def _fill_row_spans(
    t, raw: list[list], rows: list[list[str]], tops: list[float], spans: list[tuple[float, float]], pno: int
) -> list[dict]:
    """A text cell merged over several rows holds its text for each of them (as a reader sees it).

    pdfplumber gives ``None`` where no cell starts (the area belongs to a merged
    cell) and ``""`` for an empty cell; only a merged cell that starts higher up in
    the same column is copied down, never one spanning columns sideways. A *number*
    merged over rows (one figure for several rows) belongs to none of them alone:
    it is not copied, and the confidence gate is told.
    """
    from batchops.pipeline.pdf_layout import is_num

    signals: list[dict] = []
    for i, r in enumerate(raw):
        for j, v in enumerate(r):
            if v is not None or i == 0 or j >= len(t.rows[i].cells):
                continue
            x0, x1 = spans[j]
            y = (t.rows[i].bbox[1] + t.rows[i].bbox[3]) / 2
            cover = next((c for c in t.cells if c[0] <= (x0 + x1) / 2 <= c[2] and c[1] <= y <= c[3]), None)
            if cover is None or cover[1] >= tops[i] - 1 or abs(cover[0] - x0) > 1 or abs(cover[2] - x1) > 1:
                continue
            origin = next((k for k in range(i - 1, -1, -1) if abs(tops[k] - cover[1]) <= 1), None)
            if origin is None or raw[origin][j] is None or not rows[origin][j]:
                continue
            if is_num(rows[origin][j]):
                signals.append({"kind": "merged_number", "page": pno, "text": f"{rows[origin][j]} spans several rows"})
            else:
                rows[i][j] = rows[origin][j]
    return signals


def _spans(table, width: int) -> list[tuple[float, float]]:
    """Each column's x-range: the commonest left and right edges of its cells (merged cells are rarer)."""
    from collections import Counter

    spans = []
    for j in range(width):
        boxes = [r.cells[j] for r in table.rows if j < len(r.cells) and r.cells[j]]
        if not boxes:
            spans.append((0.0, 0.0))
            continue
        left = Counter(round(b[0], 1) for b in boxes).most_common(1)[0][0]
        right = Counter(round(b[2], 1) for b in boxes).most_common(1)[0][0]
        spans.append((left, right))
    return spans
