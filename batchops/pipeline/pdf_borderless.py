"""Borderless tables: columns from where words sit in every row, not from the header line.

Per page: words -> lines -> segments (runs of words closer than a column gap).
A *block* is a run of lines that have two or more segments (one-segment lines in
between are kept: wrapped names, rows with one filled cell). Inside a block the
*body* starts at the first line with about as many segments as a typical line;
the x-ranges covered by the body's segments, merged over all its lines, are the
columns: a gap empty in every body line is a column boundary. Lines above the
body (titles, multi-line headers) are placed into those columns by overlap.

The entry point takes words per page (pdfplumber ``extract_words`` dicts), so
OCR words can use the same reader.
"""

from __future__ import annotations

import statistics

from batchops.pipeline.pdf_layout import (
    PAGE_FOOTER,
    Fragment,
    Line,
    group_lines,
    is_num,
    segment,
    word_gap,
)

MIN_BODY_LINES = 2


def read_borderless(pages: list[list[dict]], widths: list[float] | None = None, first_page: int = 1) -> list[Fragment]:
    out: list[Fragment] = []
    for i, words in enumerate(pages):
        width = widths[i] if widths else max((w["x1"] for w in words), default=600.0)
        out.extend(page_fragments(words, first_page + i, width))
    return out


def page_fragments(words: list[dict], page: int, width: float) -> list[Fragment]:
    lines = group_lines([w for w in words if str(w.get("text", "")).strip()])
    if not lines:
        return []
    gap = word_gap(lines)
    segment(lines, gap)
    lines = [ln for ln in lines if not (len(ln.segments) == 1 and PAGE_FOOTER.match(ln.text))]
    frags = []
    for block in _blocks(lines):
        frag = _fragment(block, page, width, gap)
        if frag is not None:
            frags.append(frag)
    return frags


def _pitch(lines: list[Line]) -> float:
    steps = [b.top - a.top for a, b in zip(lines, lines[1:]) if b.top > a.top]
    return statistics.median(steps) if steps else 12.0


def _blocks(lines: list[Line]) -> list[list[Line]]:
    """Runs of table-like lines; a long vertical gap or three one-segment lines in a row end a run."""
    pitch = _pitch(lines)
    blocks: list[list[Line]] = []
    current: list[Line] = []
    singles = 0
    for ln in lines:
        multi = len(ln.segments) >= 2
        if current and (ln.top - current[-1].top > 3.2 * pitch or (not multi and singles >= 2)):
            blocks.append(current)
            current, singles = [], 0
        if not current and not multi:
            continue
        current.append(ln)
        singles = 0 if multi else singles + 1
    if current:
        blocks.append(current)
    out = []
    for b in blocks:
        while len(b) > 1 and len(b[-1].segments) < 2 and b[-1].top - b[-2].top > 1.6 * pitch:
            b = b[:-1]  # a note or footer set apart below the table
        if sum(1 for ln in b if len(ln.segments) >= 2) >= MIN_BODY_LINES + 1:
            out.append(b)
    return out


def _body_start(block: list[Line]) -> int:
    counts = [len(ln.segments) for ln in block if len(ln.segments) >= 2]
    typical = statistics.median(counts)
    for i, ln in enumerate(block):
        if len(ln.segments) >= max(2, 0.75 * typical):
            return i
    return 0


def columns(body: list[Line]) -> list[tuple[float, float]]:
    """x-ranges covered by segments of the body's multi-segment lines, merged.

    When most lines carry numbers, lines without any (a header, a spanning
    title) do not count: their words may run across a column gap.
    """
    multi = [ln for ln in body if len(ln.segments) >= 2]
    with_numbers = [ln for ln in multi if any(is_num(s["text"]) for s in ln.segments)]
    if len(with_numbers) >= max(2, len(multi) // 2):
        multi = with_numbers
    spans = sorted((s["x0"], s["x1"]) for ln in multi for s in ln.segments)
    cols: list[list[float]] = []
    for x0, x1 in spans:
        if cols and x0 <= cols[-1][1]:
            cols[-1][1] = max(cols[-1][1], x1)
        else:
            cols.append([x0, x1])
    return [(a, b) for a, b in cols]


def column_of(
    word: dict, cols: list[tuple[float, float]], after: tuple[dict, int] | None = None, gap: float = 0.0
) -> int:
    """The column a word overlaps most; a word in a gap between columns stays with the word
    just before it when they are one phrase (closer than ``gap``), else goes to the nearest column."""
    best, best_overlap = 0, -1.0
    for j, (a, b) in enumerate(cols):
        overlap = min(b, word["x1"]) - max(a, word["x0"])
        if overlap > best_overlap:
            best, best_overlap = j, overlap
    if best_overlap > 0:
        return best
    if after is not None and word["x0"] - after[0]["x1"] <= gap:
        return after[1]
    mid = (word["x0"] + word["x1"]) / 2
    return min(range(len(cols)), key=lambda j: min(abs(mid - cols[j][0]), abs(mid - cols[j][1])))


def crosses(line: Line, cols: list[tuple[float, float]]) -> bool:
    """A segment reaching over two or more columns (a title, a note, prose)."""
    for s in line.segments:
        hit = sum(1 for a, b in cols if min(b, s["x1"]) - max(a, s["x0"]) > 0)
        if hit >= 2:
            return True
    return False


def _fragment(block: list[Line], page: int, width: float, gap: float) -> Fragment | None:
    start = _body_start(block)
    cols = columns(block[start:])
    if len(cols) < 2:
        return None
    head = block[:start]
    # a title above the header reaching over several columns is not part of the table
    while head and len(head[0].segments) <= 2 and crosses(head[0], cols) and len(head) > 0:
        head = head[1:]
    body = block[start:]
    while body and len(body[-1].segments) < 2 and crosses(body[-1], cols):
        body = body[:-1]  # a trailing note reaching over columns
    lines = head + body
    rows, tops, bottoms, signals = [], [], [], []
    for ln in lines:
        cells = [""] * len(cols)
        before = None
        for w in ln.words:
            j = column_of(w, cols, before, gap)
            cells[j] = (cells[j] + " " + w["text"]).strip()
            before = (w, j)
        if ln in body and crosses(ln, cols):
            signals.append({"kind": "spanning_line", "page": page, "text": ln.text[:80]})
        rows.append(cells)
        tops.append(ln.top)
        bottoms.append(ln.bottom)
    return Fragment(page, "borderless", rows, tops, bottoms, cols, width, signals)
