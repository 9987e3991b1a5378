"""Word geometry shared by the PDF table readers: lines, segments, numbers.

Words are plain dicts in pdfplumber's ``extract_words`` shape (``text``, ``x0``,
``x1``, ``top``, ``bottom``), so words from OCR can go through the same code.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

_NUMERIC = re.compile(r"^[(+-]?[$₹€£]?\s?(\d{1,3}([,.\s]\d{3})+|\d+)([.,]\d+)?%?\)?$|^[+-]?\.\d+%?$")
PAGE_FOOTER = re.compile(r"^\s*(page\s+\d+(\s*(of|/)\s*\d+)?|\d+\s*/\s*\d+|-\s*\d+\s*-|\d{1,3})\s*$", re.IGNORECASE)


def is_num(s: str) -> bool:
    return bool(_NUMERIC.match(s.strip()))


@dataclass
class Line:
    """One text line: its words left to right and its vertical extent."""

    words: list[dict]
    top: float
    bottom: float
    segments: list[dict] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w["text"] for w in self.words)


def group_lines(words: list[dict]) -> list[Line]:
    """Words -> lines, top to bottom; a word joins a line its vertical middle falls inside."""
    lines: list[Line] = []
    for w in sorted(words, key=lambda w: (w["top"], w["x0"])):
        mid = (w["top"] + w["bottom"]) / 2
        if (
            lines
            and lines[-1].top - 1 <= mid <= lines[-1].bottom + 1
            and w["top"] - lines[-1].top <= max(2.0, 0.6 * (w["bottom"] - w["top"]))
        ):
            line = lines[-1]
            line.words.append(w)
            line.bottom = max(line.bottom, w["bottom"])
        else:
            lines.append(Line([w], w["top"], w["bottom"]))
    for line in lines:
        line.words.sort(key=lambda w: w["x0"])
    return lines


def word_gap(lines: list[Line]) -> float:
    """The widest gap still read as a space between words of one cell.

    A column gap is at least about one character height wide; a word space is a
    third of that. The threshold sits between, from the median word height.
    """
    heights = [w["bottom"] - w["top"] for line in lines for w in line.words]
    h = statistics.median(heights) if heights else 10.0
    return max(2.0, 0.75 * h)


def segment(lines: list[Line], gap: float) -> None:
    """Split each line into segments: runs of words closer than ``gap``."""
    for line in lines:
        segs: list[dict] = []
        for w in line.words:
            if segs and w["x0"] - segs[-1]["x1"] <= gap:
                segs[-1]["words"].append(w)
                segs[-1]["x1"] = max(segs[-1]["x1"], w["x1"])
            else:
                segs.append({"words": [w], "x0": w["x0"], "x1": w["x1"]})
        for s in segs:
            s["text"] = " ".join(w["text"] for w in s["words"])
        line.segments = segs


@dataclass
class Fragment:
    """A table as found on one page, before header detection and stitching.

    ``rows`` hold cell texts; ``tops``/``bottoms`` each row's vertical extent;
    ``spans`` each column's x-range (to tell whether a fragment on the next page
    has the same column layout).
    """

    page: int
    layout: str  # ruled | borderless
    rows: list[list[str]]
    tops: list[float]
    bottoms: list[float]
    spans: list[tuple[float, float]]
    page_width: float
    signals: list[dict] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(self.spans)
