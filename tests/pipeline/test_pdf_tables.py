"""PDF table shape: one table, the right one; columns from all rows; spilled columns; the confidence gate."""

from __future__ import annotations

import pytest
from pipeline_helpers import make_pdf, ruled_table, text_table

from batchops.errors import PipelineError
from batchops.pipeline.load_pdf import load_pdf
from batchops.pipeline.settings import PipelineSettings

GRADES = ("Student ID", "Name", "Maths", "Science")
STAFF = ("Teacher", "Subject", "Room")
GENERIC = PipelineSettings(default_required_columns=())


def grade_rows(n: int, start: int = 1) -> list[tuple]:
    return [(f"S{i:03d}", f"Pupil Number {i}", 40 + i % 50, 90 - i % 40) for i in range(start, start + n)]


def staff_rows(n: int) -> list[tuple]:
    return [(f"Teacher {i}", f"Subject {i}", f"R{i}") for i in range(1, n + 1)]


@pytest.fixture
def two_tables_one_page(tmp_path):
    def page(pdf):
        pdf.text(12, 15, "Class 7 marks")
        y = ruled_table(pdf, 20, GRADES, grade_rows(6), (30, 60, 25, 25))
        pdf.text(12, y + 10, "Staff on duty")
        ruled_table(pdf, y + 15, STAFF, staff_rows(4), (50, 50, 30))

    return make_pdf(tmp_path / "two.pdf", [page])


def test_several_tables_are_refused_with_the_list(two_tables_one_page):
    with pytest.raises(PipelineError) as exc:
        load_pdf(two_tables_one_page, GENERIC)
    err = exc.value
    assert err.code == "E_PDF_MANY_TABLES"
    assert "table 1: page 1, 6 rows x 4 columns, header: Student ID | Name | Maths | Science" in err.message
    assert "table 2: page 1, 4 rows x 3 columns, header: Teacher | Subject | Room" in err.message
    assert "--table N" in err.message


def test_the_table_with_the_required_columns_is_picked(two_tables_one_page):
    loaded = load_pdf(two_tables_one_page, PipelineSettings())  # requires student_id and name
    assert list(loaded.df.columns) == ["student_id", "name", "maths", "science"]
    assert loaded.df["student_id"].tolist() == [f"S{i:03d}" for i in range(1, 7)]
    assert loaded.info["tables_found"] == 2


def test_table_n_picks_a_table_and_a_wrong_n_is_refused(two_tables_one_page):
    loaded = load_pdf(two_tables_one_page, GENERIC, table=2)
    assert list(loaded.df.columns) == ["teacher", "subject", "room"]
    assert len(loaded.df) == 4
    with pytest.raises(PipelineError) as exc:
        load_pdf(two_tables_one_page, GENERIC, table=3)
    assert exc.value.code == "E_PDF_TABLE_NOT_FOUND"


def test_tables_of_different_widths_on_two_pages_are_not_stitched(tmp_path):
    path = make_pdf(
        tmp_path / "pages.pdf",
        [
            lambda pdf: ruled_table(pdf, 20, GRADES, grade_rows(8), (30, 60, 25, 25)),
            lambda pdf: ruled_table(pdf, 20, STAFF, staff_rows(5), (50, 50, 30)),
        ],
    )
    with pytest.raises(PipelineError) as exc:
        load_pdf(path, GENERIC)
    assert exc.value.code == "E_PDF_MANY_TABLES"
    assert "page 2, 5 rows x 3 columns" in exc.value.message


def test_a_headerless_page_with_other_columns_is_not_a_continuation(tmp_path):
    path = make_pdf(
        tmp_path / "pages.pdf",
        [
            lambda pdf: ruled_table(pdf, 20, GRADES, grade_rows(8), (30, 60, 25, 25)),
            lambda pdf: ruled_table(pdf, 20, ("S900", "Someone Else", "55"), [("S901", "Other", "60")], (20, 80, 40)),
        ],
    )
    loaded = load_pdf(path, PipelineSettings())  # picks the gradebook; the stray table is not appended
    assert len(loaded.df) == 8


def test_a_repeated_header_continues_the_table(tmp_path):
    rows = grade_rows(30)
    path = make_pdf(
        tmp_path / "long.pdf",
        [
            lambda pdf: ruled_table(pdf, 20, GRADES, rows[:18], (30, 60, 25, 25)),
            lambda pdf: ruled_table(pdf, 20, GRADES, rows[18:], (30, 60, 25, 25)),
        ],
    )
    loaded = load_pdf(path, PipelineSettings())
    assert loaded.df["student_id"].tolist() == [r[0] for r in rows]
    assert loaded.locator(loaded.df.index[18]) == "page 2 row 1"


