"""Delimited text -> DataFrame.

Encoding (BOMs, utf-8, cp1252 fallback) and delimiter (, ; tab |) are sniffed on
the first 64 KiB; the header is the first line with the dominant field count, so
title lines above it are skipped. pandas' C parser does the bulk read straight
from the file; every row keeps its physical line number as its index label
(blank lines are read and then dropped, so "line N" in findings is exact unless a
quoted field spans lines). Columns that must stay text (IDs: leading zeros) are
read as strings; all strings are cleaned (NBSP, NUL, trimming).
"""

from __future__ import annotations

import csv
import mmap
import re
import warnings
from pathlib import Path

import pandas as pd

from batchops.pipeline import sniff
from batchops.pipeline.columns import is_text_column, normalize_columns
from batchops.pipeline.findings import finding, line_locator
from batchops.pipeline.frame import Loaded, clean_frame, is_stringish, drop_empty, drop_unnamed_empty_columns
from batchops.pipeline.settings import PipelineSettings

_DIGITS_RE = re.compile(r"^\s*[+-]?\d+(\.\d*)?\s*$")
_TEXT_TOKENS = frozenset({"true", "false", "inf", "-inf", "+inf", "infinity", "-infinity", "nan", "-nan"})
_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_EOF_QUOTE_RE = re.compile(r"EOF inside string starting at row (\d+)")


def _has_nul(path: Path) -> bool:
    with open(path, "rb") as fh:
        try:
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return mm.find(b"\x00") != -1
        except ValueError:  # empty file
            return False


def _sample_text(sample: bytes, encoding: str) -> str:
    if encoding.startswith("utf-16") and len(sample) % 2:
        sample = sample[:-1]
    if encoding.startswith("utf-32"):
        sample = sample[: len(sample) - len(sample) % 4]
    import codecs

    dec = codecs.getincrementaldecoder(encoding)(errors=sniff.errors_for(encoding))
    return dec.decode(sample, final=False)


