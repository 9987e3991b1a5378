"""Size guards for zipped workbooks (.xlsx, .xlsm, .xlsb, .ods), run before calamine opens them.

* The sum of the members' uncompressed sizes beyond ``max_xlsx_uncompressed_bytes`` ->
  ``E_XLSX_TOO_LARGE`` (zip bombs); a truncated or corrupt zip -> ``E_XLSX_UNREADABLE``.
* The grid calamine would build for a sheet (first to last cell *with a value*) beyond the
  cell budget -> ``E_XLSX_TOO_LARGE``. Empty cells that only carry a style (Excel writes them
  out to XFD1048576 when a whole row or column is formatted) do not count: calamine skips them.
"""

from __future__ import annotations

import functools
import re
import zipfile
from pathlib import Path

from batchops.errors import PipelineError
from batchops.pipeline import sniff
from batchops.pipeline.settings import PipelineSettings


def check_zip(path: Path, settings: PipelineSettings, name: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(i.file_size for i in zf.infolist())
            if total > settings.max_xlsx_uncompressed_bytes:  # before testzip inflates the bomb
                raise sniff.fail(
                    f"{name} expands to {total / 1048576:,.0f} MB when unzipped; the limit is "
                    f"{settings.max_xlsx_uncompressed_bytes / 1048576:,.0f} MB.",
                    "E_XLSX_TOO_LARGE",
                )
            bad = zf.testzip() if path.stat().st_size < 5 * 1024 * 1024 else None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise sniff.fail(
            f"{name} is a truncated or corrupt Excel workbook and cannot be opened; export it again.",
            "E_XLSX_UNREADABLE",
        ) from exc
    if bad:
        raise sniff.fail(
            f"{name} is a corrupt Excel workbook (damaged part {bad}); export it again.",
            "E_XLSX_UNREADABLE",
        )


# calamine turns a sheet into a dense grid from its first to its last cell with a value
# before we see any of it: one value at XFD1048576 asks for 17 billion cells and the failed
# allocation aborts the whole process (Rust cannot raise MemoryError). So the grid's extent
# is taken from the XML first. Sheets as Excel, LibreOffice and openpyxl write them (every
# ``<c r="B7">`` explicit) cost one regex pass: valued cells near each window's end seed the
# extent, then only cells beyond it are looked at. A cell holds a value when its tag is not
# self-closing and not closed at once (``<c r="B7" s="3"/>`` is a style, nothing more).
# Anything else (cells without a reference, prefixed or oddly spaced tags) gets an exact
# walk that follows calamine's rules.
_VALUED = rb"[^<>]{0,4096}(?<!/)>(?!</)"
_ANY_VALUED = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"' + _VALUED)
_ODD = rb'<c(?=[\s/>])(?! r="[A-Z]{1,3}[0-9]{1,7}")|<row(?=[\s/>])(?! r="[0-9]{1,7}")'
_TAG = re.compile(rb"<(?:\w{1,32}:)?(row|c)(?=[\s/>])([^<>]{0,4096})")
_REF = re.compile(rb'(?:^|\s)r\s*=\s*["\']\s*([A-Za-z]{0,8})\s*([0-9]{0,12})')
_CHUNK = 4 << 20
_SEED_BYTES = 1 << 16


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ch - 64)
    return n


def _col_letters(n: int) -> str:
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _greater(s: str, cls: str, top: str, longest: int) -> str:
    """Regex for strings over ``cls`` (same order as ``s``) that sort after ``s``: longer, or same length and larger."""
    alts = [f"{cls}{{{len(s) + 1},{longest}}}"] if len(s) < longest else []
    for i, ch in enumerate(s):
        if ch < top:
            alts.append(f"{s[:i]}[{chr(ord(ch) + 1)}-{top}]{cls}{{{len(s) - i - 1}}}")
    return "|".join(alts) or "(?!)"


@functools.lru_cache(maxsize=64)
def _beyond(rows: int, cols: int) -> re.Pattern:
    """Valued cells past (rows, cols), or tags the fast path cannot read."""
    letters = _greater(_col_letters(cols), "[A-Z]", "Z", 3)
    digits = _greater(str(rows) if rows else "", "[0-9]", "9", 7)
    return re.compile(
        rb'<c r="(?:('
        + letters.encode()
        + rb")([0-9]{1,7})|([A-Z]{1,3})("
        + digits.encode()
        + rb'))"'
        + _VALUED
        + b"|"
        + _ODD
    )


