""".xls, .xlsb, .ods (and .xlsm) through the workbook loader: each publishes exactly what its
.xlsx twin publishes; each format's own ways to blow up are refused before calamine opens it."""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
import workbook_writers as ww

from batchops.errors import PipelineError
from batchops.pipeline import sniff
from batchops.pipeline.load_xlsx import load_xlsx
from batchops.pipeline.settings import PipelineSettings

WRITERS = {"xls": ww.write_xls, "ods": ww.write_ods, "xlsb": ww.write_xlsb}
# a budget of 2,599,974 cells (the floor): bombs stay small enough not to hurt if a guard failed
SMALL = PipelineSettings(max_xlsx_uncompressed_bytes=1 << 20)


@pytest.fixture(scope="module")
def roster_grid(samples_dir):
    return ww.grid_of(samples_dir / "roster_commerce.xlsx")


def _published_csv(run, path: Path, out: Path) -> bytes:
    res = run(path, plan="custom", out_dir=out)
    return res.csv_path.read_bytes()


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_format_publishes_exactly_what_its_xlsx_twin_publishes(fmt, roster_grid, samples_dir, tmp_path, run):
    twin = _published_csv(run, samples_dir / "roster_commerce.xlsx", tmp_path / "twin")
    converted = WRITERS[fmt](tmp_path / f"roster_commerce.{fmt}", roster_grid)
    assert sniff.detect_format(converted) == fmt
    res = run(converted, plan="custom", out_dir=tmp_path / fmt)
    assert res.csv_path.read_bytes() == twin
    assert res.summary["format"] == fmt and res.summary["sheet"] == "Term 1" and res.summary["header_row"] == 3
    assert res.rows_in == 60


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_values_as_the_file_holds_them(fmt, tmp_path, settings):
    rows = [
        ["Roll No", "Name", "Admission Date", "Fee Paid", "Maths"],
        ["007", "Asha", dt.datetime(2024, 6, 3), True, 91],
        ["0123", "Ravi", dt.datetime(2023, 7, 14), False, 78.5],
    ]
    if fmt == "xlsb":  # no styles part: a date is a plain number there
        rows = [r[:2] + r[3:] for r in rows]
    loaded = load_xlsx(WRITERS[fmt](tmp_path / f"v.{fmt}", [("Marks", rows)]), settings, fmt=fmt)
    twin = load_xlsx(ww.write_xlsx(tmp_path / "v.xlsx", [("Marks", rows)]), settings)
    assert loaded.df["student_id"].tolist() == ["007", "0123"]  # text stays text
    assert loaded.df["maths"].tolist() == [91, 78.5]
    assert loaded.df.astype(str).to_dict("list") == twin.df.astype(str).to_dict("list")
    if fmt != "xlsb":
        assert str(loaded.df["admission_date"].iloc[0]).startswith("2024-06-03")
    assert loaded.locator(loaded.df.index[1], 1) == "Marks!B3"


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_sheet_choice(fmt, roster_grid, tmp_path, settings):
    p = WRITERS[fmt](tmp_path / f"r.{fmt}", roster_grid)
    assert load_xlsx(p, settings, sheet="Term 1", fmt=fmt).info["sheet"] == "Term 1"
    with pytest.raises(PipelineError) as exc:
        load_xlsx(p, settings, sheet="Term 9", fmt=fmt)
    assert exc.value.code == "E_SHEET_NOT_FOUND" and "Term 1, Notes" in exc.value.message
    with pytest.raises(PipelineError) as exc:
        load_xlsx(p, settings, sheet="Notes", fmt=fmt)
    assert exc.value.code == "E_NO_TABLE"


def test_extension_lies_content_decides(roster_grid, tmp_path, run):
    for fmt, writer in WRITERS.items():
        p = writer(tmp_path / f"{fmt}.tmp", roster_grid)
        lying = p.rename(tmp_path / f"marks_from_{fmt}.csv")
        res = run(lying, plan="custom", out_dir=tmp_path / f"out_{fmt}")
        assert res.summary["format"] == fmt and res.rows_in == 60


def test_xlsm_is_read_as_xlsx(samples_dir, tmp_path, run):
    p = tmp_path / "roster.xlsm"
    shutil.copy(samples_dir / "roster_commerce.xlsx", p)
    assert run(p, plan="custom").rows_in == 60


# ---------------------------------------------------------------- guards, per format


def test_ods_repeated_value_bomb_is_refused(tmp_path):
    cell = '<table:table-cell table:number-columns-repeated="1000" office:value-type="float" office:value="1"/>'
    table = (
        '<table:table table:name="S"><table:table-row><table:table-cell office:value-type="string">'
        "<text:p>Roll No</text:p></table:table-cell></table:table-row>"
        f'<table:table-row table:number-rows-repeated="3000">{cell}</table:table-row></table:table>'
    )
    p = ww.write_ods_raw(tmp_path / "bomb.ods", ww.ods_content(table))
    with pytest.raises(PipelineError) as exc:
        load_xlsx(p, SMALL, fmt="ods")
    assert exc.value.code == "E_XLSX_TOO_LARGE" and "3,001 rows x 1,000 columns" in exc.value.message


def test_ods_styled_empty_rows_to_the_end_are_fine(tmp_path, settings):
    rows = "".join(
        "<table:table-row>" + ww._ods_cell(a) + ww._ods_cell(b) + "</table:table-row>"
        for a, b in [("Roll No", "Name"), ("001", "Asha"), ("002", "Ravi")]
    )
    empty = (
        '<table:table-row table:number-rows-repeated="1048573"><table:table-cell table:style-name="ce1" '
        'table:number-columns-repeated="16384"/></table:table-row>'
    )
    p = ww.write_ods_raw(
        tmp_path / "styled.ods", ww.ods_content(f'<table:table table:name="S">{rows}{empty}</table:table>')
    )
    assert load_xlsx(p, settings, fmt="ods").df["student_id"].tolist() == ["001", "002"]


