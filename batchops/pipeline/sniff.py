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


def detect_encoding(sample: bytes) -> tuple[str | None, float]:
    """(encoding, confidence 0-1) of a file's first bytes; (None, 0.0) when unsure.

    BOMs, BOM-less UTF-16 and strict UTF-8 are recognised directly (confidence 1).
    Anything else goes to charset-normalizer, and its near-best candidates are
    compared by what they make of the text (:func:`_oddity`): one clear reading
    wins; a tie that includes Windows-1252 keeps it (the Western default BatchOps
    always had); any other tie is "unsure" and the caller asks for ``--encoding``.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", 1.0
    if sample.startswith(codecs.BOM_UTF32_LE) or sample.startswith(codecs.BOM_UTF32_BE):
        return "utf-32", 1.0
    if sample.startswith(codecs.BOM_UTF16_LE) or sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", 1.0
    # UTF-16 without a BOM: every other byte of ASCII text is NUL.
    if len(sample) >= 4:
        even = sample[0:200:2]
        odd = sample[1:200:2]
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            return "utf-16-le", 1.0
        if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            return "utf-16-be", 1.0
    try:
        # final=False: the sample may end inside a multi-byte character
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8", 1.0
    except UnicodeDecodeError:
        pass
    return _guess_single_byte(sample)


# How much messier than the best candidate another may be and still count as a rival
# (charset-normalizer's mess ratio misjudges short samples: cp1250 Polish can score 0.17, its cp1252
# mojibake 0); the rivals' readings are then judged by _oddity.
_CHAOS_SLACK = 0.3
_COHERENCE_MARGIN = 0.1  # a tie goes to the reading this much more coherent
_MAX_CHAOS = 0.25  # beyond this the "best" reading is itself a mess


def _guess_single_byte(sample: bytes) -> tuple[str | None, float]:
    from charset_normalizer import from_bytes

    results = list(from_bytes(sample))
    if not results:
        return None, 0.0
    best = min(results, key=lambda m: (m.chaos, -m.coherence))
    if best.chaos > _MAX_CHAOS:
        return None, 0.0
    rivals = [m for m in results if m.chaos <= best.chaos + _CHAOS_SLACK]
    readings: dict[str, list] = {}
    for m in rivals:
        readings.setdefault(str(m), []).append(m)
    scored = sorted((_oddity(text), text) for text in readings)
    clear = [text for score, text in scored if score == scored[0][0]]
    chosen = _break_tie([t for t in clear if any(_is_common(m) for m in readings[t])] or clear, readings)
    if chosen is None:
        return None, 0.0
    match = readings[chosen][0]
    confidence = round(max(0.0, 1.0 - match.chaos) * (1.0 if len(clear) == 1 else 0.9), 2)
    if any(_is_cp1252(m) for m in readings[chosen]) or _decodes_as(sample, "cp1252", chosen):
        return "cp1252", confidence
    return codecs.lookup(match.encoding).name, confidence


# Code pages that office software and school systems really export; a rarer one
# (Mac, DOS) that reads the sample just as cleanly loses the tie.
_WINDOWS = frozenset(f"cp{n}" for n in range(1250, 1259))
_COMMON = frozenset(
    [
        "cp1250",
        "cp1251",
        "cp1252",
        "cp1253",
        "cp1254",
        "cp1255",
        "cp1256",
        "cp1257",
        "cp1258",
        "koi8-r",
        "koi8-u",
        "cp874",
        "tis-620",
        "cp932",
        "shift_jis",
        "euc_jp",
        "gb2312",
        "gbk",
        "gb18030",
        "big5",
        "cp949",
        "euc_kr",
    ]
    + [f"iso8859-{n}" for n in (1, 2, 4, 5, 6, 7, 8, 9, 13, 15)]
)


def _break_tie(texts: list[str], readings: dict[str, list]) -> str | None:
    """One reading out of equally clean ones, or None.

    Clearly the most coherent language wins; else the only Windows code page among
    them (what Excel exports: cp1250 over iso-8859-2, cp1253 over iso-8859-7 when
    only a quote mark tells them apart); else Windows-1252, the Western default
    BatchOps always had.
    """
    if len(texts) == 1:
        return texts[0]
    coherence = sorted(((max(m.coherence for m in readings[t]), t) for t in texts), reverse=True)
    if coherence[0][0] - coherence[1][0] >= _COHERENCE_MARGIN:
        return coherence[0][1]
    windows = [t for t in texts if any(_names(m) & _WINDOWS for m in readings[t])]
    if len(windows) == 1:
        return windows[0]
    western = [t for t in texts if any(_is_cp1252(m) for m in readings[t])]
    return western[0] if western else None


def _names(match) -> set[str]:
    return {codecs.lookup(n).name for n in (match.encoding, *match.could_be_from_charset)}


def _is_common(match) -> bool:
    return bool(_names(match) & _COMMON)


def _is_cp1252(match) -> bool:
    return match.encoding == "cp1252" or "cp1252" in match.could_be_from_charset


def _decodes_as(sample: bytes, encoding: str, text: str) -> bool:
    try:
        return sample.decode(encoding) == text
    except UnicodeDecodeError:
        return False


_ODD_SYMBOLS = frozenset("¶§¤¦¨¯´¸¹²³ºª¬µ·†‡‰ˆ˜˝˛˙¬¦")
_QUOTES_AND_DASHES = frozenset(["Pi", "Pf", "Pd"])


def _oddity(text: str, limit: int = 5_000) -> int:
    """How mojibake-like a decoded text is: the lower, the likelier the encoding.

    Counts non-ASCII characters that rarely belong in a table cell (control and
    private-use characters, stray symbols such as ``¶ ¹ ¤``, Arabic presentation
    forms), symbols glued to letters (``£ukasz``) and letters whose script differs
    from a neighbouring letter's (``Cafй``, ``Noлl``). Only the first ``limit``
    non-ASCII characters are looked at.
    """
    import re
    import unicodedata

    kinds: dict[str, tuple[bool, str]] = {}  # char -> (odd by itself, script if a letter, "" if a symbol)

    def kind(ch: str) -> tuple[bool, str]:
        k = kinds.get(ch)
        if k is None:
            cat = unicodedata.category(ch)
            odd = cat[0] == "C" or ch in _ODD_SYMBOLS or "\ufb50" <= ch <= "\ufeff"
            if ch.isalpha():
                k = (odd, unicodedata.name(ch, "?").split(" ")[0])
            else:
                k = (odd, "" if cat in _QUOTES_AND_DASHES else "symbol")
            kinds[ch] = k
        return k

    def script(ch: str) -> str:
        return ("LATIN" if ch.isascii() else kind(ch)[1]) if ch.isalpha() else ""

    score = 0
    n = len(text)
    for seen, m in enumerate(re.finditer(r"[^\x00-\x7f]", text)):
        if seen >= limit:
            break
        i = m.start()
        odd, own = kind(text[i])
        if odd:
            score += 1
            continue
        before = script(text[i - 1]) if i else ""
        after = script(text[i + 1]) if i + 1 < n else ""
        if own == "symbol":  # a symbol glued to a letter
            score += bool(before or after)
        elif own and ((before and before != own) or (after and after != own)):
            score += 1
    return score


def check_encoding_name(name: str) -> str:
    """The codec's canonical name for an ``--encoding`` value, or an InputError."""
    from batchops.errors import InputError

    try:
        info = codecs.lookup(name.strip())
    except (LookupError, AttributeError):
        raise InputError(
            f"Unknown text encoding '{name}' for --encoding; use a name like utf-8, cp1252, iso-8859-7 or cp1251.",
            code="E_ENCODING_UNKNOWN",
        ) from None
    if not _is_text_codec(info):
        raise InputError(f"'{name}' is not a text encoding.", code="E_ENCODING_UNKNOWN")
    return info.name


