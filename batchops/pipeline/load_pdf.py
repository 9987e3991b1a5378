"""PDF -> DataFrame with pdfplumber: one table, the right one, or a coded refusal.

Each page gives table *fragments*: ruled tables (cell borders) from pdfplumber's
table finder; on pages without one, borderless tables read from word positions
(``pdf_borderless``: columns are the gaps empty in every row). ``pdf_tables``
turns fragments into tables (header rows, wrapped lines, pages continued only when
the header repeats or the column layout matches, spilled columns joined back) and
picks one: ``--table N``, else the one with the department's required columns,
else ``E_PDF_MANY_TABLES`` listing them. What the reader saw that makes a table
doubtful (rotated pages, lines reaching over columns, a guessed header) goes to
``Loaded.signals`` for the confidence gate.

Failures: encrypted -> ``E_PDF_ENCRYPTED``; unparsable -> ``E_PDF_DAMAGED``; no
text layer at all (scanned images) -> ``E_PDF_NO_TEXT``; text but no table ->
``E_PDF_NO_TABLE``; more pages than ``max_pdf_pages`` -> ``E_TOO_MANY_PAGES``.
Locations read "page P row R" (R counts the table rows on that page, header excluded).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from batchops.pipeline import pdf_borderless, pdf_ruled, pdf_tables, sniff
from batchops.pipeline.columns import normalize_columns
from batchops.pipeline.frame import (
    Loaded,
    clean_frame,
    drop_empty,
    drop_unnamed_empty_columns,
)
from batchops.pipeline.settings import PipelineSettings


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
        raise sniff.fail(
            f"{name} is a damaged PDF that cannot be read ({type(cause).__name__}).", "E_PDF_DAMAGED"
        ) from exc
    except Exception as exc:
        raise sniff.fail(
            f"{name} is a damaged PDF that cannot be read ({type(exc).__name__}).", "E_PDF_DAMAGED"
        ) from exc


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
    names = {
        b"Fl": "flate",
        b"FlateDecode": "flate",
        b"LZW": "lzw",
        b"LZWDecode": "lzw",
        b"AHx": "ahx",
        b"ASCIIHexDecode": "ahx",
        b"A85": "a85",
        b"ASCII85Decode": "a85",
        b"RL": "rl",
        b"RunLengthDecode": "rl",
    }

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
            carry = digits[len(digits) // 2 * 2 :]
            yield bytes.fromhex(digits[: len(digits) // 2 * 2].decode("latin-1"))
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
                        yield (value & 0xFFFFFFFF).to_bytes(4, "big")[: len(group) - 1]
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
        head = data[max(0, start - 4096) : start]
        for boundary in (b"endobj", b"endstream"):  # the dictionary is this object's, not the last one's
            cut = head.rfind(boundary)
            if cut >= 0:
                head = head[cut + len(boundary) :]
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
                chunks = (data[pos : min(pos + chunk, stop)] for pos in range(m.end(), stop, chunk))
                for stage in chain:
                    chunks = counted(stages[stage], chunks)
                try:
                    for _ in chunks:
                        pass
                except (zlib.error, ValueError, IndexError):
                    continue  # damaged data: pdfminer fails on it too, after at most what was counted


def load_pdf(
    path: Path,
    settings: PipelineSettings,
    original_name: str = "",
    *,
    table: int | None = None,
    department: str | None = None,
) -> Loaded:
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
            raise sniff.fail(f"{name} has {n:,} pages; the limit is {settings.max_pdf_pages:,}.", "E_TOO_MANY_PAGES")
        if n == 0:
            raise sniff.fail(f"{name} has no pages.", "E_PDF_NO_TEXT")
        try:
            total_chars = sum(len(p.chars) for p in pages)
        except Exception as exc:
            raise sniff.fail(
                f"{name} is a damaged PDF: a page cannot be parsed ({type(exc).__name__}).", "E_PDF_DAMAGED"
            ) from exc
        if settings.ocr == "always" or (total_chars == 0 and settings.ocr == "auto"):
            from batchops.pipeline.ocr_scan import load_scanned_pdf  # scans: OCR, then the readers below

            return load_scanned_pdf(path, n, settings, name)
        if total_chars == 0:
            raise sniff.fail(
                f"{name} has no text layer (a scanned image?); export the gradebook as a text PDF, CSV or XLSX.",
                "E_PDF_NO_TEXT",
            )
        frags, signals, marks = _fragments(pages)
    finally:
        pdf.close()
    tables = pdf_tables.assemble(frags, settings.synonyms)
    if not tables:
        raise sniff.fail(
            f"{name} has text but no table with a header row was found on its {n} page(s).", "E_PDF_NO_TABLE"
        )
    required = settings.required_columns(department)
    tables = pdf_tables.join_spilled(tables, settings.synonyms, required, name)
    chosen = pdf_tables.choose(tables, settings.synonyms, required, table, name)
    loaded = _frame(chosen, settings, name, n, len(tables), signals + chosen.signals)
    loaded.findings.extend(_footnote_findings(marks, chosen.pages))
    return loaded


def _fragments(pages) -> tuple[list, list[dict], list[dict]]:
    """Fragments of every page in reading order, page-level signals (rotated text) and the
    footnote marks taken out of numbers (superscripts)."""
    frags, signals, marks = [], [], []
    for pno, page in enumerate(pages, start=1):
        page, found = _without_footnote_marks(page, pno)
        marks.extend(found)
        chars = page.chars
        if chars and sum(1 for c in chars if not c.get("upright", True)) > len(chars) / 2:
            signals.append({"kind": "rotated_page", "page": pno, "text": "most text on the page is rotated"})
        ruled = pdf_ruled.page_fragments(page, pno)
        if ruled:
            frags.extend(ruled)
            continue
        words = page.extract_words(x_tolerance=1.5, y_tolerance=2, keep_blank_chars=False)
        frags.extend(pdf_borderless.page_fragments(words, pno, float(page.width)))
    return frags, signals, marks


def _without_footnote_marks(page, pno: int):
    """The page without superscript footnote marks that follow a number, and the marks taken out.

    ``24.91`` with a raised, smaller ``2`` after it is read by pdfplumber as ``24.912``: a different
    number, published with confidence. A run of characters clearly smaller than the digit before
    it, raised above its baseline and touching it is a footnote mark, not part of the value.
    """
    chars = page.chars
    sizes = sorted(float(c.get("size") or 0) for c in chars)
    if not sizes:
        return page, []
    body = sizes[len(sizes) // 2]
    small = sorted(
        (c for c in chars if str(c["text"]).strip() and float(c.get("size") or body) < 0.8 * body),
        key=lambda c: (round(float(c["bottom"])), float(c["x0"])),
    )
    by_right_edge: dict[int, list] = {}  # full-size digits by where they end: a mark starts there
    for d in chars:
        if d["text"].isdigit() and float(d.get("size") or 0) >= 0.9 * body:
            by_right_edge.setdefault(int(float(d["x1"])), []).append(d)
    reach = int(body) + 1
    marks: list[dict] = []
    taken: set[int] = set()
    for c in small:
        if id(c) in taken:
            continue
        x = int(float(c["x0"]))
        near = (d for edge in range(x - reach, x + reach + 1) for d in by_right_edge.get(edge, ()))
        base = next((d for d in near if _raised_after(d, c)), None)
        if base is None:
            continue
        run = [c]
        for nxt in small:  # the rest of a mark like "12" or "a)"
            if id(nxt) not in taken and nxt is not c and _continues_mark(run[-1], nxt):
                run.append(nxt)
        taken.update(id(x) for x in run)
        marks.append({"page": pno, "after": base, "chars": run})
    drop: set[tuple] = set()
    for mark in marks:
        drop.update(_char_key(c) for c in mark["chars"])
    if not drop:
        return page, []
    kept = page.filter(lambda obj: obj.get("object_type") != "char" or _char_key(obj) not in drop)
    return kept, [
        {"page": m["page"], "mark": "".join(c["text"] for c in m["chars"]), "top": float(m["after"]["top"])}
        for m in marks
    ]


def _raised_after(digit: dict, c: dict) -> bool:
    """``c`` touches the digit's right edge and sits raised above its baseline (a superscript)."""
    size = float(digit.get("size") or 0)
    return (
        -0.5 * size < float(c["x0"]) - float(digit["x1"]) < 0.3 * size
        and float(digit["top"]) - 0.2 * size < float(c["bottom"]) < float(digit["bottom"]) - 0.2 * size
    )


