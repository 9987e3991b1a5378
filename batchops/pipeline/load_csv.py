"""Delimited text -> DataFrame.

Encoding (BOMs, utf-8, else charset-normalizer; ``--encoding`` forces one) and
delimiter (, ; tab |) are sniffed on the first 64 KiB; the header is the first
record at least as wide as the typical record after it, so title lines above it
are skipped (a quoted header cell may span lines). pandas' C parser does the bulk
read straight from the file; every row keeps its physical line number as its index
label (blank lines are read and then dropped, so "line N" in findings is exact
unless a quoted field spans lines). Every cell is read as text, exactly as written
(Arrow strings: as fast as letting pandas guess types), then cleaned (NBSP, NUL,
trimming); the runner turns a column into numbers only where that loses nothing.
"""

from __future__ import annotations

import mmap
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

import pandas as pd

from batchops.pipeline import sniff
from batchops.pipeline.columns import is_text_column, normalize_columns
from batchops.pipeline.findings import finding, line_locator
from batchops.pipeline.frame import (
    Loaded,
    clean_frame,
    drop_empty,
    drop_unnamed_empty_columns,
    release_arrow_memory,
    settle_numbers,
)
from batchops.pipeline.settings import PipelineSettings

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


@dataclass
class _Text:
    """What the first 64 KiB say about the file: its encoding and its delimited layout."""

    sample: bytes
    truncated: bool  # the file goes on after the sample
    text: str  # the sample decoded
    encoding: str
    confidence: float
    forced: bool  # the operator's --encoding


