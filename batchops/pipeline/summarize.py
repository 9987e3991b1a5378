"""Descriptive statistics for numeric columns plus metadata rows."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def _num(v: Any) -> Any:
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def schema(df: pd.DataFrame) -> dict[str, str]:
    return {str(c): str(t) for c, t in df.dtypes.items()}


def describe(df: pd.DataFrame) -> pd.DataFrame:
    """One row per numeric column: count, mean, std, min, p25, median, p75, max."""
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c].dtype) and not pd.api.types.is_bool_dtype(df[c].dtype)]
    cols = ["column", "count", "mean", "std", "min", "p25", "median", "p75", "max"]
    if not numeric or not len(df):
        return pd.DataFrame(columns=cols)
    d = df[numeric].describe().T
    d = d.rename(columns={"25%": "p25", "50%": "median", "75%": "p75"})
    d.insert(0, "column", d.index.astype(str))
    return d[cols].reset_index(drop=True)


def metadata(**items: Any) -> pd.DataFrame:
    return pd.DataFrame(
        [{"item": k, "value": "" if v is None else str(v)} for k, v in items.items()],
        columns=["item", "value"],
    )


def frame_records(df: pd.DataFrame) -> list[dict]:
    return [{str(k): _num(v) for k, v in r.items()} for r in df.to_dict("records")]


def sections_frame(tables: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Several small tables as one CSV: a 'section' column, then the union of columns."""
    parts = []
    for title, t in tables:
        t = t.copy()
        t.insert(0, "section", title)
        parts.append(t.astype("object"))
    if not parts:
        return pd.DataFrame(columns=["section"])
    out = pd.concat(parts, ignore_index=True, sort=False)
    return out
