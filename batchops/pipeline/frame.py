"""What a loader hands to the rest of the pipeline, and shared column cleaning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

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
            enc = f"encoding {i.get('encoding')}"
            if i.get("encoding_forced"):
                enc += " (forced)"
            elif i.get("encoding_confidence", 1.0) < 1.0:
                enc += f" (confidence {i['encoding_confidence']:.2f})"
            parts += [enc, f"delimiter {i.get('delimiter_name')}"]
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


def release_arrow_memory() -> None:
    """Hand the memory Arrow's pool keeps after the text columns were cleaned and turned into
    numbers back to the system (~50 MiB of a 1M-row CSV's peak: the later steps allocate with
    numpy, so the pool's cache would only sit there)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def drop_empty(df: pd.DataFrame) -> pd.DataFrame:
    """Drop rows where every cell is missing (blank lines, padding rows)."""
    if df.empty or not len(df.columns):
        return df
    mask = df.isna().all(axis=1).to_numpy()
    if mask.any():
        df = df.loc[~mask]
    return df


H = TypeVar("H")  # a header cell: str, or None/NaN for a blank one


def drop_unnamed_empty_columns(df: pd.DataFrame, headers: list[H]) -> tuple[pd.DataFrame, list[H]]:
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


def _arrow_strings(s: pd.Series):
    """The column as a pyarrow ChunkedArray of strings (zero-copy for Arrow-backed text)."""
    import pyarrow as pa

    if hasattr(s.array, "__arrow_array__"):
        return pa.chunked_array(s.array.__arrow_array__())
    return pa.chunked_array([pa.array(s.astype(object).where(s.notna(), None).tolist(), type=pa.string())])


def lossless_numbers(s: pd.Series) -> pd.Series | None:
    """The text column as numbers, or None when that would change a value.

    A value converts only if writing the number back gives the very same text
    (the report writer and the PDF use that same formatting): ``007``, ``+7``,
    ``85.50``, ``1e3``, 13-digit codes that would print in exponent form, ``inf``
    and ``nan`` all keep the column as text. Arrow casts, tried first on the
    column's head so a text column costs next to nothing.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    ca = _arrow_strings(s)
    present = ca.drop_null() if ca.null_count else ca
    if not len(present):
        return None
    for target in (pa.int64(), pa.float64()):
        if _numbers_as_written(present[:_HEAD], target) is None:
            continue
        values = _numbers_as_written(present, target, nulls=bool(ca.null_count))
        if values is None:
            continue
        out = (pc.cast(ca, values.type) if ca.null_count else values).to_numpy(zero_copy_only=False)
        out = np.require(out, requirements="W")  # Arrow's buffers are read-only; pandas would copy them again and again
        return pd.Series(out, index=s.index, name=s.name, copy=False)
    return None


_HEAD = 1000


def _numbers_as_written(text, target, nulls: bool = False):
    """``text`` cast to ``target`` if every value prints back exactly, else None.

    Whole numbers with gaps (NaN) become floats, which must print back too. Whole
    numbers without gaps need no formatting to check: Arrow's integer cast takes
    only ``-?digits`` or ``0x``/``0X`` hex, so the spellings that would not come
    back are exactly those starting with ``0`` (longer than one character) or ``-0``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if target == pa.int64() and not nulls:
        zero_led = pc.or_(
            pc.and_(pc.starts_with(text, "0"), pc.greater(pc.binary_length(text), 1)), pc.starts_with(text, "-0")
        )
        return None if pc.any(zero_led).as_py() else values
    if target == pa.int64():
        values = pc.cast(values, pa.float64())  # gaps need NaN: the float must also print back exactly
    if not pc.all(pc.is_finite(values)).as_py():
        return None
    # printing back is the costly part: do it once per distinct text (marks repeat a lot)
    distinct = pc.unique(text)
    back = pc.cast(pc.cast(distinct, pa.float64()), pa.string())
    return values if pc.all(pc.equal(back, distinct)).as_py() else None


def settle_numbers(df: pd.DataFrame, keep_text=lambda col: False) -> list[str]:
    """Turn text columns into numbers where that is lossless; returns the columns converted.

    Arrow compute releases the GIL, so columns are checked two at a time.
    """
    from batchops.pipeline.threads import map_threads

    cols = [
        c for c in df.columns if not keep_text(c) and is_stringish(df[c]) and (df[c].dtype != object or _all_str(df[c]))
    ]
    results = map_threads(lossless_numbers, [df[c] for c in cols], 2, "batchops-settle")
    done = []
    for col, numbers in zip(cols, results):
        if numbers is not None:
            df[col] = numbers
            done.append(col)
    return done


def _all_str(s: pd.Series) -> bool:
    return all(isinstance(v, str) for v in s.dropna().tolist())