def _is_text_codec(info) -> bool:
    try:
        return isinstance(b"a,b".decode(info.name), str)
    except (LookupError, TypeError, ValueError):
        return False


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):  # registered for decoding only
        raise exc
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
class Record:
    first_line: int  # 1-based physical line where the record starts
    last_line: int  # ... and where it ends (a quoted field may span lines)
    fields: list[str]


@dataclass
class Dialect:
    delimiter: str
    header_line: int  # 1-based physical line where the header starts
    n_fields: int
    header_end: int = 0  # physical line where the header ends (0: same as header_line)
    header: list[str] | None = None  # the header's fields
    records: list[Record] | None = None  # the sample's records after the header

    def __post_init__(self):
        self.header_end = self.header_end or self.header_line


def records(text: str, delimiter: str, limit: int = 10_000) -> list[Record]:
    """Records of the sample (quoted fields may span lines), blank ones left out."""
    out: list[Record] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 0
    while len(out) < limit:
        first = line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:  # e.g. a field over the csv module's size limit: take the line as one field
            row = [""]
        line = reader.line_num
        if any(f.strip(" \t\r\n\x00") for f in row):
            out.append(Record(first, line, row))
    return out


def _width(row: list[str]) -> int:
    """Fields up to the last non-empty one (trailing delimiters do not widen a row)."""
    n = len(row)
    while n > 1 and not row[n - 1].strip():
        n -= 1
    return n


def sniff_dialect(text: str, truncated: bool) -> Dialect:
    """Pick the delimiter whose field count is most consistent over the first records.

    The header is the first record at least as wide as the typical (median) record
    after it: title lines above it are skipped, and rows of varying width (ragged)
    never push the header down onto a data row. A single-column file gets ','.
    """
    best: tuple[float, int, int, str, list[Record]] | None = None
    for order, delim in enumerate(DELIMITERS):
        recs = records(text, delim)
        if truncated and len(recs) > 1:
            recs = recs[:-1]  # the sample may cut the last record short
        counts = [len(r.fields) for r in recs[:60]]
        if not counts:
            continue
        mode = max(set(counts), key=lambda c: (counts.count(c), c))
        if mode < 2:
            continue
        key = (counts.count(mode) / len(counts), mode, -order)
        if best is None or key > best[:3]:
            best = (*key, delim, recs)
    if best is None:
        recs = records(text, ",")
        if not recs:
            return Dialect(",", 1, 1, header=[""], records=[])
        return Dialect(",", recs[0].first_line, 1, recs[0].last_line, recs[0].fields, recs[1:])
    _, mode, _, delim, recs = best
    first = _header_index(recs[:60])
    head = recs[first]
    return Dialect(delim, head.first_line, len(head.fields), head.last_line, head.fields, recs[first + 1 :])


def _header_index(recs: list[Record]) -> int:
    widths = [_width(r.fields) for r in recs]
    for i, w in enumerate(widths):
        later = sorted(widths[i + 1 :])
        if w >= 2 and (not later or w >= later[(len(later) - 1) // 2]):
            return i
    return 0
