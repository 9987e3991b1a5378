"""The PDF as the head teacher receives it, read back with pdfplumber: a title and school name on
top, plain headers, numbers right-aligned, small tables whole, technical details last, no reprs."""

from __future__ import annotations

import pandas as pd
import pdfplumber

from batchops.pipeline.publish import Block, PdfSpec, render_pdf
from batchops.pipeline.settings import PipelineSettings


def _pages(path) -> list[str]:
    with pdfplumber.open(path) as pdf:
        return [p.extract_text() or "" for p in pdf.pages]


def test_delete_report_reads_as_a_document(samples_dir, run):
    res = run(
        samples_dir / "gradebook_science.csv",
        plan="delete",
        department="Science",
        upload_id=7,
        plan_config={"where": ["student_id=SCI-2026-0001"]},
    )
    pages = _pages(res.pdf_path)
    assert len(pages) >= 2
    first, last, everything = pages[0], pages[-1], "\n".join(pages)
    assert first.splitlines()[0] == "Springfield Public School"
    assert first.splitlines()[1] == "Science — records removed, 28 Nov 2026"
    assert "Rule 1: student_id = SCI-2026-0001 — 1 row removed" in first
    assert "Student ID Name Department Physics" in first
    for technical in ("upload_id", "rows_in", "Upload: #7", "About this report", "gradebook_science.csv"):
        assert technical not in first
    assert "About this report" in last and "Upload: #7" in last
    assert "Source file: gradebook_science.csv (CSV)" in last
    assert "Plan setting where: student_id=SCI-2026-0001" in last
    assert "{'" not in everything and "[{" not in everything and "Schema" not in everything
    with pdfplumber.open(res.pdf_path) as pdf:
        words = pdf.pages[0].extract_words(extra_attrs=["size"])
    school = next(w for w in words if w["text"] == "Springfield")
    body = next(w for w in words if w["text"] == "SCI-2026-0002")
    assert school["size"] >= 12 and school["size"] > 1.5 * body["size"]  # prominent, not small grey text


def test_configured_title_comes_from_config(samples_dir, run):
    from batchops.config import parse_config
    from batchops.pipeline.settings import from_config

    settings = from_config(parse_config('school_name = "St. Anne\'s"\n[report]\ntitle = "Term 1 marks"\n'))
    res = run(samples_dir / "gradebook_science.csv", plan="custom", settings_=settings)
    lines = _pages(res.pdf_path)[0].splitlines()
    assert lines[:2] == ["St. Anne's", "Term 1 marks"]
    with pdfplumber.open(res.pdf_path) as pdf:
        assert pdf.metadata.get("Title") == "Term 1 marks"


def test_title_defaults_without_a_department(samples_dir, run):
    res = run(
        samples_dir / "gradebook_science.csv",
        generated_at="2026-11-30 12:26 IST",
        settings_=PipelineSettings(school_name="Hill School"),
    )
    assert _pages(res.pdf_path)[0].splitlines()[1] == "Marks summary, 30 Nov 2026"


def test_numbers_are_right_aligned_and_text_left(tmp_path):
    df = pd.DataFrame({"name": ["Asha", "Bo"], "maths": [7.5, 100.0], "ref": ["12", "3"]})
    path = tmp_path / "r.pdf"
    path.write_bytes(render_pdf(PdfSpec("t", "s", "now", [Block("Data", df, exact=True)])))
    with pdfplumber.open(path) as pdf:
        page = pdf.pages[0]
        words = page.extract_words()
        edges = sorted({round(e["x0"], 1) for e in page.edges if e["orientation"] == "v"})
    assert len(edges) == 4  # three equal columns
    at = {w["text"]: w for w in words}
    for cell, col in (("7.5", 2), ("100", 2), ("Maths", 2), ("12", 3), ("3", 3), ("Ref", 3)):
        assert 0.5 < edges[col] - at[cell]["x1"] < 5, cell  # ends at the column's right edge
    for cell in ("Asha", "Bo", "Name"):
        assert 0.5 < at[cell]["x0"] - edges[0] < 5, cell  # text starts at the left edge


def test_a_small_table_is_not_split_across_pages(tmp_path):
    big = pd.DataFrame({"student_id": [f"S{i}" for i in range(40)], "mark": range(40)})
    small = pd.DataFrame({"key": [f"K{i}" for i in range(15)], "count": range(15)})
    path = tmp_path / "r.pdf"
    path.write_bytes(render_pdf(PdfSpec("t", "s", "now", [Block("Marks", big), Block("Counts", small)])))
    pages = _pages(path)
    holding = [i for i, text in enumerate(pages) if "Counts" in text or any(f"K{k} " in text for k in range(15))]
    assert len(holding) == 1 and holding[0] == 1, holding  # moved whole to page 2
    assert all(f"K{k} {k}" in pages[1] for k in range(15))
    assert "S39 39" in pages[0]  # the big table still starts on page 1


def test_about_section_is_plain_lines(tmp_path):
    path = tmp_path / "r.pdf"
    df = pd.DataFrame({"a": [1]})
    path.write_bytes(render_pdf(PdfSpec("t", "s", "now", [Block("Data", df)], about=["Upload: #3", "Plan: delete"])))
    last = _pages(path)[-1]
    assert last.index("About this report") < last.index("Upload: #3") < last.index("Plan: delete")