def _continues_mark(last: dict, c: dict) -> bool:
    return (
        abs(float(c.get("size") or 0) - float(last.get("size") or 0)) < 0.1
        and abs(float(c["bottom"]) - float(last["bottom"])) < 0.5
        and 0 <= float(c["x0"]) - float(last["x1"]) < 1.0
    )


def _char_key(c: dict) -> tuple:
    return round(float(c["x0"]), 2), round(float(c["top"]), 2), c["text"]


def _footnote_findings(marks: list[dict], pages) -> list[dict]:
    """One finding per footnote mark on the chosen table's pages (the value published without it)."""
    from batchops.pipeline.findings import finding

    wanted = set(pages or [])
    return [
        finding(
            "W_PDF_FOOTNOTE_MARK",
            f"A footnote mark {m['mark']!r} raised after a number on page {m['page']} "
            "was left out of the value (a superscript, not a digit of the number).",
            location=f"page {m['page']}",
        )
        for m in marks
        if not wanted or m["page"] in wanted
    ][:50]


def _frame(
    chosen: pdf_tables.PdfTable, settings: PipelineSettings, name: str, n_pages: int, n_tables: int, signals: list[dict]
) -> Loaded:
    header, rows = chosen.header, chosen.rows
    width = len(header)
    if width > settings.max_columns:
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

    info = {
        "format": "pdf",
        "pages": n_pages,
        "layout": chosen.layout,
        "header_row": 1,
        "tables_found": n_tables,
        "table_pages": chosen.pages,
    }
    loaded = Loaded(df=df, kind="pdf", info=info, original_columns=list(header), locator=locator)
    loaded.signals = signals + (
        [{"kind": "header_guessed", "page": chosen.pages[0], "text": "no header row: the first row stands in"}]
        if chosen.header_guessed
        else []
    )
    return loaded
