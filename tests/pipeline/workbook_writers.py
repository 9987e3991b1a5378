"""Write the same grid of values as .xls, .ods and .xlsb, so a test can hold each format
against its .xlsx twin without LibreOffice (which cannot write .xlsb anyway).

A grid is ``[(sheet name, rows)]`` with cell values str, int, float, bool, datetime or None.
.xls goes through xlwt (the test extra); .ods and .xlsb are written here, byte for byte, with
only the parts calamine needs (an .xlsb keeps dates as plain numbers: no styles part).
"""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

Grid = list[tuple[str, list[list]]]


def grid_of(xlsx: Path) -> Grid:
    import openpyxl

    wb = openpyxl.load_workbook(xlsx, data_only=True)
    return [(ws.title, [list(r) for r in ws.iter_rows(values_only=True)]) for ws in wb]


def write_xlsx(path: Path, grid: Grid) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in grid:
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def write_xls(path: Path, grid: Grid) -> Path:
    import xlwt

    wb = xlwt.Workbook()
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for name, rows in grid:
        ws = wb.add_sheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, (dt.date, dt.datetime)):
                    ws.write(r, c, v, date_style)
                else:
                    ws.write(r, c, v)
    wb.save(str(path))
    return path


# ---------------------------------------------------------------- .ods

_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"'
)
_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "{extra}</manifest:manifest>"
)


def _ods_cell(v) -> str:
    if v is None:
        return "<table:table-cell/>"
    if isinstance(v, bool):
        return (
            f'<table:table-cell office:value-type="boolean" office:boolean-value="{str(v).lower()}">'
            f"<text:p>{str(v).upper()}</text:p></table:table-cell>"
        )
    if isinstance(v, (int, float)):
        return (
            f'<table:table-cell office:value-type="float" office:value="{v!r}"><text:p>{v}</text:p></table:table-cell>'
        )
    if isinstance(v, (dt.date, dt.datetime)):
        return (
            f'<table:table-cell office:value-type="date" office:date-value="{v.isoformat()}">'
            f"<text:p>{v.isoformat()}</text:p></table:table-cell>"
        )
    return f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p></table:table-cell>'


def ods_content(tables: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS}><office:body>'
        f"<office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"
    ).encode()


def write_ods_raw(path: Path, content: bytes, encrypted: bool = False) -> Path:
    extra = (
        (
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
            '<manifest:encryption-data manifest:checksum-type="SHA1" manifest:checksum="x"/>'
            "</manifest:file-entry>"
        )
        if encrypted
        else ""
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")  # stored, first
        zf.writestr("content.xml", content)
        zf.writestr("META-INF/manifest.xml", _MANIFEST.format(extra=extra))
    return path


def write_ods(path: Path, grid: Grid) -> Path:
    tables = "".join(
        f"<table:table table:name={quoteattr(name)}>"
        + "".join("<table:table-row>" + "".join(_ods_cell(v) for v in row) + "</table:table-row>" for row in rows)
        + "</table:table>"
        for name, rows in grid
    )
    return write_ods_raw(path, ods_content(tables))


# ---------------------------------------------------------------- .xlsb (BIFF12)


def _varint(n: int, limit: int) -> bytes:
    out = bytearray()
    for _ in range(limit):
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            break
    return bytes(out)


def record(rtype: int, data: bytes = b"") -> bytes:
    return _varint(rtype, 2) + _varint(len(data), 4) + data


def _wide(s: str) -> bytes:
    return struct.pack("<I", len(s)) + s.encode("utf-16-le")


_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def xlsb_cell(col: int, v) -> bytes:
    head = struct.pack("<II", col, 0)
    if isinstance(v, bool):
        return record(0x04, head + bytes([int(v)]))
    if isinstance(v, (int, float)):
        return record(0x05, head + struct.pack("<d", float(v)))
    if isinstance(v, (dt.date, dt.datetime)):
        d = v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time())
        return record(0x05, head + struct.pack("<d", (d - _EXCEL_EPOCH).total_seconds() / 86400))
    return record(0x06, head + _wide(str(v)))


def xlsb_row(r: int) -> bytes:
    return record(0x00, struct.pack("<IIHBBBI", r, 0, 300, 0, 0, 0, 0))


def xlsb_sheet(body: bytes, dim: tuple[int, int, int, int] = (0, 0, 0, 0)) -> bytes:
    """BrtBeginSheet, BrtWsDim (calamine needs one; its numbers are the file's claim only), the data."""
    return record(0x81) + record(0x94, struct.pack("<IIII", *dim)) + record(0x91) + body + record(0x92) + record(0x82)


def write_xlsb_raw(path: Path, sheets: list[tuple[str, bytes]]) -> Path:
    """``sheets``: (name, BIFF12 records between BrtBeginSheetData and BrtEndSheetData)."""
    book = record(0x83) + record(0x8F)
    rels = ""
    for i, (name, _) in enumerate(sheets, start=1):
        book += record(0x9C, struct.pack("<II", 0, i) + _wide(f"rId{i}") + _wide(name))
        rels += (
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'relationships/worksheet" Target="worksheets/sheet{i}.bin"/>'
        )
    book += record(0x90) + record(0x84)
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.bin" ContentType="application/vnd.ms-excel.worksheet"/>'
        for i in range(1, len(sheets) + 1)
    )
    types = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/>'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.bin"/></Relationships>'
    )
    wb_rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        f'package/2006/relationships">{rels}</Relationships>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", types)
        zf.writestr("_rels/.rels", root_rels)
        zf.writestr("xl/workbook.bin", book)
        zf.writestr("xl/_rels/workbook.bin.rels", wb_rels)
        for i, (_, body) in enumerate(sheets, start=1):
            zf.writestr(f"xl/worksheets/sheet{i}.bin", xlsb_sheet(body))
    return path


def write_xlsb(path: Path, grid: Grid) -> Path:
    sheets = []
    for name, rows in grid:
        body = b""
        for r, row in enumerate(rows):
            if all(v is None for v in row):
                continue
            body += xlsb_row(r) + b"".join(xlsb_cell(c, v) for c, v in enumerate(row) if v is not None)
        sheets.append((name, body))
    return write_xlsb_raw(path, sheets)
