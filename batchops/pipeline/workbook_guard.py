"""What each workbook format must pass before calamine opens it.

calamine builds a dense grid from A1 to a sheet's last cell with a value before we see any
of it, and a failed allocation aborts the process (Rust cannot raise MemoryError). Each
format hides that extent differently, so each gets its own scan; none of them trusts the
file's own dimension record, and cells that only carry a style do not count (calamine skips
them):

* .xlsx / .xlsm: the zip's uncompressed size, then the sheet XML (``xlsx_guard``).
* .xlsb: the zip's uncompressed size, then the BIFF12 cell records of each sheet part.
* .ods: the zip's uncompressed size, then content.xml with its row and column repeats
  (``number-columns-repeated="16384"`` on a row repeated a million times is 17 billion cells).
* .xls: an OLE2 (CFB) container; the BIFF8 cell records of the Workbook stream. The format
  caps a sheet at 65,536 x 256, still half a gigabyte of grid.

Password-protected workbooks (an OLE2 container holding ``EncryptionInfo`` for
.xlsx/.xlsb, a FILEPASS record in .xls, encryption data in an .ods manifest) ->
``E_WORKBOOK_ENCRYPTED``. The cell budget is the one ``xlsx_guard`` uses.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

from batchops.errors import PipelineError
from batchops.pipeline import sniff, xlsx_guard
from batchops.pipeline.settings import PipelineSettings

ENCRYPTED_STREAMS = ("encryptioninfo", "encryptedpackage")


def encrypted(name: str) -> PipelineError:
    return sniff.fail(
        f"{name} is password-protected (encrypted); open it, remove the password (File > Info > "
        "Protect Workbook > Encrypt with Password, clear it) and upload again, or export the sheet as CSV.",
        "E_WORKBOOK_ENCRYPTED",
    )


def check(path: Path, settings: PipelineSettings, name: str, fmt: str) -> None:
    """Refuse what calamine must not open: bombs, far-away cells, encryption."""
    if fmt == "xls":
        check_xls(path, settings, name)
        return
    xlsx_guard.check_zip(path, settings, name)
    if fmt == "ods":
        check_ods(path, settings, name)
    elif fmt == "xlsb":
        check_xlsb(path, settings, name)
    else:
        xlsx_guard.check_extent(path, settings, name)


def password_protected(path: Path, fmt: str) -> bool:
    """After calamine failed: was it a password? (No error of its own says so for every format.)"""
    try:
        if fmt == "ods":
            with zipfile.ZipFile(path) as zf:
                return _ods_encrypted(zf)
        return ole_kind(path) == "encrypted"
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


# ---------------------------------------------------------------- OLE2 (.xls, encrypted OOXML)


def ole_kind(path: Path) -> str:
    """An OLE2 container's content: "encrypted" (an encrypted .xlsx/.xlsb, or an .xls with FILEPASS),
    "xls", or "other" (a .doc, .msg ...). Raises ValueError for a container that cannot be parsed."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            names = {"/".join(entry).lower() for entry in ole.listdir()}
            if any(n in names for n in ENCRYPTED_STREAMS):
                return "encrypted"
            stream = "workbook" if "workbook" in names else "book" if "book" in names else None
            if stream is None:
                return "other"
            with ole.openstream(stream) as fh:
                head = fh.read(1 << 16)
    except (OSError, ValueError, struct.error, IndexError, KeyError) as exc:
        raise ValueError(f"damaged OLE2 container: {exc}") from exc
    return "encrypted" if _biff_filepass(head) else "xls"


def _biff_records(data: bytes):
    """(type, offset of the record's data, length) for each BIFF8 record."""
    pos, end = 0, len(data) - 4
    while pos <= end:
        rtype, length = struct.unpack_from("<HH", data, pos)
        yield rtype, pos + 4, length
        pos += 4 + length


def _biff_filepass(globals_head: bytes) -> bool:
    for rtype, _, _ in _biff_records(globals_head):
        if rtype == 0x002F:  # FILEPASS: the rest of the stream is encrypted
            return True
        if rtype in (0x0085, 0x00FC, 0x000A):  # BOUNDSHEET, SST or EOF: past where FILEPASS sits
            return False
    return False


# cell records whose data starts with (row, column); MULRK ends with its last column
_BIFF_CELLS = frozenset({0x0006, 0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x00D6, 0x0406})
_BIFF_MULRK = 0x00BD
_BIFF_BOF, _BIFF_EOF = 0x0809, 0x000A


def check_xls(path: Path, settings: PipelineSettings, name: str) -> None:
    """Encryption, then every sheet's extent from its cell records (BLANK/MULBLANK are styles only)."""
    import olefile

    try:
        kind = ole_kind(path)
        if kind == "encrypted":
            raise encrypted(name)
        with olefile.OleFileIO(str(path)) as ole:
            stream = "Workbook" if ole.exists("Workbook") else "Book"
            data = ole.openstream(stream).read()
    except (OSError, ValueError, struct.error, IndexError, KeyError) as exc:
        raise sniff.fail(
            f"{name} is a truncated or corrupt Excel 97-2003 workbook and cannot be opened; export it again.",
            "E_XLSX_UNREADABLE",
        ) from exc
    budget = xlsx_guard.cell_budget(settings)
    rows = cols = 0
    for rtype, at, length in _biff_records(data):
        if rtype in _BIFF_CELLS and length >= 4:
            row, col = struct.unpack_from("<HH", data, at)
            rows, cols = max(rows, row + 1), max(cols, col + 1)
        elif rtype == _BIFF_MULRK and length >= 6:
            (row,) = struct.unpack_from("<H", data, at)
            (last,) = struct.unpack_from("<H", data, at + length - 2)
            rows, cols = max(rows, row + 1), max(cols, last + 1)
        elif rtype in (_BIFF_BOF, _BIFF_EOF):
            if rows * cols > budget:
                raise xlsx_guard.too_large(name, rows, cols, budget)
            rows = cols = 0
    if rows * cols > budget:
        raise xlsx_guard.too_large(name, rows, cols, budget)