def test_a_continuation_page_without_header_but_the_same_columns_continues(tmp_path):
    rows = grade_rows(30)
    path = make_pdf(
        tmp_path / "long.pdf",
        [
            lambda pdf: ruled_table(pdf, 20, GRADES, rows[:18], (30, 60, 25, 25)),
            lambda pdf: ruled_table(pdf, 20, rows[18], rows[19:], (30, 60, 25, 25)),
        ],
    )
    loaded = load_pdf(path, PipelineSettings())
    assert loaded.df["student_id"].tolist() == [r[0] for r in rows]


WIDE = ("Roll No", "Student Name", "Eng", "Hin", "Maths", "Sci", "SSt", "Total")
WIDE_XS = (12, 33.5, 92, 107, 122, 140, 155, 172)


def wide_rows(n: int) -> list[tuple]:
    names = ["Anna Maria Lopez", "Ravi Kumar", "Mary Ann De Souza", "Li Wei", "José da Silva Santos"]
    out = []
    for i in range(1, n + 1):
        marks = [40 + (i * k) % 60 for k in (3, 5, 7, 11, 13)]
        out.append((f"{i:02d}", names[i % len(names)], *marks, sum(marks)))
    return out


def test_borderless_columns_come_from_all_rows(tmp_path):
    """The header line alone runs "Roll Number" into "Student Name" (a word gap apart); the rows do not."""
    rows = wide_rows(12)
    header = ("Roll Number",) + WIDE[1:]

    def page(pdf):
        pdf.text(12, 15, "HALF YEARLY EXAMINATION - CLASS VIII B")
        text_table(pdf, 25, WIDE_XS, header, rows)
        pdf.text(95, 285, "Page 1 of 1")

    loaded = load_pdf(make_pdf(tmp_path / "wide.pdf", [page]), GENERIC)
    df = loaded.df
    assert loaded.info["layout"] == "borderless"
    assert loaded.original_columns == list(header)
    assert df.values.tolist() == [[str(v) for v in r] for r in rows]


def test_a_real_row_with_an_empty_first_cell_stays_a_row(tmp_path):
    rows = wide_rows(8)
    rows[3] = ("", "Transfer Student", 50, 51, 52, 53, 54, 260)  # no roll number yet, marks present
    rows[5] = ("06", "Name That Wraps Onto", 60, 61, 62, 63, 64, 310)

    def page(pdf):
        y = text_table(pdf, 25, WIDE_XS, WIDE, rows[:6])
        pdf.text(WIDE_XS[1], y - 1, "The Next Line")  # the wrapped part of row 6's name
        text_table(pdf, y + 4.5, WIDE_XS, None, rows[6:])

    df = load_pdf(make_pdf(tmp_path / "gap.pdf", [page]), GENERIC).df
    assert len(df) == 8
    assert df.iloc[3].isna().iloc[0] and df.iloc[3].tolist()[1:3] == ["Transfer Student", "50"]
    assert df.iloc[5, 1] == "Name That Wraps Onto The Next Line"


SPILL_LEFT = ("Student ID", "Name", "Maths", "Science")
SPILL_RIGHT = ("History", "Geography", "Art")


def spill_pages(rows_left: list[tuple], rows_right: list[tuple], per_page: int = 15):
    """A sheet printed 'pages across, then down': left columns, right columns, next rows' left, ..."""
    pages = []
    for start in range(0, len(rows_left), per_page):
        left, right = rows_left[start : start + per_page], rows_right[start : start + per_page]

        def draw_left(pdf, left=left):
            text_table(pdf, 20, (12, 45, 110, 140), SPILL_LEFT, left)
            pdf.text(12, 285, "Printed from Marks.xlsx")

        def draw_right(pdf, right=right):
            text_table(pdf, 20, (12, 50, 90), SPILL_RIGHT, right)
            pdf.text(12, 285, "Printed from Marks.xlsx")

        pages += [draw_left, draw_right]
    return pages


def test_spilled_columns_are_joined_back(tmp_path):
    left = [(f"S{i:03d}", f"Pupil Number {i}", 40 + i, 50 + i) for i in range(1, 31)]
    right = [(60 + i % 30, 70 - i % 20, 30 + i) for i in range(1, 31)]
    loaded = load_pdf(make_pdf(tmp_path / "spill.pdf", spill_pages(left, right)), PipelineSettings())
    df = loaded.df
    assert list(df.columns) == ["student_id", "name", "maths", "science", "history", "geography", "art"]
    assert len(df) == 30
    assert df.values.tolist() == [[str(v) for v in a + b] for a, b in zip(left, right)]
    assert not df["name"].str.contains("Printed").any()  # the print footer is not glued onto a name


