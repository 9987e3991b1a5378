"""The confidence gate: is the table read from a file trustworthy enough to publish?

Pure: a standardized table (``Loaded``) in, a ``Verdict`` out. Each check marks
the rows that look wrong for a table read cell by cell:

* a cell holding several numbers ("68 91": columns run together) - PDF only;
* a cell holding a whole line of prose (12 words or more) - PDF only;
* a row with one filled cell in a table of three or more columns (a title, a note,
  a wrapped line read as a row) - PDF only;
* a row repeating the header (a page header read as data) - every kind;
* lines that reached over several columns inside the table (the reader's signal).

and, for the whole table: the header looks like a data row (its cells have the
shape of the values under them, or no header row was found), a number merged
over several ruled rows (it belongs to none of them alone), or a page's text is
rotated. The score is the share of clean rows, lowered for a doubtful header;
a rotated page scores 0. Below ``THRESHOLD`` the run fails with
``E_TABLE_LOW_CONFIDENCE`` unless the operator forces publication.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from batchops.errors import E_TABLE_LOW_CONFIDENCE
from batchops.pipeline.columns import snake
from batchops.pipeline.findings import finding
from batchops.pipeline.pdf_layout import is_num

__all__ = ["E_TABLE_LOW_CONFIDENCE", "THRESHOLD", "Verdict", "check", "row_findings", "score_table"]
THRESHOLD = 0.8
MAX_ROW_FINDINGS = 20

_NUMBER = r"[(+-]?[$₹€£]?\d[\d,.]*%?\)?"
_SEVERAL_NUMBERS = re.compile(rf"^\s*{_NUMBER}(\s+{_NUMBER})+\s*$")


@dataclass
class Verdict:
    score: float
    reasons: list[str]
    rows: dict[int, str] = field(default_factory=dict)  # row position -> why it tripped

    @property
    def ok(self) -> bool:
        return self.score >= THRESHOLD


def _shape(value: str) -> str:
    """'ARTS/2026/00001' -> 'a/9999/99999': letters collapsed, digits counted."""
    return re.sub(r"[^\W\d_]+", "a", re.sub(r"\d", "9", value.strip()))


def _header_is_data(header: list[str], counts_of) -> bool:
    """Two or more header cells (one with a digit) have the shape most values in their column have.

    ``counts_of(j)``: column j's non-empty cells as text -> how often. Columns under a header
    with a digit are judged first: without one of them alike, the answer is no (most headers).
    """
    judged: dict[int, bool] = {}

    def alike(j: int) -> bool:
        if j not in judged:
            h, counts = header[j], (counts_of(j) if header[j] else {})
            total = sum(counts.values())
            shape = _shape(h) if total else ""
            judged[j] = bool(total) and sum(n for v, n in counts.items() if _shape(v) == shape) * 2 >= total
        return judged[j]

    if not any(alike(j) for j, h in enumerate(header) if any(ch.isdigit() for ch in h)):
        return False
    return sum(1 for j in range(len(header)) if alike(j)) >= 2


def _counts(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        if v:
            out[v] = out.get(v, 0) + 1
    return out


def score_table(header: list[str], rows: list[list[str]], kind: str, signals: list[dict] | None = None) -> Verdict:
    pdf = kind == "pdf"
    width = len(header)
    header_key = [snake(h) for h in header]
    tripped: dict[int, str] = {}
    for i, cells in enumerate(rows):
        texts = [c for c in cells if c]
        why = ""
        if texts and [snake(c) for c in cells] == header_key:
            why = "repeats the header"
        elif pdf and any(_SEVERAL_NUMBERS.match(c) for c in texts):
            why = "a cell holds several numbers: " + next(c for c in texts if _SEVERAL_NUMBERS.match(c))[:40]
        elif pdf and any(len(c.split()) >= 12 for c in texts):
            why = "a cell holds a whole line of text"
        elif pdf and width >= 3 and len(texts) == 1:
            why = "only one cell filled: " + texts[0][:40]
        if why:
            tripped[i] = why

    def counts_of(j: int) -> dict[str, int]:
        return _counts(r[j] if j < len(r) else "" for r in rows)

    return _verdict(header, len(rows), tripped, counts_of, kind, signals or [])


def _verdict(
    header: list[str], n_rows: int, tripped: dict[int, str], counts_of, kind: str, signals: list[dict]
) -> Verdict:
    """The score from the tripped rows and the whole-table checks."""
    pdf = kind == "pdf"
    reasons: list[str] = []
    n = max(1, n_rows)
    score = 1.0 - len(tripped) / n
    if tripped:
        reasons.append(f"{len(tripped)} of {n_rows} rows look wrong")
    spanning = [s for s in signals if s.get("kind") == "spanning_line"]
    if spanning:
        score -= len(spanning) / n
        reasons.append(f"{len(spanning)} line(s) reached over several columns (page {spanning[0].get('page')})")
    guessed = any(s.get("kind") == "header_guessed" for s in signals)
    if guessed or _header_is_data(header, counts_of):
        score -= 0.5
        reasons.append("the header row looks like a data row")
    if pdf and sum(1 for h in header if h and is_num(h)) * 2 > max(1, sum(1 for h in header if h)):
        score -= 0.5
        reasons.append("most header cells are numbers")
    merged = [s for s in signals if s.get("kind") == "merged_number"]
    if merged:
        score -= 0.5
        reasons.append(f"a number is merged over several rows on page {merged[0].get('page')} ({merged[0]['text']})")
    rotated = [s for s in signals if s.get("kind") == "rotated_page"]
    if rotated:
        score = 0.0
        reasons.append(f"text on page {rotated[0].get('page')} is rotated")
    return Verdict(max(0.0, round(score, 3)), reasons, tripped)


def check(loaded) -> Verdict:
    """Score a ``Loaded`` table (its cells as text, missing -> '').

    A PDF's table (small; every row check applies) is scored row by row. Other tables
    only have the header-repeat row check, done on each column's distinct values, so a
    million-row CSV costs what its distinct values cost - with the very same verdict.
    """
    import pandas as pd

    df = loaded.df
    header = ["" if h is None or pd.isna(h) else str(h) for h in loaded.original_columns]
    signals = getattr(loaded, "signals", [])
    if loaded.kind == "pdf":
        rows = [[_text(v) for v in rec] for rec in df.itertuples(index=False, name=None)]
        return score_table(header, rows, loaded.kind, signals)

    def counts_of(j: int) -> dict[str, int]:
        if j >= len(df.columns):
            return {}
        out: dict[str, int] = {}
        for v, n in df.iloc[:, j].value_counts(dropna=True, sort=False).items():
            t = _text(v)
            if t:
                out[t] = out.get(t, 0) + int(n)
        return out

    tripped = dict.fromkeys(_header_repeats(df, header), "repeats the header")
    return _verdict(header, len(df), tripped, counts_of, loaded.kind, signals)


def _text(v) -> str:
    import pandas as pd

    return "" if pd.isna(v) else str(v)


def _header_repeats(df, header: list[str]) -> list[int]:
    """Row positions whose every cell reads as the header (snake-case alike), at least one filled.

    Columns are narrowed one at a time, fewest distinct values first; ``snake`` runs once
    per distinct value of the rows still in question.
    """
    import numpy as np

    if len(df.columns) != len(header) or not len(df):
        return []
    keys = [snake(h) for h in header]
    head = df.iloc[:1000]  # the order only decides the cost, never the answer
    order = sorted(range(len(keys)), key=lambda j: head.iloc[:, j].nunique(dropna=False))
    cand = np.arange(len(df))
    for j in order:
        col = df.iloc[:, j] if len(cand) == len(df) else df.iloc[cand, j]
        good = [v for v in col.drop_duplicates() if snake(_text(v)) == keys[j]]
        keep = col.isin([v for v in good if _text(v)]).to_numpy(dtype=bool)
        if any(not _text(v) for v in good):
            keep = keep | col.isna().to_numpy(dtype=bool) | col.astype(str).eq("").to_numpy(dtype=bool)
        cand = cand[keep]
        if not len(cand):
            return []
    # the survivors: the whole row, exactly as the row-by-row check reads it
    out = []
    for pos in cand.tolist():
        cells = [_text(df.iat[pos, k]) for k in range(len(keys))]
        if any(cells) and [snake(c) for c in cells] == keys:
            out.append(pos)
    return out


def row_findings(loaded, verdict: Verdict, severity: str) -> list[dict]:
    """One finding per tripped row (the first ``MAX_ROW_FINDINGS``), located in the source."""
    out = []
    labels = list(loaded.df.index)
    for pos, why in list(verdict.rows.items())[:MAX_ROW_FINDINGS]:
        label = labels[pos]
        out.append(
            finding(
                "W_TABLE_DOUBTFUL_ROW",
                f"Row {why}.",
                severity=severity,
                location=loaded.locator(label, None),
                row=label,
            )
        )
    if len(verdict.rows) > MAX_ROW_FINDINGS:
        out.append(
            finding(
                "W_TABLE_DOUBTFUL_ROW",
                f"... and {len(verdict.rows) - MAX_ROW_FINDINGS} more row(s).",
                severity=severity,
            )
        )
    return out
