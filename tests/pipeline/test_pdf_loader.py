"""PDF loading: ruled and borderless tables, continuation rows, page stitching, failures."""

from __future__ import annotations

import pytest
from pipeline_helpers import make_borderless_pdf

from batchops.errors import PipelineError
from batchops.pipeline.load_pdf import load_pdf
from batchops.pipeline.settings import PipelineSettings


def test_ruled_sample(samples_dir, expected, settings):
    loaded = load_pdf(samples_dir / "gradebook_arts.pdf", settings)
    df = loaded.df
    assert loaded.info["layout"] == "ruled"
    assert len(df) == expected["gradebook_arts.pdf"]["rows"] == 35
    assert list(df.columns) == ["student_id", "name", "department", "history", "political_science", "literature"]
    assert df["student_id"].is_unique
    assert df["student_id"].str.fullmatch(r"ARTS/2026/\d{5}").all()
    assert not df["name"].str.contains("\n").any()
    row = df.set_index("student_id").loc["ARTS/2026/00035"]
    assert row["name"] == "Lakshmi Mukherjee Iyer" and row["history"] == "51"
    assert loaded.locator(df.index[0]) == "page 1 row 1"


def test_borderless_sample_exact(samples_dir, expected, settings):
    exp = expected["gradebook_arts_plain.pdf"]
    loaded = load_pdf(samples_dir / "gradebook_arts_plain.pdf", settings)
    df = loaded.df
    assert loaded.info["layout"] == "borderless"
    assert len(df) == exp["rows"] == 45
    got = {r.student_id: r for r in df.itertuples()}
    assert set(got) == set(exp["students"])
    for sid, want in exp["students"].items():
        r = got[sid]
        assert r.name == want["name"], sid
        assert (int(r.history), int(r.pol_sci), int(r.lit)) == (want["history"], want["pol_sci"], want["lit"]), sid


def test_borderless_multi_page_stitched(tmp_path, settings):
    rows = [(f"R-{i:03d}", f"Student {i}", 40 + i % 50, 90 - i % 40) for i in range(1, 46)]
    rows[4] = ("R-\n005", "Long Name\nContinued Here", 10, 20)
    rows[30] = ("R-031", "Łukasz\nŻółkiewski", 55, 66)
    path = make_borderless_pdf(tmp_path / "multi.pdf", rows, per_page=20)
    loaded = load_pdf(path, settings)
    df = loaded.df
    assert loaded.info["pages"] == 3
    assert len(df) == 45
    assert df["student_id"].tolist() == [f"R-{i:03d}" for i in range(1, 46)]
    by = df.set_index("student_id")
    assert by.loc["R-005", "name"] == "Long Name Continued Here"
    assert by.loc["R-031", "name"] == "Łukasz Żółkiewski"
    assert by.loc["R-045", "maths"] == str(40 + 45 % 50)
    assert loaded.locator(df.index[20]) == "page 2 row 1"


def test_no_table(samples_dir, settings):
    with pytest.raises(PipelineError) as exc:
        load_pdf(samples_dir / "broken" / "no_table.pdf", settings)
    assert exc.value.code == "E_PDF_NO_TABLE"


def test_no_text_layer(tmp_path, settings):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 50, style="F")  # a "scan": graphics only
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    with pytest.raises(PipelineError) as exc:
        load_pdf(path, settings)
    assert exc.value.code == "E_PDF_NO_TEXT"


def test_encrypted(tmp_path, settings):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    pdf.cell(0, 10, "ID Name")
    path = tmp_path / "locked.pdf"
    pdf.output(str(path))
    with pytest.raises(PipelineError) as exc:
        load_pdf(path, settings)
    assert exc.value.code == "E_PDF_ENCRYPTED"


def test_damaged(tmp_path, settings):
    path = tmp_path / "bad.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\ngarbage garbage\n")
    with pytest.raises(PipelineError) as exc:
        load_pdf(path, settings)
    assert exc.value.code == "E_PDF_DAMAGED"


def test_too_many_pages(samples_dir):
    with pytest.raises(PipelineError) as exc:
        load_pdf(samples_dir / "gradebook_arts.pdf", PipelineSettings(max_pdf_pages=0))
    assert exc.value.code == "E_TOO_MANY_PAGES"
