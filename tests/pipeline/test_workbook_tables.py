"""Workbook shapes that once published wrong or were refused wrongly: two-row headers, styled
empty cells out to XFD1048576, password-protected files, several tables on one sheet."""

from __future__ import annotations

import openpyxl
import pytest
from openpyxl.styles import Font, PatternFill

from batchops.errors import PipelineError
from batchops.pipeline import sniff
from batchops.pipeline.load_xlsx import load_xlsx

REQUIRED = ("student_id", "name")


def _save(tmp_path, rows, merges=(), name="book.xlsx", build=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Marks"
    for r in rows:
        ws.append(list(r))
    for m in merges:
        ws.merge_cells(m)
    if build:
        build(ws)
    p = tmp_path / name
    wb.save(p)
    return p


def _students(n, start=1):
    return [[f"{i:03d}", f"Student {i}", 50 + i, 60 + i, 70 + i] for i in range(start, start + n)]


def test_group_row_over_sub_labels(tmp_path, settings):
    p = _save(
        tmp_path,
        [["Roll No", "Name", "Marks", None, None], [None, None, "Maths", "Science", "English"], *_students(4)],
        merges=["A1:A2", "B1:B2", "C1:E1"],
    )
    loaded = load_xlsx(p, settings)
    assert list(loaded.df.columns) == ["student_id", "name", "maths", "science", "english"]
    assert loaded.df["student_id"].tolist() == ["001", "002", "003", "004"]
    assert loaded.df["english"].tolist() == [71, 72, 73, 74]
    assert loaded.info["header_row"] == 1 and loaded.info["header_rows"] == 2
    assert loaded.locator(loaded.df.index[0], 4) == "Marks!E3"


def test_repeated_sub_labels_keep_their_group(tmp_path, settings):
    p = _save(
        tmp_path,
        [
            ["Roll No", "Name", "Term 1", None, "Term 2", None],
            [None, None, "Maths", "Science", "Maths", "Science"],
            *[r + [80] for r in _students(3)],
        ],
        merges=["A1:A2", "B1:B2", "C1:D1", "E1:F1"],
    )
    loaded = load_xlsx(p, settings)
    assert loaded.original_columns == [
        "Roll No",
        "Name",
        "Term 1 Maths",
        "Term 1 Science",
        "Term 2 Maths",
        "Term 2 Science",
    ]
    assert loaded.df["term_2_science"].tolist() == [80, 80, 80]
    assert loaded.df["term_1_maths"].tolist() == [51, 52, 53]


def test_group_row_above_repeated_labels(tmp_path, settings):
    # the group row is too sparse to be the header; the labels below it repeat
    p = _save(
        tmp_path,
        [
            ["Student", None, "Term 1", None, "Term 2", None],
            ["Roll No", "Name", "Maths", "Science", "Maths", "Science"],
            *[r + [80] for r in _students(3)],
        ],
    )
    loaded = load_xlsx(p, settings)
    assert loaded.original_columns[2:] == ["Term 1 Maths", "Term 1 Science", "Term 2 Maths", "Term 2 Science"]
    assert loaded.df["student_id"].tolist() == ["001", "002", "003"]


def test_all_text_first_row_is_data_not_a_sub_header(tmp_path, settings):
    p = _save(
        tmp_path,
        [["Roll No", "Name", "Class", "House"], ["A01", "Asha", "XI-A", "Red"], ["A02", "Ravi", "XI-A", "Blue"]],
    )
    loaded = load_xlsx(p, settings)
    assert loaded.df["student_id"].tolist() == ["A01", "A02"] and "header_rows" not in loaded.info


def test_styled_empty_cells_out_to_the_last_cell(tmp_path, settings):
    header = ["Roll No", "Name", "Maths", "Science", "English", "Hindi", "Art", "Music", "PE", "Civics", "Total"]

    def build(ws):
        ws["XFD1048576"].fill = PatternFill("solid", fgColor="FFFF00")
        ws["XFD1"].font = Font(bold=True)
        ws["A1048576"].font = Font(bold=True)

    p = _save(tmp_path, [header, ["001", "Asha", *range(1, 10)]], build=build)
    loaded = load_xlsx(p, settings)
    assert len(loaded.df) == 1 and len(loaded.df.columns) == 11
    assert loaded.df["total"].tolist() == [9]


def test_a_value_out_at_the_last_cell_is_still_refused(tmp_path, settings):
    def build(ws):
        ws["XFD1048576"] = "x"

    p = _save(tmp_path, [["Roll No", "Name"], ["001", "Asha"]], build=build)
    with pytest.raises(PipelineError) as exc:
        load_xlsx(p, settings)
    assert exc.value.code == "E_XLSX_TOO_LARGE"


def test_password_protected_workbook(tmp_path):
    msoffcrypto = pytest.importorskip("msoffcrypto")
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = _save(tmp_path, [["Roll No", "Name"], ["001", "Asha"]])
    locked = tmp_path / "locked.xlsx"
    with open(plain, "rb") as src, open(locked, "wb") as dst:
        OOXMLFile(src).encrypt("secret", dst)
    assert msoffcrypto.OfficeFile(open(locked, "rb")).is_encrypted()
    with pytest.raises(PipelineError) as exc:
        sniff.detect_format(locked, "locked.xlsx")
    assert exc.value.code == "E_WORKBOOK_ENCRYPTED"
    assert "password" in exc.value.message


# ---------------------------------------------------------------- several tables on a sheet


def _stacked(tmp_path):
    grades = [["Grade", "Min", "Max"], ["A", 90, 100], ["B", 75, 89], ["C", 60, 74]]
    return _save(tmp_path, [["Roll No", "Name", "Maths", "Science", "English"], *_students(5), [], *grades])


def test_stacked_tables_pick_the_one_with_the_required_columns(tmp_path, settings):
    loaded = load_xlsx(_stacked(tmp_path), settings, required=REQUIRED)
    assert loaded.df["student_id"].tolist() == ["001", "002", "003", "004", "005"]
    assert loaded.info["tables"] == 2
    (note,) = loaded.findings
    assert note["code"] == "W_OTHER_TABLES" and "A8:C11" in note["message"]


def test_stacked_tables_without_a_fit_are_refused_with_a_list(tmp_path, settings):
    with pytest.raises(PipelineError) as exc:
        load_xlsx(_stacked(tmp_path), settings, required=())
    assert exc.value.code == "E_MULTIPLE_TABLES"
    assert "A1:E6, 5 rows" in exc.value.message and "A8:C11, 3 rows, header Grade | Min | Max" in exc.value.message


def test_tables_side_by_side(tmp_path, settings):
    rows = [
        r + [None] + g
        for r, g in zip(
            [["Roll No", "Name", "Maths", "Science", "English"], *_students(6)],
            [["Grade", "Min"], ["A", 90], ["B", 75], ["C", 60], [None, None], [None, None], [None, None]],
        )
    ]
    p = _save(tmp_path, rows)
    loaded = load_xlsx(p, settings, required=REQUIRED)
    assert list(loaded.df.columns) == ["student_id", "name", "maths", "science", "english"]
    assert len(loaded.df) == 6 and loaded.findings[0]["code"] == "W_OTHER_TABLES"
    assert "G1:H4" in loaded.findings[0]["message"]


def test_two_class_lists_side_by_side_are_refused(tmp_path, settings):
    rows = [
        a + [None] + b
        for a, b in zip(
            [["Roll No", "Name", "Maths"]] + [r[:3] for r in _students(3)],
            [["Roll No", "Name", "Maths"]] + [r[:3] for r in _students(3, 10)],
        )
    ]
    with pytest.raises(PipelineError) as exc:
        load_xlsx(_save(tmp_path, rows), settings, required=REQUIRED)
    assert exc.value.code == "E_MULTIPLE_TABLES" and "2 of them" in exc.value.message


def test_spacer_column_inside_one_table(tmp_path, settings):
    rows = [["Roll No", "Name", None, "Maths", "Science"]] + [[r[0], r[1], None, r[2], r[3]] for r in _students(4)]
    loaded = load_xlsx(_save(tmp_path, rows), settings, required=REQUIRED)
    assert list(loaded.df.columns) == ["student_id", "name", "maths", "science"] and len(loaded.df) == 4
    assert loaded.locator(loaded.df.index[0], 2) == "Marks!D2"


def test_repeated_header_after_a_blank_row_continues_the_table(tmp_path, settings):
    header = ["Roll No", "Name", "Maths", "Science", "English"]
    p = _save(tmp_path, [header, *_students(3), [], header, *_students(3, 4)])
    loaded = load_xlsx(p, settings, required=())
    assert loaded.df["student_id"].tolist() == ["001", "002", "003", "004", "005", "006"]
    assert loaded.info["tables"] == 1


def test_blank_rows_inside_a_table_are_dropped(tmp_path, settings):
    p = _save(tmp_path, [["Roll No", "Name", "Maths", "Science", "English"], *_students(2), [], *_students(2, 3)])
    loaded = load_xlsx(p, settings, required=())
    assert loaded.df["student_id"].tolist() == ["001", "002", "003", "004"]
    assert loaded.locator(loaded.df.index[2], 0) == "Marks!A5"
