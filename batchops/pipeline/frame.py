"""What a loader hands to the rest of the pipeline, and shared column cleaning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from batchops.pipeline.findings import Locator, line_locator


@dataclass
class Loaded:
    """A standardized table plus where each row came from."""

    df: pd.DataFrame
    kind: str  # csv | xlsx | pdf
    info: dict[str, Any]  # encoding, delimiter, sheet, header_row, pages ...
    original_columns: list[str]
    locator: Locator = line_locator
    findings: list[dict] = field(default_factory=list)
    # what the reader saw that makes the table doubtful ({"kind", "page", "text"}), for the confidence gate
    signals: list[dict] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the standardize step record."""
        i = self.info
        parts = [i.get("format") or self.kind]  # xls, ods ... are read as workbooks (kind xlsx)
        if self.kind == "csv":
            parts += [f"encoding {i.get('encoding')}", f"delimiter {i.get('delimiter_name')}"]
        elif self.kind == "xlsx":
            parts += [f"sheet '{i.get('sheet')}'"]
        elif self.kind == "pdf":
            parts += [f"{i.get('pages')} page(s)", f"{i.get('layout')} table"]
        parts.append(f"{len(self.df):,} rows")
        if self.kind in ("csv", "xlsx"):
            parts.append(f"header {'line' if self.kind == 'csv' else 'row'} {i.get('header_row')}")
        return ", ".join(parts)


def is_stringish(s: pd.Series) -> bool:
    return s.dtype == object or isinstance(s.dtype, pd.StringDtype) or pd.api.types.is_string_dtype(s.dtype)


def clean_text(s: pd.Series, strip_nul: bool = False) -> pd.Series:
    """Non-breaking spaces -> space, NUL bytes removed, trimmed, '' -> missing.

    Done with pyarrow compute on the Arrow-backed strings (pandas' default string
    storage), skipping the replacements no value needs.
    """
    if s.dtype == object or not isinstance(s.dtype, pd.StringDtype):
        s = s.astype("str")
    arr = s.array
    if not isinstance(s.dtype, pd.StringDtype) or s.dtype.storage != "pyarrow" or not hasattr(arr, "__arrow_array__"):
        if strip_nul:
            s = s.str.replace("\x00", "", regex=False)
        s = s.str.replace("\xa0", " ", regex=False).str.strip()
        return s.mask(s == "")
    import pyarrow as pa
    import pyarrow.compute as pc

    ca = pa.chunked_array(arr.__arrow_array__())
    if strip_nul and pc.any(pc.match_substring(ca, "\x00")).as_py():
        ca = pc.replace_substring(ca, "\x00", "")
    if pc.all(pc.string_is_ascii(ca)).as_py() is not False:
        ca = pc.ascii_trim_whitespace(ca)  # no NBSP possible; ~10x faster than the utf8 kernel
    else:
        if pc.any(pc.match_substring(ca, "\xa0")).as_py():
            ca = pc.replace_substring(ca, "\xa0", " ")
        ca = pc.utf8_trim_whitespace(ca)
    empty = pc.equal(ca, "")
    if pc.any(empty).as_py():
        ca = pc.if_else(empty, pa.scalar(None, ca.type), ca)
    return pd.Series(type(arr)(ca, dtype=s.dtype), index=s.index, name=s.name)


def clean_frame(df: pd.DataFrame, strip_nul: bool = False) -> pd.DataFrame:
    for col in df.columns:
        if is_stringish(df[col]):
            df[col] = clean_text(df[col], strip_nul)
    return df


def drop_empty(df: pd.DataFrame) -> pd.DataFrame:
    """Drop rows where every cell is missing (blank lines, padding rows)."""
    if df.empty or not len(df.columns):
        return df
    mask = df.isna().all(axis=1).to_numpy()
    if mask.any():
        df = df.loc[~mask]
    return df


def drop_unnamed_empty_columns(df: pd.DataFrame, headers: list[object]) -> tuple[pd.DataFrame, list[object]]:
    """Drop columns with a blank header and no data (trailing delimiters, padding)."""
    keep = []
    for pos, h in enumerate(headers):
        blank = h is None or (isinstance(h, float) and np.isnan(h)) or not str(h).strip()
        if blank and df.iloc[:, pos].isna().all():
            continue
        keep.append(pos)
    if len(keep) == len(headers):
        return df, headers
    return df.iloc[:, keep], [headers[i] for i in keep]
