"""The runner: every sample end to end, every broken file its own code, step records."""

from __future__ import annotations

import json
import subprocess
import sys

import pdfplumber
import pytest

from batchops.errors import PipelineError

SAMPLES = [
    "gradebook_science.csv",
    "roster_commerce.xlsx",
    "gradebook_arts.pdf",
    "gradebook_arts_plain.pdf",
    "attendance_today.csv",
]


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_publish(samples_dir, expected, run, name):
    steps = []
    res = run(samples_dir / name, plan="custom", on_step=lambda r: steps.append((r.name, r.status)))
    assert res.rows_in == res.rows_out == expected[name]["rows"]
    assert [s.name for s in res.steps] == ["standardize", "validate", "transform", "summarize", "publish"]
    assert all(s.status == "ok" and s.duration_s is not None for s in res.steps)
    assert steps == [
        (n, st) for n in ["standardize", "validate", "transform", "summarize", "publish"] for st in ("running", "ok")
    ]
    json.dumps(res.summary)  # JSON-serialisable
    lines = res.csv_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == expected[name]["rows"] + 1
    with pdfplumber.open(res.pdf_path) as pdf:
        assert pdf.pages[0].extract_text().splitlines()[0] == "Springfield Public School"
        assert f"Source file: {name}" in pdf.pages[-1].extract_text()  # in "About this report"


def test_detected_facts_in_step_and_summary(samples_dir, run):
    res = run(samples_dir / "gradebook_science.csv")
    assert res.steps[0].message == "csv, encoding utf-8, delimiter ',', 40 rows, header line 1"
    assert res.summary["encoding"] == "utf-8" and res.summary["delimiter"] == ","
    assert res.summary["column_map"]["Student ID"] == "student_id"
    assert res.summary["schema"]["physics"] == "int64"
    x = run(samples_dir / "roster_commerce.xlsx")
    assert x.summary["sheet"] == "Term 1" and x.summary["header_row"] == 3
    assert "sheet 'Term 1'" in x.steps[0].message


@pytest.mark.parametrize(
    "name,code,step",
    [
        ("empty.csv", "E_EMPTY_FILE", "standardize"),
        ("header_only.csv", "E_NO_ROWS", "validate"),
        ("missing_columns.csv", "E_MISSING_COLUMNS", "validate"),
        ("not_really.csv", "E_UNSUPPORTED_FORMAT", "standardize"),
        ("truncated.xlsx", "E_XLSX_UNREADABLE", "standardize"),
        ("no_table.pdf", "E_PDF_NO_TABLE", "standardize"),
    ],
)
def test_broken_files_fail_with_their_code(samples_dir, run, name, code, step):
    seen = []
    with pytest.raises(PipelineError) as exc:
        run(samples_dir / "broken" / name, on_step=seen.append)
    err = exc.value
    assert (err.code, err.step) == (code, step)
    recs = err.details["steps"]
    assert recs[-1].name == step and recs[-1].status == "failed" and recs[-1].error_code == code
    assert all(r.status == "ok" for r in recs[:-1])
    assert seen[-1].status == "failed"
    assert err.message.endswith(".") and "\n" not in err.message


def test_broken_codes_are_distinct():
    codes = [
        "E_EMPTY_FILE",
        "E_NO_ROWS",
        "E_MISSING_COLUMNS",
        "E_UNSUPPORTED_FORMAT",
        "E_XLSX_UNREADABLE",
        "E_PDF_NO_TABLE",
    ]
    assert len(set(codes)) == len(codes)


def test_findings_travel_with_failure(tmp_path, run, settings):
    from batchops.pipeline.settings import PipelineSettings

    p = tmp_path / "x.csv"
    p.write_text("Roll No,Name,Maths\n1,A,AB\n2,B,50\n3,C,60\n")
    res = run(p)
    assert [f["code"] for f in res.findings] == ["E_NON_NUMERIC"]
    assert res.steps[1].findings_count == 1
    strict = PipelineSettings(department_columns={"science": ("student_id", "physics")})
    with pytest.raises(PipelineError) as exc:
        run(p, settings_=strict, department="Science")
    assert exc.value.code == "E_MISSING_COLUMNS"