def test_ods_zip_bomb_and_encryption(tmp_path, roster_grid):
    p = ww.write_ods(tmp_path / "r.ods", roster_grid)
    with pytest.raises(PipelineError) as exc:
        load_xlsx(p, PipelineSettings(max_xlsx_uncompressed_bytes=1000), fmt="ods")
    assert exc.value.code == "E_XLSX_TOO_LARGE"
    locked = ww.write_ods_raw(tmp_path / "locked.ods", b"\x8f\x00 encrypted bytes", encrypted=True)
    assert sniff.detect_format(locked) == "ods"
    with pytest.raises(PipelineError) as exc:
        load_xlsx(locked, PipelineSettings(), fmt="ods")
    assert exc.value.code == "E_WORKBOOK_ENCRYPTED"


def test_xls_far_value_refused_far_style_fine(tmp_path, settings):
    xlwt = pytest.importorskip("xlwt")
    wb = xlwt.Workbook()
    ws = wb.add_sheet("S", cell_overwrite_ok=True)
    for c, v in enumerate(["Roll No", "Name"]):
        ws.write(0, c, v)
    ws.write(1, 0, "001")
    ws.write(1, 1, "Asha")
    ws.write(65535, 255, None, xlwt.easyxf("pattern: pattern solid, fore_colour yellow"))  # a style only
    wb.save(str(tmp_path / "styled.xls"))
    assert load_xlsx(tmp_path / "styled.xls", settings, fmt="xls").df["name"].tolist() == ["Asha"]
    ws.write(65535, 255, "x")
    wb.save(str(tmp_path / "far.xls"))
    with pytest.raises(PipelineError) as exc:
        load_xlsx(tmp_path / "far.xls", settings, fmt="xls")
    assert exc.value.code == "E_XLSX_TOO_LARGE" and "65,536 rows x 256 columns" in exc.value.message


def test_xls_with_a_password_is_encrypted_not_corrupt(tmp_path, roster_grid):
    xlwt = pytest.importorskip("xlwt")
    from xlwt.CompoundDoc import XlsDoc

    wb = xlwt.Workbook()
    wb.add_sheet("S").write(0, 0, "Roll No")
    biff = wb.get_biff_data()
    bof_len = struct.unpack_from("<H", biff, 2)[0] + 4
    filepass = struct.pack("<HHH", 0x002F, 2, 0)  # FILEPASS: the rest of the stream is encrypted
    XlsDoc().save(str(tmp_path / "locked.xls"), biff[:bof_len] + filepass + biff[bof_len:])
    with pytest.raises(PipelineError) as exc:
        sniff.detect_format(tmp_path / "locked.xls")
    assert exc.value.code == "E_WORKBOOK_ENCRYPTED"


def test_xlsb_far_value_refused_far_blank_fine(tmp_path, settings):
    body = ww.xlsb_row(0) + ww.xlsb_cell(0, "Roll No") + ww.xlsb_cell(1, "Name")
    body += ww.xlsb_row(1) + ww.xlsb_cell(0, "001") + ww.xlsb_cell(1, "Asha")
    blank = ww.xlsb_row(1048575) + ww.record(0x01, struct.pack("<II", 16383, 0))  # BrtCellBlank: a style
    p = ww.write_xlsb_raw(tmp_path / "blank.xlsb", [("S", body + blank)])
    assert load_xlsx(p, settings, fmt="xlsb").df["name"].tolist() == ["Asha"]
    far = ww.xlsb_row(3000) + ww.xlsb_cell(999, 1.0)
    p = ww.write_xlsb_raw(tmp_path / "far.xlsb", [("S", body + far)])
    with pytest.raises(PipelineError) as exc:
        load_xlsx(p, SMALL, fmt="xlsb")
    assert exc.value.code == "E_XLSX_TOO_LARGE" and "3,001 rows x 1,000 columns" in exc.value.message


def test_encrypted_xlsb_is_encrypted(tmp_path, roster_grid):
    pytest.importorskip("msoffcrypto")
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = ww.write_xlsb(tmp_path / "r.xlsb", roster_grid)
    with open(plain, "rb") as src, open(tmp_path / "locked.xlsb", "wb") as dst:
        OOXMLFile(src).encrypt("pw", dst)
    with pytest.raises(PipelineError) as exc:
        sniff.detect_format(tmp_path / "locked.xlsb")
    assert exc.value.code == "E_WORKBOOK_ENCRYPTED"


def test_zip_that_is_not_a_spreadsheet(tmp_path):
    p = tmp_path / "letter.odt"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(PipelineError) as exc:
        sniff.detect_format(p)
    assert exc.value.code == "E_UNSUPPORTED_FORMAT"


# ---------------------------------------------------------------- LibreOffice's own files (where installed)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_libreoffice_conversion_publishes_like_the_twin(fmt, samples_dir, tmp_path, run):
    src = tmp_path / "roster_commerce.xlsx"
    shutil.copy(samples_dir / "roster_commerce.xlsx", src)
    subprocess.run(
        [
            "soffice",
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--convert-to",
            fmt,
            "--outdir",
            str(tmp_path / "lo_out"),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    converted = tmp_path / "lo_out" / f"roster_commerce.{fmt}"
    twin = _published_csv(run, src, tmp_path / "twin")
    assert _published_csv(run, converted, tmp_path / fmt) == twin