def load_csv(path: Path, settings: PipelineSettings, original_name: str = "", encoding: str | None = None) -> Loaded:
    """``encoding`` forces a codec (the operator's ``--encoding``) instead of detecting one."""
    name = original_name or path.name
    src = _read_sample(path, name, encoding)
    dialect = sniff.sniff_dialect(_check_is_table(src, name), src.truncated)
    headers: list[str] = list(dialect.header or [""])
    ncols = len(headers)
    if ncols > settings.max_columns:
        raise sniff.fail(f"{name} has {ncols:,} columns; the limit is {settings.max_columns:,}.", "E_TOO_MANY_COLUMNS")
    strip_nul = "\x00" in src.text or (src.truncated and _has_nul(path))
    df = _parse(path, name, src, dialect, ncols, settings)
    width = len(df.columns)
    headers = headers + [""] * (width - len(headers))
    # index label = physical line number of the row (1-based)
    df.index = pd.RangeIndex(dialect.header_end + 1, dialect.header_end + 1 + len(df))
    if width == ncols:  # (a re-split long row could still write text into any column)
        # columns of plain numbers need no cleaning: settle them first (the runner settles the rest)
        canonical = normalize_columns(headers, settings.synonyms)
        settle_numbers(df, keep_text=lambda pos: is_text_column(canonical[pos]))
    clean_frame(df, strip_nul=strip_nul)
    findings: list[dict] = []
    if width > ncols:
        _repair_long_rows(df, path, src.encoding, dialect, ncols, findings)
    df, headers = drop_unnamed_empty_columns(df, headers)
    df = drop_empty(df)
    df.columns = normalize_columns(headers, settings.synonyms)
    release_arrow_memory()
    info = {
        "format": "csv",
        "encoding": src.encoding,
        "encoding_confidence": src.confidence,
        "encoding_forced": src.forced,
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


def _read_sample(path: Path, name: str, encoding: str | None) -> _Text:
    """The first 64 KiB, their encoding (forced, or detected) and their text."""
    with open(path, "rb") as fh:
        sample = fh.read(sniff.SAMPLE_BYTES)
        truncated = bool(fh.read(1))
    if not sample:
        raise sniff.fail(f"{name} is empty (0 bytes).", "E_EMPTY_FILE")
    forced = bool(encoding)
    if encoding:
        encoding, confidence = sniff.check_encoding_name(encoding), 1.0
    else:
        detected, confidence = sniff.detect_encoding(sample)
        if detected is None:
            _refuse_unknown_encoding(name, sample)
        encoding = detected
    try:
        text = _sample_text(sample, encoding)
    except UnicodeDecodeError as exc:
        raise _bad_encoding(f"{name} is not readable text in {encoding} ({exc.reason})") from exc
    return _Text(sample, truncated, text, encoding, confidence, forced)


def _check_is_table(src: _Text, name: str) -> str:
    """The sample as text to sniff; refuses binary data and blank files."""
    if sniff.looks_binary(src.text):
        raise sniff.fail(
            f"{name} is not a text table: it holds binary data. Upload CSV, XLSX or PDF.",
            "E_UNSUPPORTED_FORMAT",
        )
    clean_sample = src.text.lstrip("\ufeff").replace("\x00", "").replace("\xa0", " ")
    if not clean_sample.strip(" \t\r\n,;|"):
        raise sniff.fail(f"{name} has no data: it is blank.", "E_EMPTY_FILE")
    return clean_sample


def _parse(path: Path, name: str, src: _Text, dialect, ncols: int, settings: PipelineSettings) -> pd.DataFrame:
    """Every cell as text, as written, one column per field of the widest row.

    pandas reads the file by name and skips the lines above the data itself when that
    counts lines as we do (no CR-only endings, no quotes above the data); otherwise it
    reads from a handle positioned after the header. Rows with extra trailing fields
    widen the frame and the read starts again (at most 4 reads). ``src`` learns the
    encoding when UTF-8 breaks after the sample.
    """
    # widest record in the sample (rows with extra fields would otherwise be cut silently)
    width = min(max([ncols] + [len(r.fields) for r in dialect.records or []]), settings.max_columns)
    offset = _offset_after_line(src.sample, src.encoding, dialect.header_end)
    read_encoding = _stream_encoding(src.sample, src.encoding)
    head = src.sample[:offset]
    by_name = (
        not src.encoding.startswith(("utf-16", "utf-32"))
        and head.count(b"\r") == head.count(b"\r\n")
        and b'"' not in head
    )
    for _ in range(4):
        try:
            return _read_text_frame(
                path,
                dialect,
                width,
                settings.max_rows,
                name,
                skip=dialect.header_end if by_name else 0,
                offset=None if by_name else offset,
                encoding=src.encoding if by_name else read_encoding,
                errors=src.encoding,
            )
        except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
            width = _wider_or_refuse(exc, name, width, settings.max_columns, dialect.header_end, by_name)
        except UnicodeDecodeError as exc:
            if src.forced or src.encoding != "utf-8":
                raise _bad_encoding(f"{name} is not readable text in {src.encoding} beyond its first bytes") from exc
            # UTF-8 in the first 64 KiB, not after it: judge the encoding where it breaks
            src.encoding, src.confidence = _encoding_after(path, src.sample, name)
            read_encoding = src.encoding
        except MemoryError as exc:
            raise sniff.fail(f"{name} is too large to load in memory.", "E_FILE_TOO_LARGE") from exc
    raise sniff.fail(f"{name} could not be parsed as a delimited file.", "E_CSV_MALFORMED")


def _read_text_frame(
    path: Path,
    dialect,
    width: int,
    max_rows: int,
    name: str,
    *,
    skip: int,
    offset: int | None,
    encoding: str,
    errors: str,
) -> pd.DataFrame:
    """One read with pandas' C parser: Arrow strings, nothing guessed; refuses more than ``max_rows``."""
    import pyarrow as pa

    with open(path, "rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        source: Path | IO[bytes] = path
        if offset is not None:
            fh.seek(offset)
            source = fh
        df = pd.read_csv(
            source,
            sep=dialect.delimiter,
            header=None,
            names=list(range(width)),
            index_col=False,
            skiprows=skip,
            skip_blank_lines=False,
            dtype=pd.ArrowDtype(pa.string()),  # every cell as read: the runner decides what is a number
            keep_default_na=False,  # "NA", "NULL", "None" are names/values, not gaps
            na_values=[""],
            encoding=encoding,
            encoding_errors=sniff.errors_for(errors),
            engine="c",
            nrows=max_rows + 1,
        )
    if len(df) > max_rows:
        raise sniff.fail(f"{name} has more than {max_rows:,} rows, the configured limit.", "E_TOO_MANY_ROWS")
    return df


def _wider_or_refuse(exc: Exception, name: str, width: int, max_columns: int, header_end: int, by_name: bool) -> int:
    """The width to read again with, when a row had extra trailing fields; else a coded refusal."""
    m = _FIELDS_RE.search(str(exc))
    quote = _EOF_QUOTE_RE.search(str(exc))
    if quote:  # widening cannot help: say where the quote was opened
        row = int(quote.group(1)) + 1 + (0 if by_name else header_end)
        raise sniff.fail(
            f"{name} is not a well-formed delimited file: a quoted field opened at line {row} is never closed.",
            "E_CSV_MALFORMED",
        ) from exc
    saw = int(m.group(3)) if m else width + 1
    if saw <= width or saw > max_columns:
        where = f" at line {int(m.group(2)) + header_end}" if m else ""
        raise sniff.fail(
            f"{name} is not a well-formed delimited file{where}: {str(exc).strip().splitlines()[-1]}",
            "E_CSV_MALFORMED",
        ) from exc
    return saw


_ENCODING_HINT = (
    "run it again with --encoding NAME (e.g. --encoding cp1252 for Western European Windows, "
    "iso-8859-7 for Greek, cp1251 for Cyrillic), or export it as CSV UTF-8"
)


def _bad_encoding(what: str):
    return sniff.fail(f"{what}; {_ENCODING_HINT}.", "E_BAD_ENCODING")


def _refuse_unknown_encoding(name: str, sample: bytes) -> NoReturn:
    if sniff.looks_binary(sample.decode("latin-1")):
        raise sniff.fail(
            f"{name} is not a text table: it holds binary data. Upload CSV, XLSX or PDF.",
            "E_UNSUPPORTED_FORMAT",
        )
    raise _bad_encoding(f"Cannot tell which text encoding {name} uses")


def _encoding_after(path: Path, sample: bytes, name: str) -> tuple[str, float]:
    """The encoding of a file whose first 64 KiB are UTF-8 but a later byte is not.

    Detected on the bytes around the first bad one; only a file whose start is plain
    ASCII can be read that way (otherwise it mixes two encodings and is refused).
    """
    carry, pos, bad = b"", 0, 0  # pos: file offset of carry[0]
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            data = carry + chunk
            try:
                data.decode("utf-8")
                carry, pos = b"", pos + len(data)
            except UnicodeDecodeError as exc:
                if chunk and exc.end == len(data) and len(data) - exc.start < 4:  # a character cut by the chunk
                    carry, pos = data[exc.start :], pos + exc.start
                    continue
                bad = pos + exc.start
                break
            if not chunk:
                bad = pos
                break
        fh.seek(max(0, bad - sniff.SAMPLE_BYTES // 2))
        window = fh.read(sniff.SAMPLE_BYTES)
    encoding, confidence = sniff.detect_encoding(window)
    if encoding is None or not sample.isascii():
        reason = "it mixes UTF-8 with another encoding" if encoding else "its encoding changes after the start"
        raise _bad_encoding(f"{name} cannot be read as one text encoding ({reason})")
    return encoding, confidence


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
    out: list[str] = []
    cur: list[str] = []
    quoted, depth = False, 0
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
                df.at[no, df.columns[pos]] = value.replace("\xa0", " ").strip() or None
            for col in extra:
                df.at[no, col] = None
            findings.append(
                finding(
                    "E_ROW_RESPLIT",
                    f"line {no} had more fields than the header; it was re-split keeping quoted and "
                    "bracketed text together.",
                    location=f"line {no}",
                    row=no,
                )
            )
        else:
            findings.append(
                finding(
                    "E_EXTRA_FIELDS",
                    f"line {no} has {len(fields)} fields but the header has {ncols}; "
                    "the extra values are kept in unnamed columns.",
                    location=f"line {no}",
                    row=no,
                )
            )