def test_spilled_columns_that_do_not_line_up_are_refused(tmp_path):
    left = [(f"S{i:03d}", f"Pupil Number {i}", 40 + i, 50 + i) for i in range(1, 31)]
    right = [(60 + i % 30, 70 - i % 20, 30 + i) for i in range(1, 31)]
    del right[20]  # the second right-hand page has a row fewer
    with pytest.raises(PipelineError) as exc:
        load_pdf(make_pdf(tmp_path / "spill.pdf", spill_pages(left, right)), PipelineSettings())
    assert exc.value.code == "E_PDF_SPILLED_COLUMNS"


# ---------------------------------------------------------------- the confidence gate (through the runner)


def agenda(pdf):
    pdf.text(12, 15, "STAFF MEETING - AGENDA")
    items = [
        ("09:00", "Welcome and a short prayer led by the senior students of class twelve"),
        ("09:15", "Review of the half yearly results and the plan for remedial classes in maths"),
        ("09:45", "Annual day: rehearsals, costumes and the schedule for the parents evening"),
        ("10:30", "Tea break"),
        ("10:45", "Any other business raised by the staff members present at the meeting today"),
    ]
    text_table(pdf, 25, (12, 35), ("Time", "Item"), items, pitch=7)


def test_an_agenda_is_not_published(tmp_path, run):
    path = make_pdf(tmp_path / "agenda.pdf", [agenda])
    with pytest.raises(PipelineError) as exc:
        run(path, plan="custom", settings_=GENERIC)
    assert exc.value.code == "E_TABLE_LOW_CONFIDENCE"
    assert any(
        f["code"] == "W_TABLE_DOUBTFUL_ROW" and f["location"].startswith("page 1 row") for f in exc.value.findings
    )


def packed(pdf):
    rows = [(f"S{i:03d}", f"Pupil {i}", f"{40 + i} {50 + i} {60 + i}") for i in range(1, 9)]
    ruled_table(pdf, 20, ("Student ID", "Name", "Marks"), rows, (30, 50, 60))


def test_rows_packed_into_one_cell_are_refused_and_the_rows_named(tmp_path, run):
    path = make_pdf(tmp_path / "packed.pdf", [packed])
    with pytest.raises(PipelineError) as exc:
        run(path, plan="custom")
    err = exc.value
    assert err.code == "E_TABLE_LOW_CONFIDENCE" and err.step == "standardize"
    rows = [f for f in err.findings if f["code"] == "W_TABLE_DOUBTFUL_ROW"]
    assert len(rows) == 8 and rows[0]["location"] == "page 1 row 1" and "41 51 61" in rows[0]["message"]


def test_force_publish_overrides_the_gate_with_a_finding(tmp_path, run):
    path = make_pdf(tmp_path / "packed.pdf", [packed])
    result = run(path, plan="custom", force_publish=True)
    assert result.rows_out == 8
    codes = [f["code"] for f in result.findings]
    assert "W_TABLE_FORCED" in codes and codes.count("W_TABLE_DOUBTFUL_ROW") == 8


def test_a_rotated_page_is_refused(tmp_path, run):
    def page(pdf):
        with pdf.rotation(90, x=105, y=150):
            ruled_table(pdf, 100, GRADES, grade_rows(6), (30, 60, 25, 25), x=40)

    with pytest.raises(PipelineError) as exc:
        run(make_pdf(tmp_path / "rotated.pdf", [page]), plan="custom")
    assert exc.value.code in ("E_TABLE_LOW_CONFIDENCE", "E_PDF_NO_TABLE")


def test_clean_csv_and_samples_pass_the_gate(samples_dir, run):
    for name in ("gradebook_science.csv", "roster_commerce.xlsx", "gradebook_arts.pdf", "gradebook_arts_plain.pdf"):
        result = run(samples_dir / name, plan="custom")
        assert not any(f["code"].startswith("W_TABLE") for f in result.findings), name


def test_a_footnote_mark_after_a_number_is_not_a_digit_of_it(tmp_path, settings):
    """camelot's superscript.pdf: '24.91' with a raised, smaller '2' read as 24.912 - a wrong number."""
    rows = [("S001", "Asha", "24.91"), ("S002", "Ravi", "31.5"), ("S003", "Meena", "40")]

    def page(pdf):
        pdf.set_font(size=10)
        text_table(pdf, 30, (20, 60, 110), ("student_id", "name", "score"), rows)
        width = pdf.get_string_width("24.91")
        pdf.set_font(size=6)
        pdf.text(110 + width + 0.2, 30 + 5.5 - 1.6, "2")  # the footnote mark on the first data row
        pdf.set_font(size=10)

    loaded = load_pdf(make_pdf(tmp_path / "marks.pdf", [page]), settings)
    assert list(loaded.df["score"]) == ["24.91", "31.5", "40"]
    marks = [f for f in loaded.findings if f["code"] == "W_PDF_FOOTNOTE_MARK"]
    assert len(marks) == 1 and "'2'" in marks[0]["message"]
