"""PDF -> DataFrame with pdfplumber.

Two layouts:

* **ruled** tables (cell borders): pdfplumber's table finder; a cell whose text
  wraps is joined with single spaces.
* **borderless** text reports: words are grouped into lines by their vertical
  position; the header line is the first line made of two or more text segments
  (segments are separated by gaps wider than a space); each header segment's left
  edge starts a column, and every word goes to the column whose start is at or
  left of it.

Both layouts then merge continuation rows: a row with an empty ID cell whose other
cells are text belongs to the row above (a long name wrapped onto the next line),
and an ID ending in "/" or "-" continues with the ID text of the next line
("ARTS/2026/" + "00009"). Tables are stitched across pages: a header repeated at the
top of a later page is skipped; page footers ("Page 2 of 5") and notes are ignored.

Failures: encrypted -> ``E_PDF_ENCRYPTED``; unparsable -> ``E_PDF_DAMAGED``; no
text layer at all (scanned images) -> ``E_PDF_NO_TEXT``; text but no table ->
``E_PDF_NO_TABLE``; more pages than ``max_pdf_pages`` -> ``E_TOO_MANY_PAGES``.
Locations read "page P row R" (R counts the table rows on that page, header excluded).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from batchops.pipeline import sniff
from batchops.pipeline.columns import normalize_columns, snake, synonym_lookup
from batchops.pipeline.frame import Loaded, clean_frame, drop_empty, drop_unnamed_empty_columns
from batchops.pipeline.settings import PipelineSettings

_PAGE_FOOTER = re.compile(r"^\s*(page\s+\d+(\s*(of|/)\s*\d+)?|\d+\s*/\s*\d+|-\s*\d+\s*-)\s*$", re.I)
_NOTE = re.compile(r"^\s*(grand\s+total|totals?|average|class\s+average|notes?|remarks?|generated|printed|signature)\b", re.I)
_NUMERIC = re.compile(r"^[+-]?(\d+([.,]\d+)?|\.\d+)%?$")


@dataclass
class Row:
    cells: list[str]
    page: int
    row: int


def _is_num(s: str) -> bool:
    return bool(_NUMERIC.match(s.strip()))


def _open(path: Path, name: str):
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfplumber.utils.exceptions import PdfminerException

    try:
        return pdfplumber.open(path)
    except PdfminerException as exc:
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, (PDFPasswordIncorrect, PDFEncryptionError)) or "password" in str(cause).lower():
            raise sniff.fail(
                f"{name} is password-protected; remove the password (print to PDF) and upload again.",
                "E_PDF_ENCRYPTED",
            ) from exc
        raise sniff.fail(f"{name} is a damaged PDF that cannot be read ({type(cause).__name__}).", "E_PDF_DAMAGED") from exc
    except Exception as exc:
        raise sniff.fail(f"{name} is a damaged PDF that cannot be read ({type(exc).__name__}).", "E_PDF_DAMAGED") from exc


_STREAM = re.compile(rb"stream\r?\n")
_INFLATE_CHUNK = 1 << 16


def check_inflation(path: Path, budget: int, name: str) -> None:
    """Refuse a PDF whose streams decode to more than ``budget`` bytes in all.

    pdfminer decodes a stream whole, in memory, when a page is read: a 1.5 MB file can hold
    1.5 GB of spaces (a decompression bomb), behind Flate or behind a chain such as
    ``[/ASCIIHexDecode /FlateDecode]``. Streams are found the way pdfminer finds them
    (``stream`` then CR LF, LF or a lone CR); each one's ``/Filter`` chain is decoded here as a
    stream of chunks - Flate, LZW, ASCIIHex, ASCII85 and RunLength, the filters pdfminer
    applies - and every byte any stage puts out is counted, never kept. A stream whose filter
    cannot be read from its dictionary gets a trial inflation. The budget is the workbooks'
    (pipeline.max_xlsx_uncompressed_mb).
    """
    import mmap
    import zlib

    chunk = 1 << 16
    stream_kw = re.compile(rb"(?<!end)stream(?:\r\n|\r|\n)")
    filter_re = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[^\s/\[\]<>()]+)")
    names = {b"Fl": "flate", b"FlateDecode": "flate", b"LZW": "lzw", b"LZWDecode": "lzw",
             b"AHx": "ahx", b"ASCIIHexDecode": "ahx", b"A85": "a85", b"ASCII85Decode": "a85",
             b"RL": "rl", b"RunLengthDecode": "rl"}

    def flate(chunks):
        inflater = zlib.decompressobj()
        for pending in chunks:
            while pending and not inflater.eof:
                yield inflater.decompress(pending, 1 << 20)
                pending = inflater.unconsumed_tail
            if inflater.eof:
                return

    def ahx(chunks):
        carry = b""
        for c in chunks:
            end = c.find(b">")
            digits = carry + bytes(b for b in (c if end < 0 else c[:end]) if b not in b" \t\r\n\f\x00")
            carry = digits[len(digits) // 2 * 2:]
            yield bytes.fromhex(digits[:len(digits) // 2 * 2].decode("latin-1"))
            if end >= 0:
                return

    def a85(chunks):
        group = []
        for c in chunks:
            for b in c:
                if b == 0x7E:  # "~>" ends the data; a short last group gives len - 1 bytes
                    if len(group) > 1:
                        value = 0
                        for d in group + [84] * (5 - len(group)):
                            value = value * 85 + d
                        yield (value & 0xFFFFFFFF).to_bytes(4, "big")[:len(group) - 1]
                    return
                if b == 0x7A and not group:  # "z": four zero bytes
                    yield b"\0\0\0\0"
                elif 0x21 <= b <= 0x75:
                    group.append(b - 33)
                    if len(group) == 5:
                        value = 0
                        for d in group:
                            value = value * 85 + d
                        yield (value & 0xFFFFFFFF).to_bytes(4, "big")
                        group = []

    def rl(chunks):
        todo, repeat = 0, False  # bytes left to copy, or the next byte is repeated
        for c in chunks:
            for b in c:
                if repeat:
                    yield bytes([b]) * todo
                    todo, repeat = 0, False
                elif todo:
                    todo -= 1
                    yield bytes([b])
                elif b == 128:
                    return
                elif b < 128:
                    todo = b + 1
                else:
                    todo, repeat = 257 - b, True

    def lzw(chunks):
        table = [bytes([i]) for i in range(256)] + [b"", b""]
        bits, acc, width, prev = 0, 0, 9, None
        for c in chunks:
            for b in c:
                acc, bits = (acc << 8) | b, bits + 8
                while bits >= width:
                    bits -= width
                    code, acc = acc >> bits, acc & ((1 << bits) - 1)
                    if code == 256:
                        table, width, prev = table[:258], 9, None
                        continue
                    if code == 257:
                        return
                    if prev is None:
                        entry = table[code] if code < len(table) else b""
                    else:
                        entry = table[code] if code < len(table) else prev + prev[:1]
                        if len(table) < 4096:
                            table.append(prev + entry[:1])
                    yield entry
                    prev = entry
                    if len(table) + 1 >= (1 << width) and width < 12:
                        width += 1

    def counted(stage, chunks):
        nonlocal total
        for out in stage(chunks):
            total += len(out)
            if total > budget:
                raise sniff.fail(
                    f"{name} expands to more than {budget / 1048576:,.0f} MB when its streams are "
                    "decompressed (the limit, pipeline.max_xlsx_uncompressed_mb); it cannot be read safely.",
                    "E_FILE_TOO_LARGE",
                )
            yield out

    def chain_of(data, start: int) -> list[str]:
        head = data[max(0, start - 4096):start]
        for boundary in (b"endobj", b"endstream"):  # the dictionary is this object's, not the last one's
            cut = head.rfind(boundary)
            if cut >= 0:
                head = head[cut + len(boundary):]
        found = list(filter_re.finditer(head))
        if not found:
            return ["flate"] if b"/Filter" in head else []  # an indirect /Filter: try Flate, as before
        out = []
        for raw in re.findall(rb"/([^\s/\[\]<>()]+)", found[-1].group(1)):
            if raw not in names:
                break  # an image codec (DCT, JPX, CCITT…): pdfminer hands it on undecoded
            out.append(names[raw])
        return out

    stages = {"flate": flate, "lzw": lzw, "ahx": ahx, "a85": a85, "rl": rl}
    total = 0
    with open(path, "rb") as fh:
        try:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file has no streams
            return
        with data:
            for m in stream_kw.finditer(data):
                chain = chain_of(data, m.start())
                if not chain:
                    continue
                stop = data.find(b"endstream", m.end())
                stop = len(data) if stop < 0 else stop
                chunks = (data[pos:min(pos + chunk, stop)] for pos in range(m.end(), stop, chunk))
                for stage in chain:
                    chunks = counted(stages[stage], chunks)
                try:
                    for _ in chunks:
                        pass
                except (zlib.error, ValueError, IndexError):
                    continue  # damaged data: pdfminer fails on it too, after at most what was counted


def load_pdf(path: Path, settings: PipelineSettings, original_name: str = "") -> Loaded:
    name = original_name or path.name
    check_inflation(path, settings.max_xlsx_uncompressed_bytes, name)
    pdf = _open(path, name)
    try:
        try:
            pages = pdf.pages
            n = len(pages)
        except Exception as exc:
            raise sniff.fail(f"{name} is a damaged PDF: its page tree cannot be read.", "E_PDF_DAMAGED") from exc
        if n > settings.max_pdf_pages:
            raise sniff.fail(
                f"{name} has {n:,} pages; the limit is {settings.max_pdf_pages:,}.", "E_TOO_MANY_PAGES"
            )
        if n == 0:
            raise sniff.fail(f"{name} has no pages.", "E_PDF_NO_TEXT")
        try:
            total_chars = sum(len(p.chars) for p in pages)
        except Exception as exc:
            raise sniff.fail(f"{name} is a damaged PDF: a page cannot be parsed ({type(exc).__name__}).", "E_PDF_DAMAGED") from exc
        if total_chars == 0:
            raise sniff.fail(
                f"{name} has no text layer (a scanned image?); export the gradebook as a text PDF, CSV or XLSX.",
                "E_PDF_NO_TEXT",
            )
        lookup = synonym_lookup(settings.synonyms)
        header, rows = _ruled(pages, lookup)
        layout = "ruled"
        if header is None:
            header, rows = _borderless(pages, lookup)
            layout = "borderless"
        if header is None:
            raise sniff.fail(
                f"{name} has text but no table with a header row was found on its {n} page(s).", "E_PDF_NO_TABLE"
            )
    finally:
        pdf.close()

    canonical = normalize_columns(header, settings.synonyms)
    id_pos = canonical.index("student_id") if "student_id" in canonical else 0
    rows = merge_continuations(rows, id_pos)
    width = len(header)
    if len(header) > settings.max_columns:
        raise sniff.fail(f"{name} has {width:,} columns; the limit is {settings.max_columns:,}.", "E_TOO_MANY_COLUMNS")
    if len(rows) > settings.max_rows:
        raise sniff.fail(f"{name} has more than {settings.max_rows:,} rows, the configured limit.", "E_TOO_MANY_ROWS")
    df = pd.DataFrame(
        {i: pd.Series([r.cells[i] if i < len(r.cells) else None for r in rows], dtype="str") for i in range(width)}
    )
    places = [(r.page, r.row) for r in rows]
    clean_frame(df)
    df, header = drop_unnamed_empty_columns(df, header)
    df = drop_empty(df)
    df.columns = normalize_columns(header, settings.synonyms)

    def locator(label, col=None, _p=places):
        page, row = _p[int(label)]
        return f"page {page} row {row}"

    info = {"format": "pdf", "pages": n, "layout": layout, "header_row": 1}
    return Loaded(df=df, kind="pdf", info=info, original_columns=list(header), locator=locator)


def _norm_cell(v) -> str:
    return " ".join(str(v).split()) if v is not None else ""


def _row_key(cells: list[str]) -> str:
    return "|".join(snake(c) for c in cells)


def _looks_header(cells: list[str], lookup: dict[str, str]) -> bool:
    filled = [c for c in cells if c]
    if len(filled) < 2 or any(_is_num(c) for c in filled):
        return False
    return True


def _ruled(pages, lookup) -> tuple[list[str] | None, list[Row]]:
    header: list[str] | None = None
    rows: list[Row] = []
    for pno, page in enumerate(pages, start=1):
        try:
            tables = page.extract_tables()
        except Exception:
            tables = []
        page_row = 0
        for table in tables:
            if not table or len(table) < 2 or max(len(r) for r in table) < 2:
                continue
            cells_rows = [[_norm_cell(c) for c in r] for r in table]
            start = 0
            if header is None:
                while start < len(cells_rows) and not _looks_header(cells_rows[start], lookup):
                    start += 1
                if start >= len(cells_rows):
                    continue
                header = cells_rows[start]
                start += 1
            elif _row_key(cells_rows[0]) == _row_key(header):
                start = 1  # header repeated on a later page
            for cells in cells_rows[start:]:
                if not any(cells):
                    continue
                page_row += 1
                rows.append(Row(cells + [""] * (len(header) - len(cells)), pno, page_row))
    return header, rows


def _lines(page) -> list[list[dict]]:
    words = page.extract_words(x_tolerance=1.5, y_tolerance=2, keep_blank_chars=False)
    words.sort(key=lambda w: (round(w["top"], 1), w["x0"]))
    lines: list[list[dict]] = []
    for w in words:
        if lines and abs(w["top"] - lines[-1][0]["top"]) <= max(2.0, 0.4 * (w["bottom"] - w["top"])):
            lines[-1].append(w)
        else:
            lines.append([w])
    for line in lines:
        line.sort(key=lambda w: w["x0"])
    return lines


def _segments(line: list[dict], gap: float) -> list[dict]:
    segs: list[dict] = []
    for w in line:
        if segs and w["x0"] - segs[-1]["x1"] <= gap:
            segs[-1]["text"] += " " + w["text"]
            segs[-1]["x1"] = w["x1"]
        else:
            segs.append({"text": w["text"], "x0": w["x0"], "x1": w["x1"]})
    return segs


def _borderless(pages, lookup) -> tuple[list[str] | None, list[Row]]:
    header: list[str] | None = None
    starts: list[float] = []
    rows: list[Row] = []
    for pno, page in enumerate(pages, start=1):
        lines = _lines(page)
        if not lines:
            continue
        heights = [w["bottom"] - w["top"] for line in lines for w in line]
        gap = 0.8 * statistics.median(heights) if heights else 6.0
        segs = [_segments(line, gap) for line in lines]
        begin = 0
        if header is None:
            idx = _find_text_header(segs, lookup)
            if idx is None:
                continue
            header = [s["text"] for s in segs[idx]]
            starts = [s["x0"] for s in segs[idx]]
            begin = idx + 1
        else:
            # a header repeated on this page: skip everything up to and including it
            key = _row_key(header)
            for i, line in enumerate(segs[:15]):
                if _row_key([s["text"] for s in line]) == key:
                    begin = i + 1
                    break
        page_row = 0
        for line, lsegs in zip(lines[begin:], segs[begin:]):
            text = " ".join(w["text"] for w in line)
            if _PAGE_FOOTER.match(text) or _NOTE.match(text):
                continue
            # running titles / notes: one segment spreading over several columns
            if len(lsegs) == 1 and _spans(lsegs[0], starts) >= 3:
                continue
            cells = [""] * len(starts)
            for w in line:
                col = 0
                for j, x in enumerate(starts):
                    if w["x0"] >= x - 2.0:
                        col = j
                cells[col] = (cells[col] + " " + w["text"]).strip()
            page_row += 1
            rows.append(Row(cells, pno, page_row))
    return header, rows


def _spans(seg: dict, starts: list[float]) -> int:
    return sum(1 for x in starts if seg["x0"] - 2 <= x <= seg["x1"])


def _find_text_header(segs: list[list[dict]], lookup) -> int | None:
    first = None
    for i, line in enumerate(segs[:60]):
        texts = [s["text"] for s in line]
        if len(texts) < 2 or any(_is_num(t) for t in texts):
            continue
        following = segs[i + 1 : i + 4]
        if not any(len(l) >= 2 for l in following):
            continue
        if any(lookup.get(snake(t)) in ("student_id", "name") for t in texts):
            return i
        if first is None:
            first = i
    return first


def merge_continuations(rows: list[Row], id_pos: int) -> list[Row]:
    """Join wrapped names and broken IDs onto the row they belong to."""
    out: list[Row] = []
    for r in rows:
        cells = r.cells
        if out:
            prev = out[-1].cells
            others = [c for i, c in enumerate(cells) if c and i != id_pos]
            id_cell = cells[id_pos] if id_pos < len(cells) else ""
            prev_id = prev[id_pos] if id_pos < len(prev) else ""
            broken_id = bool(prev_id) and prev_id[-1] in "/-" and bool(id_cell) and not any(
                _is_num(c) for c in others
            )
            wrapped = not id_cell and others and not any(_is_num(c) for c in others)
            if broken_id or wrapped:
                for i, c in enumerate(cells):
                    if not c or i >= len(prev):
                        continue
                    if i == id_pos and prev[i] and prev[i][-1] in "/-":
                        prev[i] = prev[i] + c
                    else:
                        prev[i] = (prev[i] + " " + c).strip()
                continue
        out.append(Row(list(cells), r.page, r.row))
    return out