def test_size_limit_and_format_by_content(samples_dir, tmp_path, run):
    from batchops.pipeline.settings import PipelineSettings

    with pytest.raises(PipelineError) as exc:
        run(samples_dir / "gradebook_science.csv", settings_=PipelineSettings(max_file_bytes=100))
    assert exc.value.code == "E_FILE_TOO_LARGE"
    blob = tmp_path / "ab" / "abcdef.csv"  # a content-addressed name that lies about the type
    blob.parent.mkdir()
    blob.write_bytes((samples_dir / "roster_commerce.xlsx").read_bytes())
    res = run(blob, original_name="roster.xlsx")
    assert res.rows_in == 60 and res.summary["format"] == "xlsx"
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(PipelineError) as exc:
        run(old)
    assert exc.value.code == "E_XLSX_UNREADABLE"  # an OLE2 header with nothing behind it


def test_cell_too_large(tmp_path, run):
    from batchops.pipeline.settings import PipelineSettings

    p = tmp_path / "x.csv"
    p.write_text("Roll No,Name\n1," + "x" * 500 + "\n")
    with pytest.raises(PipelineError) as exc:
        run(p, settings_=PipelineSettings(max_cell_chars=100))
    assert exc.value.code == "E_CELL_TOO_LARGE" and "line 2" in exc.value.message


def test_bad_plan_is_input_error(samples_dir, run):
    from batchops.errors import InputError

    with pytest.raises(InputError) as exc:
        run(samples_dir / "gradebook_science.csv", plan="frobnicate")
    assert exc.value.code == "E_PLAN_INVALID"


def test_unknown_column_fails_transform(samples_dir, run):
    with pytest.raises(PipelineError) as exc:
        run(samples_dir / "gradebook_science.csv", plan="append", plan_config={"records": [{"shoe": 1}]})
    assert exc.value.code == "E_UNKNOWN_COLUMN" and exc.value.step == "transform"
    assert "'shoe'" in exc.value.message


def test_delete_plan_end_to_end(samples_dir, run):
    res = run(
        samples_dir / "gradebook_science.csv",
        plan="delete",
        plan_config={"where": ["Student ID=SCI-2026-0001", "name=Nobody"]},
    )
    assert res.rows_out == 39
    assert res.summary["plan_report"]["rules"][0]["removed"] == 1
    assert [f["code"] for f in res.findings] == ["E_RULE_NO_MATCH"]


def test_pipeline_is_pure():
    code = (
        "import sys, batchops.pipeline.settings;"
        "assert 'pandas' not in sys.modules, 'settings imported pandas';"
        "import batchops.pipeline;"
        "assert 'pandas' not in sys.modules, '__init__ imported pandas';"
        "from batchops.pipeline import runner, plans, load_csv, load_xlsx, load_pdf, publish, validate, summarize;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('huey', 'peewee', 'textual') "
        "or m.startswith(('batchops.store', 'batchops.services', 'batchops.queue'))];"
        "assert not bad, bad"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_refused_thread_is_work_done_here_not_a_failed_run(samples_dir, run, tmp_path, monkeypatch):
    """Under load the OS can refuse a thread (EAGAIN): the run publishes the same reports without one."""
    import threading

    normal = run(samples_dir / "gradebook_science.csv", out_dir=tmp_path / "normal")
    started = threading.Thread.start
    refused = []

    def start(self):
        if self.name.startswith("batchops-"):
            refused.append(self.name)
            raise RuntimeError("can't start new thread")
        return started(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    alone = run(samples_dir / "gradebook_science.csv", out_dir=tmp_path / "alone")
    assert {n.rsplit("_", 1)[0] for n in refused} == {"batchops-settle", "batchops-csv"}  # both pools were refused
    assert alone.csv_path.read_bytes() == normal.csv_path.read_bytes()
    assert alone.pdf_path.stat().st_size > 0 and alone.rows_out == normal.rows_out
