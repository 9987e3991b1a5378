"""The confidence gate scores CSV/XLSX tables column by column; the verdict must equal the row-by-row one."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa

from batchops.pipeline import confidence
from batchops.pipeline.frame import Loaded

HEADERS = [["Student ID", "Name", "Term 1", "Term 2"], ["ID", "Name", "2024", "2025"], ["R1", "A", "", "B"]]


def _row_by_row(loaded: Loaded) -> confidence.Verdict:
    header = ["" if h is None or pd.isna(h) else str(h) for h in loaded.original_columns]
    rows = [["" if pd.isna(v) else str(v) for v in rec] for rec in loaded.df.itertuples(index=False, name=None)]
    return confidence.score_table(header, rows, loaded.kind, loaded.signals)


def _table(rng: random.Random) -> Loaded:
    header = rng.choice(HEADERS)
    values = header + ["R12", "Ann", "85", "", "2023", "1", "Term 3", "name", "a", "Roll No."]
    n = rng.randint(0, 30)
    df = pd.DataFrame({j: [rng.choice(values) or None for _ in range(n)] for j in range(len(header))})
    for j in range(len(header)):
        if rng.random() < 0.4:
            df[j] = df[j].astype(pd.ArrowDtype(pa.string()))
    if n and rng.random() < 0.3:
        df[0] = np.arange(n)  # a number column: its cells read as str(int)
    for _ in range(rng.randint(0, 3) if n else 0):  # rows repeating the header, some in other case
        r = rng.randrange(n)
        for j, h in enumerate(header):
            if df[j].dtype.kind not in "iuf":  # the number column keeps its number
                df.iat[r, j] = (h.lower() if rng.random() < 0.5 else h) or None
    return Loaded(df=df, kind="csv", info={}, original_columns=header)


def test_column_wise_verdict_equals_row_by_row():
    rng = random.Random(16)
    repeats = doubtful_headers = 0
    for _ in range(300):
        loaded = _table(rng)
        want, got = _row_by_row(loaded), confidence.check(loaded)
        assert (got.score, got.reasons, got.rows) == (want.score, want.reasons, want.rows)
        repeats += bool(want.rows)
        doubtful_headers += "the header row looks like a data row" in want.reasons
    assert repeats > 20 and doubtful_headers > 5  # both checks were really exercised


def test_header_repeat_found_in_a_large_csv_table():
    n = 50_000
    df = pd.DataFrame({"a": [f"S{i}" for i in range(n)], "b": ["Science"] * n})
    df.iloc[31_337] = ["Student ID", "Department"]
    loaded = Loaded(df=df, kind="csv", info={}, original_columns=["Student ID", "Department"])
    assert confidence.check(loaded).rows == {31_337: "repeats the header"}
