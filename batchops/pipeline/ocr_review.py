"""The gate between OCR and publish: a scan publishes only what it read with confidence.

Checked cells are the column headers, the identifier column (``student_id``, else the
first) and the mark columns (mostly numbers). A checked cell is doubtful when

* OCR was unsure of a word in it (confidence below ``ocr_min_confidence``, after the
  second reading ``ocr`` gives unsure words),
* a mark is not a number and not an absence mark (``7O``, ``S5``; ``AB`` and ``-`` are fine),
* an identifier breaks the shape most identifiers in the file share (``ARTS/2026/0O017``).

Each doubtful cell is a ``W_OCR_DOUBTFUL`` finding with its page, row and column. More than
``ocr_max_doubtful_share`` of the checked cells doubtful -> ``E_OCR_LOW_CONFIDENCE``: the
table is refused, never published with marks that may be wrong.

Names are not gated, with one narrow repair: a name word that starts with a lower-case
``l`` where the name's other words are capitalised is a capital ``I`` read as ``l``
("Anika lyer" -> "Anika Iyer" in sans-serif print); each repair is a ``W_OCR_CORRECTED``
finding.
"""

from __future__ import annotations

import re

import pandas as pd

from batchops.pipeline import sniff
from batchops.pipeline.findings import finding
from batchops.pipeline.frame import Loaded
from batchops.pipeline.settings import PipelineSettings

ABSENT = frozenset({"ab", "abs", "absent", "a", "-", "--", "—", "–", "na", "n/a", "nil", "x", "ex", "exempt", "med"})
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d+)?|\.\d+)%?$")
_PAGE = re.compile(r"page (\d+)")
_L_FOR_I = re.compile(r"(?<!\S)l(?=[a-z])")


def shape(text: str) -> str:
    """'ARTS/2026/00017' -> 'A/9/9': runs of letters and digits collapsed, punctuation kept."""
    s = re.sub(r"[A-Za-z]+", "A", text)
    return re.sub(r"\d+", "9", s)


def _digits_pattern(values: list[str]) -> dict[str, tuple[int, ...]]:
    """For each shape, the digit-run lengths most of its values share (00017 -> 5)."""
    by_shape: dict[str, dict[tuple[int, ...], int]] = {}
    for v in values:
        lengths = tuple(len(d) for d in re.findall(r"\d+", v))
        counts = by_shape.setdefault(shape(v), {})
        counts[lengths] = counts.get(lengths, 0) + 1
    return {s: max(c, key=lambda k: c[k]) for s, c in by_shape.items()}


def _majority(values: list[str]) -> tuple[str | None, tuple[int, ...] | None]:
    if len(values) < 4:
        return None, None
    shapes: dict[str, int] = {}
    for v in values:
        shapes[shape(v)] = shapes.get(shape(v), 0) + 1
    top = max(shapes, key=lambda k: shapes[k])
    if shapes[top] < 0.6 * len(values):
        return None, None  # no pattern to hold them to
    return top, _digits_pattern([v for v in values if shape(v) == top])[top]


def _is_mark_column(values: list[str]) -> bool:
    filled = [v for v in values if v]
    numeric = sum(bool(_NUMBER.match(v)) for v in filled)
    return bool(filled) and numeric >= 0.6 * len(filled)


def _fix_names(loaded: Loaded) -> list[dict]:
    df = loaded.df
    if "name" not in df.columns:
        return []
    pos = list(df.columns).index("name")
    found = []
    for label, value in df["name"].items():
        if not isinstance(value, str) or not _L_FOR_I.search(value):
            continue
        others = [w for w in value.split() if not w.startswith("l")]
        if not others or not all(w[:1].isupper() for w in others):
            continue
        fixed = _L_FOR_I.sub("I", value)
        df.at[label, "name"] = fixed
        found.append(
            finding(
                "W_OCR_CORRECTED",
                f"Name read as '{value}' by OCR; published as '{fixed}' (a capital I read as a lower-case l).",
                location=loaded.locator(label, pos),
                column="name",
                row=label,
            )
        )
    return found


def review(loaded: Loaded, low_confidence: dict[int, set[str]], settings: PipelineSettings, name: str) -> Loaded:
    """Findings for doubtful ID and mark cells, or ``E_OCR_LOW_CONFIDENCE`` when there are too many."""
    df = loaded.df
    columns = list(df.columns)
    if not columns:
        return loaded
    id_col = "student_id" if "student_id" in columns else columns[0]
    text = {c: [("" if pd.isna(v) else str(v).strip()) for v in df[c]] for c in columns}
    checked = [id_col] + [c for c in columns if c != id_col and c != "name" and _is_mark_column(text[c])]
    id_shape, id_digits = _majority([v for v in text[id_col] if v])
    doubtful: list[dict] = []
    cells = 0
    for col in checked:
        pos = columns.index(col)
        for label, value in zip(df.index, text[col]):
            if not value:
                continue
            cells += 1
            where = loaded.locator(label, pos)
            page = int(m.group(1)) if (m := _PAGE.search(where)) else 1
            unsure = low_confidence.get(page, set())
            why = None
            if any(tok in unsure for tok in value.split()) or any(len(w) >= 4 and w in value for w in unsure):
                why = "OCR was unsure of it"
            elif col != id_col and not _NUMBER.match(value) and value.lower() not in ABSENT:
                why = "a mark that is not a number"
            elif (
                col == id_col
                and id_shape
                and (shape(value) != id_shape or tuple(len(d) for d in re.findall(r"\d+", value)) != id_digits)
            ):
                why = "an ID unlike the others in the file"
            if why:
                doubtful.append(
                    finding(
                        "W_OCR_DOUBTFUL", f"{col} '{value}' at {where}: {why}.", location=where, column=col, row=label
                    )
                )
    page_one = low_confidence.get(1, set())
    for pos, header in enumerate(loaded.original_columns):
        cells += 1
        if any(tok in page_one for tok in str(header).split()):
            doubtful.append(
                finding(
                    "W_OCR_DOUBTFUL",
                    f"column header '{header}': OCR was unsure of it.",
                    location=f"page 1 header, column {pos + 1}",
                    column=columns[pos],
                )
            )
    loaded.findings.extend(doubtful)
    if cells and len(doubtful) > settings.ocr_max_doubtful_share * cells:
        example = doubtful[0]["message"]
        raise sniff.fail(
            f"OCR of {name} is doubtful in {len(doubtful)} of {cells} ID and mark cells (more than "
            f"{settings.ocr_max_doubtful_share:.0%}), e.g. {example} Nothing was published. Rescan the pages at "
            "300 dpi (flat, straight, good light), or send the spreadsheet the marks came from.",
            "E_OCR_LOW_CONFIDENCE",
            findings=list(loaded.findings),
        )
    loaded.findings.extend(_fix_names(loaded))
    return loaded
