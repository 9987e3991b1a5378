"""Publishing: neutralised CSV, PDF read back with pdfplumber, safe names, atomic writes."""

from __future__ import annotations

import csv

import pandas as pd
import pdfplumber
import pytest

from batchops.pipeline.publish import Block, PdfSpec, neutralize_text, render_pdf, safe_stem, write_csv


def test_formula_sample_neutralised(samples_dir, run):
    res = run(samples_dir / "broken" / "formula_injection.csv", plan="custom")
    with open(res.csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["student_id", "name", "department", "physics"]
    names = [r[1] for r in rows[1:]]
    assert names == ['\'=HYPERLINK("http://evil.example/","click")', "'+cmd|' /C calc'!A0", "'@SUM(1+1)"]
    assert [r[3] for r in rows[1:]] == ["90", "80", "70"]


def test_neutralise_rule(tmp_path):
    df = pd.DataFrame({"v": ["-5", "+3.5", "-cmd", "=1+1", "@x", "plain", None, " -7 ", "\tTAB"], "n": range(9)})
    p = write_csv(df, tmp_path / "x.csv")
    with open(p, newline="", encoding="utf-8") as fh:
        got = [r[0] for r in list(csv.reader(fh))[1:]]
    assert got == ["-5", "+3.5", "'-cmd", "'=1+1", "'@x", "plain", "", " -7 ", "'\tTAB"]
    assert neutralize_text(["=A1", "-1", "ok"]) == ["'=A1", "-1", "ok"]


@pytest.mark.parametrize(
    "name,stem",
    [
        ("gradebook.csv", "gradebook"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\evil.xlsx", "evil"),
        ("a\x00b\nc.csv", "a_b_c"),
        ("....", "report"),
        ("", "report"),
        ("x" * 300 + ".pdf", "x" * 80),
        ("Notas de Ł ódź.csv", "Notas_de_Ł_ódź"),
    ],
)
def test_safe_stem(name, stem):
    assert safe_stem(name) == stem
    assert "/" not in safe_stem(name) and "\\" not in safe_stem(name)


def test_report_names_stay_in_out_dir(samples_dir, run, tmp_path):
    out = tmp_path / "exports" / "7"
    res = run(samples_dir / "gradebook_science.csv", original_name="../../../x/../gradebook.csv", out_dir=out)
    assert res.csv_path.parent == out and res.pdf_path.parent == out
    assert res.csv_path.name == "gradebook_report.csv"
    assert sorted(p.name for p in out.iterdir()) == ["gradebook_report.csv", "gradebook_report.pdf"]  # no temp files


def test_pdf_title_rows_unicode_and_pages(tmp_path):
    n = 130
    df = pd.DataFrame(
        {
            "student_id": [f"S{i}" for i in range(n)],
            "name": ["Łukasz Żółć" if i == 3 else f"Name {i}" for i in range(n)],
            "maths": [float(i % 100) for i in range(n)],
        }
    )
    data = render_pdf(
        PdfSpec("marks_łódź.csv", "St. Test School", "28 Nov 2026, 16:00 IST", [Block("Data", df, max_rows=100)])
    )
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    with pdfplumber.open(path) as pdf:
        texts = [p.extract_text() for p in pdf.pages]
        assert len(pdf.pages) >= 2
        assert pdf.metadata.get("Title") == "marks_łódź.csv"
    first = texts[0]
    assert "marks_łódź.csv" in first and "St. Test School" in first and "28 Nov 2026, 16:00 IST" in first
    assert "Łukasz Żółć" in first
    assert "Showing 100 of 130 rows; the CSV has them all." in first
    assert f"Page 1 of {len(texts)}" in first and f"Page {len(texts)} of {len(texts)}" in texts[-1]
    body = "\n".join(texts)
    assert "S99" in body and "S100 " not in body  # capped at 100 rows
    for t in texts:  # header repeated on each page, in plain words
        assert "Student ID Name Maths" in t


def test_transform_pdf_has_kpi_tables(samples_dir, run):
    res = run(samples_dir / "gradebook_science.csv", upload_id=42)
    with pdfplumber.open(res.pdf_path) as pdf:
        text = "\n".join(p.extract_text() for p in pdf.pages)
        tables = [t for p in pdf.pages for t in p.extract_tables()]
    for heading in ("Subject KPIs", "Grade distribution", "Top students", "Bottom students", "About this report"):
        assert heading in text
    for repeat in ("Metadata", "Statistics", "Schema", "float64"):  # the KPIs already say it
        assert repeat not in text
    assert "Source file: gradebook_science.csv" in text  # in "About this report", not the title
    kpi = next(t for t in tables if t[0][0] == "Subject")
    assert [r[0] for r in kpi[1:]] == ["physics", "chemistry", "mathematics", "biology"]
    with open(res.csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    meta = {r["item"]: r["value"] for r in rows if r["section"] == "Metadata"}
    assert meta["upload_id"] == "42" and meta["filename"] == "gradebook_science.csv"
    phys = next(r for r in rows if r["section"] == "Subject KPIs" and r["subject"] == "physics")
    assert float(phys["mean"]) == pytest.approx(res.summary["kpis"]["subjects"]["physics"]["mean"])


def test_characters_the_font_lacks_are_a_finding_not_stderr(tmp_path, capfd):
    from batchops.pipeline.runner import PipelineRequest, run_pipeline
    from batchops.pipeline.settings import PipelineSettings

    src = tmp_path / "cjk.csv"
    src.write_text("Student ID,Name,Maths\nS1,王小明,80\nS2,Łukasz Nowak,70\n", encoding="utf-8")
    result = run_pipeline(
        PipelineRequest(source=src, original_name="cjk.csv", out_dir=tmp_path / "out", plan="custom"),
        PipelineSettings(),
    )
    glyphs = [f for f in result.findings if f["code"] == "E_PDF_GLYPHS_MISSING"]
    assert len(glyphs) == 1 and "王" in glyphs[0]["message"]
    assert "王小明" in result.csv_path.read_text(encoding="utf-8")
    assert "missing the following glyphs" not in capfd.readouterr().err