def windows(zf: zipfile.ZipFile, info: zipfile.ZipInfo):
    """Stream an XML part as (buffer, end) windows that never split a tag (``end`` = last whole tag)."""
    carry = b""
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            buf = carry + chunk
            cut = buf.rfind(b"<") if chunk else len(buf)
            if cut <= 0 or len(buf) - cut > 8192:
                cut = len(buf)
            yield buf, cut
            carry = buf[cut:]
            if not chunk:
                return


def _holds_value(buf: bytes, m: re.Match) -> bool:
    """A ``<c ...`` tag (attributes in group 2) that is neither self-closing nor closed at once."""
    if m.group(2).rstrip().endswith(b"/"):
        return False
    end = m.end()
    return not (buf[end : end + 1] == b">" and buf[end + 1 : end + 3] == b"</")


def _exact_extent(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    """Walk every row and cell tag the way calamine places them (explicit ``r`` or the next position)."""
    rows = cols = row = col = 0
    for buf, cut in windows(zf, info):
        for m in _TAG.finditer(buf, 0, cut):
            ref = _REF.search(m.group(2))
            letters, digits = (ref.group(1), ref.group(2)) if ref else (b"", b"")
            if m.group(1) == b"row":
                row = int(digits) if digits else row + 1
                col = 0
            else:
                col = _col_index(letters) if letters else col + 1
                if digits:
                    row = int(digits)
                if _holds_value(buf, m):
                    cols, rows = max(cols, col), max(rows, row)
    return rows, cols


def _sheet_extent(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    """(rows, columns) of the grid calamine would build from this XML part (0, 0 if it has no values)."""
    rows = cols = 0
    for buf, cut in windows(zf, info):
        if b":c" in buf or b":row" in buf:  # prefixed tags (<x:c>): only the exact walk reads them
            return _exact_extent(zf, info)
        # seed from the valued cells at the window's start and end so the scan below finds little
        for lo, hi in ((0, min(cut, _SEED_BYTES)), (max(0, cut - _SEED_BYTES), cut)):
            for letters, digits in _ANY_VALUED.findall(buf, lo, hi):
                cols, rows = max(cols, _col_index(letters)), max(rows, int(digits))
        for m in _beyond(rows, cols).finditer(buf, 0, cut):
            if m.group(1):
                cols = max(cols, _col_index(m.group(1)))
                rows = max(rows, int(m.group(2)))
            elif m.group(3):
                cols = max(cols, _col_index(m.group(3)))
                rows = max(rows, int(m.group(4)))
            else:
                return _exact_extent(zf, info)
    return rows, cols


def cell_budget(settings: PipelineSettings) -> int:
    # ~32 bytes a cell in calamine's grid; never below what a 26-column, 99,999-row sheet needs
    return max(26 * 99_999, settings.max_xlsx_uncompressed_bytes // 64)


def too_large(name: str, rows: int, cols: int, budget: int) -> PipelineError:
    return sniff.fail(
        f"{name} has a sheet whose cells span {rows:,} rows x {cols:,} columns ({rows * cols:,} cells, e.g. a "
        f"stray cell far below or right of the table); the limit is {budget:,} cells. Delete the stray cells "
        "and export again.",
        "E_XLSX_TOO_LARGE",
    )


def check_extent(path: Path, settings: PipelineSettings, name: str) -> None:
    """Refuse a sheet whose valued cells span a grid too large to load (``E_XLSX_TOO_LARGE``)."""
    budget = cell_budget(settings)
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.lower().endswith(".xml") or not info.file_size:
                    continue
                rows, cols = _sheet_extent(zf, info)
                if rows * cols > budget:
                    raise too_large(name, rows, cols, budget)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise sniff.fail(
            f"{name} is a truncated or corrupt Excel workbook and cannot be opened; export it again.",
            "E_XLSX_UNREADABLE",
        ) from exc