def load_csv(path: Path, settings: PipelineSettings, original_name: str = "") -> Loaded:
    name = original_name or path.name
    with open(path, "rb") as fh:
        sample = fh.read(sniff.SAMPLE_BYTES)
        truncated = bool(fh.read(1))
    if not sample:
        raise sniff.fail(f"{name} is empty (0 bytes).", "E_EMPTY_FILE")
    encoding = sniff.detect_encoding(sample)
    try:
        text = _sample_text(sample, encoding)
    except UnicodeDecodeError as exc:
        raise sniff.fail(f"{name} is not readable text in {encoding} ({exc.reason}).", "E_BAD_ENCODING") from exc
    if sniff.looks_binary(text):
        raise sniff.fail(
            f"{name} is not a text table: it holds binary data. Upload CSV, XLSX or PDF.",
            "E_UNSUPPORTED_FORMAT",
        )
    clean_sample = text.lstrip("\ufeff").replace("\x00", "").replace("\xa0", " ")
    if not clean_sample.strip(" \t\r\n,;|"):
        raise sniff.fail(f"{name} has no data: it is blank.", "E_EMPTY_FILE")

    dialect = sniff.sniff_dialect(clean_sample, truncated)
    header_text = sniff._lines(clean_sample, limit=10_000)
    header_line = next(line for no, line in header_text if no == dialect.header_line)
    headers: list[str] = next(csv.reader([header_line], delimiter=dialect.delimiter))
    ncols = len(headers)
    if ncols > settings.max_columns:
        raise sniff.fail(
            f"{name} has {ncols:,} columns; the limit is {settings.max_columns:,}.", "E_TOO_MANY_COLUMNS"
        )
    canonical = normalize_columns(headers, settings.synonyms)
    strip_nul = "\x00" in text or (truncated and _has_nul(path))

    # widest row in the sample (rows with extra fields would otherwise be cut silently)
    width = max([ncols] + [_count_fields(l, dialect.delimiter) for no, l in header_text if no > dialect.header_line])
    width = min(width, settings.max_columns)
    offset = _offset_after_line(sample, encoding, dialect.header_line)
    read_encoding = _stream_encoding(sample, encoding)
    # Fast path: pandas reads the file by name and skips the lines above the data itself.
    # Only when that counts lines as we do (no CR-only endings, no quotes above the data);
    # otherwise it reads from a handle positioned after the header.
    head = sample[:offset]
    by_name = (
        not encoding.startswith(("utf-16", "utf-32"))
        and head.count(b"\r") == head.count(b"\r\n")
        and b'"' not in head
    )
    # Text columns (IDs...) are only forced to str when the sample shows digits in them
    # (leading zeros); forcing costs time, and pandas keeps non-numeric text as text anyway.
    sample_rows = [
        next(csv.reader([l], delimiter=dialect.delimiter), [])
        for no, l in header_text
        if no > dialect.header_line
    ]
    numeric_like = {i for row in sample_rows for i, v in enumerate(row) if _DIGITS_RE.match(v)}
    # pandas would turn TRUE/False into booleans and lose the spelling: keep them as text
    # ... and the C parser reads "INF"/"nan"/"Infinity" as floats: a name is not a number
    text_like = {i for row in sample_rows for i, v in enumerate(row) if v.strip().lower() in _TEXT_TOKENS}
    df = None
    for _ in range(4):
        names = list(range(width))
        dtypes = {
            i: "str"
            for i in range(min(width, len(canonical)))
            if (is_text_column(canonical[i]) and i in numeric_like) or i in text_like
        }
        try:
            with open(path, "rb") as fh, warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                warnings.simplefilter("ignore", pd.errors.DtypeWarning)
                if by_name:
                    source, skip = path, dialect.header_line
                else:
                    fh.seek(offset)
                    source, skip = fh, 0
                df = pd.read_csv(
                    source,
                    sep=dialect.delimiter,
                    header=None,
                    names=names,
                    index_col=False,
                    skiprows=skip,
                    skip_blank_lines=False,
                    dtype=dtypes or None,
                    keep_default_na=False,  # "NA", "NULL", "None" are names/values, not gaps
                    na_values=[""],
                    encoding=read_encoding if not by_name else encoding,
                    encoding_errors=sniff.errors_for(encoding),
                    engine="c",
                    nrows=settings.max_rows + 1,
                )
            break
        except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
            m = _FIELDS_RE.search(str(exc))
            quote = _EOF_QUOTE_RE.search(str(exc))
            if quote:  # widening cannot help: say where the quote was opened
                row = int(quote.group(1)) + 1 + (0 if by_name else dialect.header_line)
                raise sniff.fail(
                    f"{name} is not a well-formed delimited file: a quoted field opened at line {row} "
                    "is never closed.",
                    "E_CSV_MALFORMED",
                ) from exc
            saw = int(m.group(3)) if m else width + 1
            if saw <= width or saw > settings.max_columns:
                where = f" at line {int(m.group(2)) + dialect.header_line}" if m else ""
                raise sniff.fail(
                    f"{name} is not a well-formed delimited file{where}: {str(exc).strip().splitlines()[-1]}",
                    "E_CSV_MALFORMED",
                ) from exc
            width = saw  # rows with extra trailing fields: widen and retry
        except UnicodeDecodeError as exc:
            if encoding != "utf-8":
                raise sniff.fail(f"{name} is not readable text in {encoding}.", "E_BAD_ENCODING") from exc
            encoding = read_encoding = "cp1252"  # utf-8 in the first 64 KiB, not after it
        except MemoryError as exc:
            raise sniff.fail(f"{name} is too large to load in memory.", "E_FILE_TOO_LARGE") from exc
    if df is None:
        raise sniff.fail(f"{name} could not be parsed as a delimited file.", "E_CSV_MALFORMED")

    if len(df) > settings.max_rows:
        raise sniff.fail(
            f"{name} has more than {settings.max_rows:,} rows, the configured limit.", "E_TOO_MANY_ROWS"
        )
    headers = headers + [""] * (width - len(headers))
    # index label = physical line number of the row (1-based)
    df.index = pd.RangeIndex(dialect.header_line + 1, dialect.header_line + 1 + len(df))
    if width > ncols:
        for pos in range(ncols, width):
            if df[pos].dtype != object and not pd.api.types.is_string_dtype(df[pos].dtype):
                df[pos] = df[pos].astype(object).where(df[pos].notna(), None)
    clean_frame(df, strip_nul=strip_nul)
    findings: list[dict] = []
    if width > ncols:
        _repair_long_rows(df, path, encoding, dialect, ncols, findings)
    df, headers = drop_unnamed_empty_columns(df, headers)
    df = drop_empty(df)
    df.columns = normalize_columns(headers, settings.synonyms)
    info = {
        "format": "csv",
        "encoding": encoding,
        "delimiter": dialect.delimiter,
        "delimiter_name": sniff.DELIMITER_NAMES[dialect.delimiter],
        "header_row": dialect.header_line,
        "nul_bytes_removed": strip_nul,
    }
    return Loaded(
        df=df,
        kind="csv",
        info=info,
        original_columns=[str(h) for h in headers],
        locator=line_locator,
        findings=findings,
    )


