"""Recognise a file by its content: format, text encoding and CSV delimiter.

The extension is only a hint: a content-addressed blob may be called ``ab/abcdef.csv``
whatever it holds. Magic bytes decide:

* ``%PDF`` (in the first KiB) -> pdf
* ``PK\\x03\\x04`` zip holding ``xl/workbook.xml`` -> xlsx (and .xlsm), ``xl/workbook.bin``
  -> xlsb, an OpenDocument spreadsheet mimetype -> ods (a zip that cannot be opened ->
  ``E_XLSX_UNREADABLE``; any other zip -> ``E_UNSUPPORTED_FORMAT``)
* OLE2 (``D0 CF 11 E0``) holding a Workbook stream -> xls; holding ``EncryptionInfo`` (a
  password-protected .xlsx/.xlsb) or an .xls with a FILEPASS record -> ``E_WORKBOOK_ENCRYPTED``
* PNG, JPEG, TIFF -> image (read by OCR)
* anything else is tried as delimited text; binary garbage -> ``E_UNSUPPORTED_FORMAT``.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from batchops.errors import PipelineError

STEP = "standardize"
SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
WORKBOOK_FORMATS = ("xlsx", "xlsb", "xls", "ods")
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")  # PNG, JPEG, TIFF


def fail(message: str, code: str, **details) -> PipelineError:
    return PipelineError(message, code=code, step=STEP, **details)


def detect_format(path: Path, original_name: str = "") -> str:
    """Return "csv", "pdf" or a workbook format (``WORKBOOK_FORMATS``), or raise a PipelineError."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if not head:
        raise fail(f"{original_name or path.name} is empty (0 bytes).", "E_EMPTY_FILE")
    if head.startswith(b"%PDF") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(IMAGE_MAGIC):
        return "image"  # a photo or scan of a marksheet: OCR
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _ole_format(path, original_name or path.name)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise fail(
                "The Excel workbook is truncated or corrupt and cannot be opened "
                f"({exc.__class__.__name__}); export it again from Excel.",
                "E_XLSX_UNREADABLE",
            ) from exc
        if "xl/workbook.xml" in names:
            return "xlsx"  # .xlsm too
        if "xl/workbook.bin" in names:
            return "xlsb"
        if "content.xml" in names and _zip_member(path, "mimetype").startswith(ODS_MIMETYPE):
            return "ods"
        raise fail(
            "The file is a zip archive but not a spreadsheet (e.g. a .docx or .odt); "
            "upload CSV, a workbook (.xlsx, .xls, .xlsb, .ods) or PDF.",
            "E_UNSUPPORTED_FORMAT",
        )
    return "csv"


def _zip_member(path: Path, member: str, limit: int = 256) -> bytes:
    try:
        with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
            return fh.read(limit)
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):
        return b""


def _ole_format(path: Path, name: str) -> str:
    """An OLE2 container: an .xls workbook, an encrypted workbook, or something else."""
    from batchops.pipeline.workbook_guard import encrypted, ole_kind

    try:
        kind = ole_kind(path)
    except ValueError as exc:
        raise fail(
            f"{name} is a truncated or corrupt Excel 97-2003 (.xls) workbook and cannot be opened; export it again.",
            "E_XLSX_UNREADABLE",
        ) from exc
    if kind == "encrypted":
        raise encrypted(name)
    if kind == "xls":
        return "xls"
    raise fail(
        f"{name} is an Office document (OLE2) but not an Excel workbook (e.g. a .doc); "
        "upload CSV, a workbook (.xlsx, .xls, .xlsb, .ods) or PDF.",
        "E_UNSUPPORTED_FORMAT",
    )


def detect_encoding(sample: bytes) -> str:
    """BOMs first (utf-8-sig, utf-16), then strict utf-8, else cp1252."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith(codecs.BOM_UTF32_LE) or sample.startswith(codecs.BOM_UTF32_BE):
        return "utf-32"
    if sample.startswith(codecs.BOM_UTF16_LE) or sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    # UTF-16 without a BOM: every other byte of ASCII text is NUL.
    if len(sample) >= 4:
        even = sample[0:200:2]
        odd = sample[1:200:2]
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            return "utf-16-le"
        if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            return "utf-16-be"
    try:
        # final=False: the sample may end inside a multi-byte character
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _latin1_fallback(exc: UnicodeDecodeError):
    # cp1252 leaves five bytes undefined (0x81 0x8D 0x8F 0x90 0x9D): read them as latin-1
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error("batchops_latin1", _latin1_fallback)


def errors_for(encoding: str) -> str:
    return "batchops_latin1" if encoding == "cp1252" else "strict"


def decode(data: bytes, encoding: str) -> str:
    return data.decode(encoding, errors=errors_for(encoding))


def looks_binary(text: str) -> bool:
    """Too many control characters for a text table (NUL bytes alone are tolerated)."""
    if not text:
        return False
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\r\n\x00") or ch == "\x7f")
    nul = text.count("\x00")
    return bad > 0.02 * len(text) or nul > 0.3 * len(text)


@dataclass
class Dialect:
    delimiter: str
    header_line: int  # 1-based physical line of the header
    n_fields: int


def _lines(text: str, limit: int = 60) -> list[tuple[int, str]]:
    """First non-empty physical lines, with their 1-based line numbers (CR, LF, CRLF)."""
    out = []
    for no, line in enumerate(io.StringIO(text, newline=None), start=1):
        if line.strip(" \t\r\n,;|\x00"):
            out.append((no, line.rstrip("\r\n")))
        if len(out) >= limit:
            break
    return out


def sniff_dialect(text: str, truncated: bool) -> Dialect:
    """Pick the delimiter whose field count is most consistent over the first lines.

    The header is the first line having that field count (title lines above it are
    skipped). A single-column file gets ',' and one field.
    """
    lines = _lines(text)
    if truncated and len(lines) > 1:
        lines = lines[:-1]  # the sample may cut the last line short
    if not lines:
        return Dialect(",", 1, 1)
    best: tuple[float, int, int, str, int] | None = None
    for order, delim in enumerate(DELIMITERS):
        counts = []
        for _, line in lines:
            try:
                row = next(csv.reader([line], delimiter=delim))
            except (csv.Error, StopIteration):
                row = [line]
            counts.append(len(row))
        mode = max(set(counts), key=lambda c: (counts.count(c), c))
        if mode < 2:
            continue
        consistency = counts.count(mode) / len(counts)
        key = (consistency, mode, -order)
        if best is None or key > best[:3]:
            # the header: the first line with at least the usual number of fields
            first = next(i for i, c in enumerate(counts) if c >= mode)
            best = (consistency, mode, -order, delim, first)
    if best is None:
        return Dialect(",", lines[0][0], 1)
    _, mode, _, delim, first = best
    return Dialect(delim, lines[first][0], mode)
