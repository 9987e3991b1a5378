"""A small PDF writer for the reports: text, cells, lines and filled rectangles on A4 pages.

It implements the part of fpdf2's API the report uses (same names, same units and
the same cell geometry), so the layout code reads as before. Why not fpdf2 itself:
importing it costs ~0.3-0.5 s (fontTools, Pillow, cryptography, SVG, signing) and
parsing plus subsetting a TTF with fontTools another ~0.25-0.5 s: more than the whole
pipeline on a small file. Here the core fonts need no font file and DejaVu Sans is
read with ``struct`` (batchops.pipeline.pdf_truetype).

Text in the core fonts is Windows-1252 (/WinAnsiEncoding); text in a TrueType font is
written as glyph ids (Identity-H) with a ToUnicode map, so it copies and extracts as
the characters it shows. Characters the font lacks are listed in ``missing_glyphs``.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timezone

from batchops.pipeline import pdf_core_metrics

K = 72 / 25.4  # points per mm
A4 = (595.28, 841.89)  # points, as fpdf2 has it
BLACK = (0, 0, 0)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").replace("\r", "\\r")


def _color(rgb: tuple[int, int, int], op: str) -> str:
    """A colour operator: ``rg`` fills (and text), ``RG`` strokes; greys in the short form."""
    r, g, b = rgb
    if r == g == b:
        return f"{r / 255:.3f} {'g' if op == 'rg' else 'G'}"
    return f"{r / 255:.3f} {g / 255:.3f} {b / 255:.3f} {op}"


class _CoreFont:
    def __init__(self, index: int, name: str, widths: tuple[int, ...]):
        self.index, self.name, self.widths = index, name, widths

    def width(self, text: str) -> int:
        w = self.widths
        return sum(w[b] for b in text.encode("cp1252", errors="replace"))

    def encode(self, text: str, doc: PdfDocument) -> str:
        return "(" + _escape(text.encode("cp1252", errors="replace").decode("latin-1")) + ")"


class _TrueTypeFont:
    def __init__(self, index: int, name: str, path: str):
        from batchops.pipeline import pdf_truetype

        self.index, self.name = index, name
        self.ttf = pdf_truetype.load(path)
        self.used: dict[int, str] = {}  # glyph id -> the character it was drawn for

    def width(self, text: str) -> int:
        glyph, widths = self.ttf.glyph, self.ttf.widths
        return sum(widths[glyph(ch)] for ch in text)

    def encode(self, text: str, doc: PdfDocument) -> str:
        glyph, used = self.ttf.glyph, self.used
        out = []
        for ch in text:
            gid = glyph(ch)
            if gid == 0 and not ch.isspace():
                doc.missing_glyphs.append(ch)
            used.setdefault(gid, ch)
            out.append(f"{gid:04X}")
        return "<" + "".join(out) + ">"


class _Page:
    def __init__(self, orientation: str):
        self.orientation = orientation
        self.w_pt, self.h_pt = A4 if orientation == "P" else (A4[1], A4[0])
        self.content: list[str] = []


class PdfDocument:
    """An fpdf2-like document in millimetres; subclass and override ``header``/``footer``."""

    def __init__(self, orientation: str = "P"):
        self.k = K
        self.def_orientation = orientation[0].upper()
        margin = 28.35 / K  # 1 cm, as fpdf2
        self.l_margin = self.t_margin = self.r_margin = margin
        self.c_margin = margin / 10  # the padding left and right of a cell's text
        self.b_margin = 2 * margin
        self.auto_page_break = True
        self.line_width = 0.567 / K  # 0.2 mm
        self.pages: list[_Page] = []
        self.page = 0
        self.w, self.h = (A4[0] / K, A4[1] / K) if self.def_orientation == "P" else (A4[1] / K, A4[0] / K)
        self.page_break_trigger = self.h - self.b_margin
        self.x, self.y, self.lasth = self.l_margin, self.t_margin, 0.0
        self.in_footer = False
        self.font_files: dict[str, str] = {}  # "dejavu" / "dejavuB" -> TTF path
        self.fonts: dict[str, _CoreFont | _TrueTypeFont] = {}
        self.font: _CoreFont | _TrueTypeFont | None = None
        self.font_size_pt = 12.0
        self.font_size = 12.0 / K
        self.text_color = self.fill_color = self.draw_color = BLACK
        self.title = self.author = ""
        self.missing_glyphs: list[str] = []

    # -- hooks and document settings

    def header(self) -> None:
        pass

    def footer(self) -> None:
        pass

    def set_title(self, title: str) -> None:
        self.title = title

    def set_author(self, author: str) -> None:
        self.author = author

    def set_auto_page_break(self, auto: bool, margin: float = 2 * 28.35 / K) -> None:
        self.auto_page_break, self.b_margin = auto, margin
        self.page_break_trigger = self.h - margin

    def alias_nb_pages(self) -> None:
        """``{nb}`` in a footer is the page count (footers are drawn when the document is complete)."""

    def add_font(self, family: str, style: str, path: str) -> None:
        self.font_files[family.lower() + style.upper()] = path

    @property
    def epw(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def page_no(self) -> int:
        return self.page

    def get_y(self) -> float:
        return self.y

    def get_x(self) -> float:
        return self.x

    def set_y(self, y: float) -> None:
        self.x = self.l_margin
        self.y = y if y >= 0 else self.h + y

    def will_page_break(self, height: float) -> bool:
        return self.y + height > self.page_break_trigger and not self.in_footer and self.auto_page_break

    # -- state

    def _out(self, op: str) -> None:
        self.pages[self.page - 1].content.append(op)

    def set_font(self, family: str, style: str = "", size: float = 0) -> None:
        key = family.lower() + style.upper()
        font = self.fonts.get(key)
        if font is None:
            index = len(self.fonts) + 1
            if key in self.font_files:
                font = _TrueTypeFont(index, f"{family}{'-Bold' if 'B' in style.upper() else ''}", self.font_files[key])
            elif family.lower() in ("helvetica", "arial"):
                bold = "B" in style.upper()
                font = _CoreFont(index, "Helvetica-Bold" if bold else "Helvetica",
                                 pdf_core_metrics.HELVETICA_BOLD if bold else pdf_core_metrics.HELVETICA)
            else:
                raise ValueError(f"undefined font {family!r} {style!r}: add_font it first")
            self.fonts[key] = font
        self.font = font
        if size:
            self.font_size_pt = float(size)
            self.font_size = size / K

    def set_text_color(self, r: int, g: int, b: int) -> None:
        self.text_color = (r, g, b)

    def set_fill_color(self, r: int, g: int, b: int) -> None:
        self.fill_color = (r, g, b)
        if self.page:
            self._out(_color(self.fill_color, "rg"))

    def set_draw_color(self, r: int, g: int, b: int) -> None:
        self.draw_color = (r, g, b)
        if self.page:
            self._out(_color(self.draw_color, "RG"))

    def set_line_width(self, width: float) -> None:
        self.line_width = width
        if self.page:
            self._out(f"{width * K:.2f} w")

    def get_string_width(self, text: str) -> float:
        assert self.font is not None, "set_font first"
        return self.font.width(text) * self.font_size_pt / 1000 / K

    # -- pages

    def add_page(self, orientation: str = "") -> None:
        saved = (self.font, self.font_size_pt, self.text_color, self.fill_color, self.draw_color, self.line_width)
        page = _Page((orientation or self.def_orientation)[0].upper())
        self.pages.append(page)
        self.page = len(self.pages)
        self.w, self.h = page.w_pt / K, page.h_pt / K
        self.page_break_trigger = self.h - self.b_margin
        self.x, self.y = self.l_margin, self.t_margin
        self._out(f"{self.line_width * K:.2f} w")
        if self.draw_color != BLACK:
            self._out(_color(self.draw_color, "RG"))
        if self.fill_color != BLACK:
            self._out(_color(self.fill_color, "rg"))
        self.header()
        font, size, self.text_color, fill, draw, width = saved
        if font is not None:
            self.font, self.font_size_pt, self.font_size = font, size, size / K
        if fill != self.fill_color:
            self.set_fill_color(*fill)
        if draw != self.draw_color:
            self.set_draw_color(*draw)
        if width != self.line_width:
            self.set_line_width(width)

    # -- drawing

    def _text_op(self, x: float, y: float, text: str) -> str:
        """Text with its baseline origin at (x, y), in the text colour."""
        assert self.font is not None, "set_font first"
        op = (f"BT /F{self.font.index} {self.font_size_pt:.2f} Tf {x * K:.2f} {(self.h - y) * K:.2f} Td "
              f"{self.font.encode(text, self)} Tj ET")
        if self.text_color != self.fill_color:
            op = f"q {_color(self.text_color, 'rg')} {op} Q"
        return op

    def text(self, x: float, y: float, text: str) -> None:
        self._out(self._text_op(x, y, text))

    def rect(self, x: float, y: float, w: float, h: float, style: str = "") -> None:
        op = {"F": "f", "FD": "B", "DF": "B"}.get(style.upper(), "S")
        self._out(f"{x * K:.2f} {(self.h - y) * K:.2f} {w * K:.2f} {-h * K:.2f} re {op}")

    def line(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self._out(f"{x1 * K:.2f} {(self.h - y1) * K:.2f} m {x2 * K:.2f} {(self.h - y2) * K:.2f} l S")

    def ln(self, h: float | None = None) -> None:
        self.x = self.l_margin
        self.y += self.lasth if h is None else h

    def cell(self, w: float, h: float, text: str = "", border: int = 0, fill: bool = False, align: str = "L",
             new_x: str = "RIGHT", new_y: str = "TOP") -> None:
        """A box of ``w`` x ``h`` at the current position with one line of text (fpdf2's geometry)."""
        if self.will_page_break(h):
            x = self.x
            self.add_page(self.pages[self.page - 1].orientation)
            self.x = x
        if w == 0:
            w = self.w - self.r_margin - self.x
        if fill or border:
            self.rect(self.x, self.y, w, h, "FD" if fill and border else ("F" if fill else ""))
        if text:
            if self.in_footer and "{nb}" in text:
                text = text.replace("{nb}", str(len(self.pages)))
            tw = self.get_string_width(text)
            dx = {"R": w - self.c_margin - tw, "C": (w - tw) / 2}.get(align, self.c_margin)
            self._out(self._text_op(self.x + dx, self.y + 0.5 * h + 0.3 * self.font_size, text))
        self.lasth = h
        if new_y == "NEXT":
            self.y += h
        if new_x == "LMARGIN":
            self.x = self.l_margin
        elif new_x == "RIGHT":
            self.x += w

    def multi_cell(self, w: float, h: float, text: str, new_x: str = "RIGHT", new_y: str = "NEXT") -> None:
        """Text wrapped at spaces (a word wider than the box is cut) into lines of height ``h``."""
        if w == 0:
            w = self.w - self.r_margin - self.x
        x0 = self.x
        lines = [line for para in text.split("\n") for line in self._wrap(para, w - 2 * self.c_margin)]
        for line in lines:
            self.x = x0
            self.cell(w, h, line, new_x="LEFT", new_y="NEXT")
        if new_y != "NEXT":
            self.y -= h
        self.x = self.l_margin if new_x == "LMARGIN" else (x0 + w if new_x == "RIGHT" else x0)

    def _wrap(self, text: str, room: float) -> list[str]:
        measure = self.get_string_width
        lines, cur = [], ""
        for word in text.split(" "):
            trial = f"{cur} {word}" if cur else word
            if measure(trial) <= room:
                cur = trial
                continue
            if cur:
                lines.append(cur)
            while measure(word) > room and len(word) > 1:  # a word wider than the box: cut it
                cut = max(1, next((n for n in range(len(word), 0, -1) if measure(word[:n]) <= room), 1))
                lines.append(word[:cut])
                word = word[cut:]
            cur = word
        lines.append(cur)
        return lines

    # -- output

    def output(self) -> bytes:
        """The finished document (footers are drawn now, when the page count is known)."""
        self.in_footer = True
        for n in range(1, len(self.pages) + 1):
            self.page = n
            page = self.pages[n - 1]
            self.w, self.h = page.w_pt / K, page.h_pt / K
            self.text_color = BLACK
            self.footer()
        self.in_footer = False
        return _Writer(self).render()


class _Writer:
    """Objects, cross-reference table and trailer."""

    def __init__(self, doc: PdfDocument):
        self.doc = doc
        self.chunks: list[bytes] = [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"]
        self.size = len(self.chunks[0])
        self.offsets: dict[int, int] = {}
        self.count = 0

    def _reserve(self) -> int:
        self.count += 1
        return self.count

    def _put(self, num: int, body: bytes | str, stream: bytes | None = None) -> None:
        self.offsets[num] = self.size
        if isinstance(body, str):
            body = body.encode("latin-1")
        data = b"%d 0 obj\n" % num + body
        if stream is not None:
            data += b"\nstream\n" + stream + b"\nendstream"
        data += b"\nendobj\n"
        self.chunks.append(data)
        self.size += len(data)

    def _stream(self, num: int, data: bytes, extra: str = "") -> None:
        packed = zlib.compress(data)
        self._put(num, f"<< /Filter /FlateDecode /Length {len(packed)}{extra} >>", packed)

    def render(self) -> bytes:
        doc = self.doc
        pages_id = self._reserve()
        resources_id = self._reserve()
        page_ids = []
        for page in doc.pages:
            page_id, content_id = self._reserve(), self._reserve()
            page_ids.append(page_id)
            self._put(page_id, f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {page.w_pt:.2f} {page.h_pt:.2f}] "
                               f"/Resources {resources_id} 0 R /Contents {content_id} 0 R >>")
            self._stream(content_id, "\n".join(page.content).encode("latin-1"))
        kids = " ".join(f"{p} 0 R" for p in page_ids)
        self._put(pages_id, f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>")
        font_refs = " ".join(f"/F{f.index} {self._font(f)} 0 R" for f in doc.fonts.values())
        self._put(resources_id, f"<< /ProcSet [/PDF /Text] /Font << {font_refs} >> >>")
        info_id = self._reserve()
        stamp = datetime.now(timezone.utc).strftime("D:%Y%m%d%H%M%SZ")
        self._put(info_id, f"<< /Title {_pdf_string(doc.title)} /Author {_pdf_string(doc.author)} "
                           f"/Producer (BatchOps) /CreationDate ({stamp}) >>")
        catalog_id = self._reserve()
        self._put(catalog_id, f"<< /Type /Catalog /Pages {pages_id} 0 R >>")
        xref_at = self.size
        xref = [f"xref\n0 {self.count + 1}\n0000000000 65535 f \n"]
        xref += [f"{self.offsets[i]:010d} 00000 n \n" for i in range(1, self.count + 1)]
        xref.append(f"trailer\n<< /Size {self.count + 1} /Root {catalog_id} 0 R /Info {info_id} 0 R >>\n"
                    f"startxref\n{xref_at}\n%%EOF\n")
        self.chunks.append("".join(xref).encode("latin-1"))
        return b"".join(self.chunks)

    def _font(self, font: _CoreFont | _TrueTypeFont) -> int:
        num = self._reserve()
        if isinstance(font, _CoreFont):
            self._put(num, f"<< /Type /Font /Subtype /Type1 /BaseFont /{font.name} /Encoding /WinAnsiEncoding >>")
            return num
        ttf, used = font.ttf, font.used
        tag = "".join(chr(65 + (font.index * 7 + i * 3) % 26) for i in range(6))  # a subset's name prefix
        name = f"{tag}+{font.name}"
        cid, desc, file_id, cmap_id = self._reserve(), self._reserve(), self._reserve(), self._reserve()
        self._put(num, f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
                       f"/DescendantFonts [{cid} 0 R] /ToUnicode {cmap_id} 0 R >>")
        widths = " ".join(f"{g} [{ttf.widths[g]}]" for g in sorted(used))
        self._put(cid, f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
                       f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                       f"/FontDescriptor {desc} 0 R /DW {ttf.widths[0]} /W [{widths}] /CIDToGIDMap /Identity >>")
        scale = 1000 / ttf.units
        bbox = " ".join(str(round(v * scale)) for v in ttf.bbox)
        self._put(desc, f"<< /Type /FontDescriptor /FontName /{name} /Flags 32 /FontBBox [{bbox}] "
                        f"/ItalicAngle {ttf.italic_angle:g} /Ascent {round(ttf.ascent * scale)} "
                        f"/Descent {round(ttf.descent * scale)} /CapHeight {round(ttf.cap_height * scale)} "
                        f"/StemV {120 if 'Bold' in font.name else 80} /MissingWidth {ttf.widths[0]} "
                        f"/FontFile2 {file_id} 0 R >>")
        data = ttf.subset(set(used))
        self._stream(file_id, data, f" /Length1 {len(data)}")
        self._stream(cmap_id, _to_unicode(used).encode("latin-1"))
        return num


def _pdf_string(text: str) -> str:
    if text.isascii():
        return "(" + _escape(text) + ")"
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def _to_unicode(used: dict[int, str]) -> str:
    entries = [f"<{g:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for g, ch in sorted(used.items()) if g]
    blocks = []
    for i in range(0, len(entries), 100):  # at most 100 entries per bfchar block
        chunk = entries[i : i + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            + "\n".join(blocks) + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