# ---------------------------------------------------------------- .ods

_ODS_TAG = re.compile(rb"<(/?)[\w.-]{1,32}:(table|table-row|table-cell|covered-table-cell)(?=[\s/>])([^<>]{0,8192})")
_ODS_ROWS_REPEATED = re.compile(rb"number-rows-repeated\s*=\s*[\"']\s*([0-9]{1,12})")
_ODS_COLS_REPEATED = re.compile(rb"number-columns-repeated\s*=\s*[\"']\s*([0-9]{1,12})")
_ODS_VALUE_TYPE = re.compile(rb"value-type\s*=")


def _ods_encrypted(zf: zipfile.ZipFile) -> bool:
    try:
        manifest = zf.read("META-INF/manifest.xml")
    except KeyError:
        return False
    return b"encryption-data" in manifest


def _repeat(pattern: re.Pattern, attrs: bytes) -> int:
    m = pattern.search(attrs)
    return max(1, int(m.group(1))) if m else 1


def check_ods(path: Path, settings: PipelineSettings, name: str) -> None:
    """Encryption, then each table's extent from content.xml, row and column repeats included."""
    budget = xlsx_guard.cell_budget(settings)
    try:
        with zipfile.ZipFile(path) as zf:
            if _ods_encrypted(zf):
                raise encrypted(name)
            info = zf.getinfo("content.xml")
            rows = cols = row = col = 0
            row_repeat = 1
            for buf, cut in xlsx_guard.windows(zf, info):
                for m in _ODS_TAG.finditer(buf, 0, cut):
                    closing, tag, attrs = m.group(1), m.group(2), m.group(3)
                    self_closing = attrs.rstrip().endswith(b"/")
                    if tag == b"table":
                        if rows * cols > budget:
                            raise xlsx_guard.too_large(name, rows, cols, budget)
                        if not closing:
                            rows = cols = row = col = 0
                    elif tag == b"table-row":
                        if closing:
                            row += row_repeat
                        else:
                            row_repeat, col = _repeat(_ODS_ROWS_REPEATED, attrs), 0
                            if self_closing:
                                row += row_repeat
                    elif not closing:  # a cell
                        span = _repeat(_ODS_COLS_REPEATED, attrs)
                        end = m.end()
                        closed_at_once = buf[end : end + 1] == b">" and buf[end + 1 : end + 3] == b"</"
                        if _ODS_VALUE_TYPE.search(attrs) or not (self_closing or closed_at_once):
                            rows, cols = max(rows, row + row_repeat), max(cols, col + span)
                            if rows * cols > budget:
                                raise xlsx_guard.too_large(name, rows, cols, budget)
                        col += span
    except KeyError as exc:
        raise sniff.fail(f"{name} is not a spreadsheet: its content.xml is missing.", "E_XLSX_UNREADABLE") from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise sniff.fail(
            f"{name} is a truncated or corrupt OpenDocument spreadsheet and cannot be opened; export it again.",
            "E_XLSX_UNREADABLE",
        ) from exc


# ---------------------------------------------------------------- .xlsb

_XLSB_ROW = 0x0000  # BrtRowHdr: the row of the cells that follow
_XLSB_CELLS = frozenset(range(0x0002, 0x000C))  # BrtCellRk .. BrtFmlaError (0x0001 BrtCellBlank is a style)


def _xlsb_records(data: bytes):
    """(type, data offset, length) of each BIFF12 record (type and length are 7-bit varints)."""
    pos, n = 0, len(data)
    while pos < n:
        rtype = data[pos]
        pos += 1
        if rtype & 0x80:
            if pos >= n:
                return
            rtype = (rtype & 0x7F) | ((data[pos] & 0x7F) << 7)
            pos += 1
        length = shift = 0
        for _ in range(4):
            if pos >= n:
                return
            b = data[pos]
            pos += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        yield rtype, pos, length
        pos += length


def check_xlsb(path: Path, settings: PipelineSettings, name: str) -> None:
    budget = xlsx_guard.cell_budget(settings)
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not (info.filename.lower().startswith("xl/worksheets/") and info.filename.lower().endswith(".bin")):
                    continue
                data = zf.read(info)
                rows = cols = row = 0
                for rtype, at, length in _xlsb_records(data):
                    if rtype == _XLSB_ROW and length >= 4:
                        (row,) = struct.unpack_from("<I", data, at)
                    elif rtype in _XLSB_CELLS and length >= 4:
                        (col,) = struct.unpack_from("<I", data, at)
                        rows, cols = max(rows, row + 1), max(cols, col + 1)
                if rows * cols > budget:
                    raise xlsx_guard.too_large(name, rows, cols, budget)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, struct.error) as exc:
        raise sniff.fail(
            f"{name} is a truncated or corrupt Excel binary workbook and cannot be opened; export it again.",
            "E_XLSX_UNREADABLE",
        ) from exc
