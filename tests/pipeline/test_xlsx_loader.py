"""XLSX loading: header detection, sheet choice, trailing notes, zip limits."""

from __future__ import annotations

import zipfile

import openpyxl
import pytest

from batchops.errors import PipelineError
from batchops.pipeline.load_xlsx import load_xlsx
from batchops.pipeline.settings import PipelineSettings


def test_commerce_sample(samples_dir, expected, settings):
    loaded = load_xlsx(samples_dir / "roster_commerce.xlsx", settings)
    exp = expected["roster_commerce.xlsx"]
    assert len(loaded.df) == exp["rows"] == 60
    assert loaded.info["sheet"] == exp["sheet"]
    assert loaded.info["header_row"] == exp["header_row"]
    assert loaded.original_columns[:2] == ["Roll No", "Name"]
    df = loaded.df
    assert list(df.columns) == [
        "student_id",
        "name",
        "class",
        "accountancy",
        "economics",
        "business_studies",
        "english",
    ]
    assert df["student_id"].iloc[0] == "COM001" and df["student_id"].iloc[-1] == "COM060"
    assert df["name"].iloc[0] == "Diya D'Souza"
    assert df["accountancy"].iloc[0] == 95
    assert loaded.locator(df.index[0], 3) == "Term 1!D4"


def _book(tmp_path, build) -> object:
    wb = openpyxl.Workbook()
    build(wb)
    p = tmp_path / "book.xlsx"
    wb.save(p)
    return p


def test_first_sheet_with_a_table_and_totals_row(tmp_path, settings):
    def build(wb):
        cover = wb.active
        cover.title = "Cover"
        cover["A1"] = "Marks register"
        ws = wb.create_sheet("Data")
        ws.merge_cells("B1:E1")
        ws["B1"] = "Class XI - Term 2"
        ws.append([])
        ws["B3"], ws["C3"], ws["D3"] = "Reg. No.", "Candidate Name", "Maths"
        for i in range(1, 5):
            ws.append([None, f"{i:03d}", f"Student {i}", 50 + i])
        ws.append([])
        ws.append([None, "Total", None, 210])
        ws.append([None, "Note: provisional"])

    loaded = load_xlsx(_book(tmp_path, build), settings)
    assert loaded.info["sheet"] == "Data" and loaded.info["header_row"] == 3
    assert loaded.df["student_id"].tolist() == ["001", "002", "003", "004"]
    assert loaded.df["maths"].tolist() == [51, 52, 53, 54]
    assert loaded.locator(loaded.df.index[1], 2) == "Data!D5"


def test_sheet_argument(tmp_path, settings):
    def build(wb):
        a = wb.active
        a.title = "A"
        a.append(["id", "name"])
        a.append(["1", "x"])
        b = wb.create_sheet("B")
        b.append(["id", "name"])
        b.append(["2", "y"])

    p = _book(tmp_path, build)
    assert load_xlsx(p, settings, sheet="B").df["student_id"].tolist() == ["2"]
    with pytest.raises(PipelineError) as exc:
        load_xlsx(p, settings, sheet="Nope")
    assert exc.value.code == "E_SHEET_NOT_FOUND"


def test_truncated_sample(samples_dir, settings):
    with pytest.raises(PipelineError) as exc:
        load_xlsx(samples_dir / "broken" / "truncated.xlsx", settings)
    assert exc.value.code == "E_XLSX_UNREADABLE"


def test_zip_bomb_limit(samples_dir, tmp_path):
    with pytest.raises(PipelineError) as exc:
        load_xlsx(samples_dir / "roster_commerce.xlsx", PipelineSettings(max_xlsx_uncompressed_bytes=1000))
    assert exc.value.code == "E_XLSX_TOO_LARGE"


def test_corrupt_member(tmp_path, samples_dir, settings):
    src = samples_dir / "roster_commerce.xlsx"
    dst = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = b"<worksheet><sheetData><row"  # broken XML
            zout.writestr(item, data)
    with pytest.raises(PipelineError) as exc:
        load_xlsx(dst, settings)
    assert exc.value.code in ("E_XLSX_UNREADABLE", "E_NO_TABLE")


def test_workbook_without_table(tmp_path, settings):
    def build(wb):
        wb.active["A1"] = "only a note"

    with pytest.raises(PipelineError) as exc:
        load_xlsx(_book(tmp_path, build), settings)
    assert exc.value.code == "E_NO_TABLE"