def _count_fields(line: str, delimiter: str) -> int:
    try:
        return len(next(csv.reader([line], delimiter=delimiter)))
    except (csv.Error, StopIteration):
        return 1


def _offset_after_line(sample: bytes, encoding: str, line_no: int) -> int:
    """Byte offset just after physical line ``line_no`` (CR, LF or CRLF endings)."""
    if encoding.startswith(("utf-16", "utf-32")):
        unit = 2 if encoding.startswith("utf-16") else 4
        bom = 0
        if encoding in ("utf-16", "utf-32"):
            bom = unit
        codec = _stream_encoding(sample, encoding)
        text = sample[bom : len(sample) - (len(sample) - bom) % unit].decode(codec, errors="replace")
        pos = _char_offset_after_line(text, line_no)
        return bom + len(text[:pos].encode(codec, errors="replace"))
    return _char_offset_after_line(sample, line_no)


def _char_offset_after_line(buf, line_no: int) -> int:
    cr, lf = ("\r", "\n") if isinstance(buf, str) else (13, 10)
    i, n, lines = 0, len(buf), 0
    while i < n and lines < line_no:
        c = buf[i]
        if c == lf:
            lines += 1
        elif c == cr:
            lines += 1
            if i + 1 < n and buf[i + 1] == lf:
                i += 1
        i += 1
    return i


def _stream_encoding(sample: bytes, encoding: str) -> str:
    """Codec for reading from the middle of the file (no BOM there)."""
    if encoding == "utf-16":
        return "utf-16-be" if sample.startswith(b"\xfe\xff") else "utf-16-le"
    if encoding == "utf-32":
        return "utf-32-be" if sample.startswith(b"\x00\x00\xfe\xff") else "utf-32-le"
    return encoding


def _smart_split(line: str, delimiter: str) -> list[str]:
    """Split on the delimiter outside quotes and parentheses (spreadsheet formulas)."""
    out, cur, quoted, depth = [], [], False, 0
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")" and depth:
            depth -= 1
        elif ch == delimiter and not quoted and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return [_unquote(f) for f in out]


def _unquote(field: str) -> str:
    f = field.strip()
    if len(f) >= 2 and f[0] == '"' and f[-1] == '"':
        return f[1:-1].replace('""', '"')
    return field


def _repair_long_rows(df, path: Path, encoding: str, dialect, ncols: int, findings: list[dict]) -> None:
    """Rows with more fields than the header: re-split formula-like commas, else report."""
    extra = df.columns[ncols:]
    bad = df.index[df[extra].notna().any(axis=1).to_numpy()]
    if not len(bad):
        return
    wanted = set(int(i) for i in bad)
    lines: dict[int, str] = {}
    with open(path, encoding=encoding, errors=sniff.errors_for(encoding), newline=None) as fh:
        for no, line in enumerate(fh, start=1):
            if no in wanted:
                lines[no] = line.rstrip("\r\n").replace("\x00", "")
                if len(lines) == len(wanted):
                    break
    for no in sorted(wanted):
        fields = _smart_split(lines.get(no, ""), dialect.delimiter)
        if len(fields) == ncols:
            for pos, value in enumerate(fields):
                v = value.replace("\xa0", " ").strip() or None
                col = df.columns[pos]
                if v is not None and not is_stringish(df[col]):
                    num = pd.to_numeric(v, errors="coerce")
                    if pd.isna(num):
                        df[col] = df[col].astype("str")
                    else:
                        v = num
                df.at[no, col] = v
            for col in extra:
                df.at[no, col] = None
            findings.append(finding(
                "E_ROW_RESPLIT",
                f"line {no} had more fields than the header; it was re-split keeping quoted and "
                "bracketed text together.",
                location=f"line {no}", row=no,
            ))
        else:
            findings.append(finding(
                "E_EXTRA_FIELDS",
                f"line {no} has {len(fields)} fields but the header has {ncols}; "
                "the extra values are kept in unnamed columns.",
                location=f"line {no}", row=no,
            ))
