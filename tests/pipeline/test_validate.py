"""Validation: blocking failures and located warnings."""

from __future__ import annotations

import pytest
from pipeline_helpers import write

from batchops.errors import PipelineError
from batchops.pipeline.load_csv import load_csv
from batchops.pipeline.settings import PipelineSettings
from batchops.pipeline.validate import validate


def _v(tmp_path, text, settings=None, department=None):
    s = settings or PipelineSettings()
    return validate(load_csv(write(tmp_path, "x.csv", text), s), s, department)


def test_missing_columns_named(tmp_path):
    with pytest.raises(PipelineError) as exc:
        _v(tmp_path, "Name,Score\nAsha,78\n")
    assert exc.value.code == "E_MISSING_COLUMNS" and exc.value.step == "validate"
    assert "student_id" in exc.value.message


def test_department_required_columns(tmp_path):
    s = PipelineSettings(department_columns={"science": ("student_id", "name", "physics")})
    with pytest.raises(PipelineError) as exc:
        _v(tmp_path, "Roll No,Name,Maths\n1,A,50\n", s, "Science")
    assert exc.value.code == "E_MISSING_COLUMNS" and "physics" in exc.value.message
    assert exc.value.details["missing"] == ["physics"]
    _v(tmp_path, "Roll No,Name,Maths\n1,A,50\n", s, "Arts")  # default set applies


def test_no_rows(tmp_path):
    with pytest.raises(PipelineError) as exc:
        _v(tmp_path, "Student ID,Student Name\n")
    assert exc.value.code == "E_NO_ROWS"


def test_findings_with_locations(tmp_path):
    v = _v(tmp_path, "Roll No,Name,Maths,Physics\n1,A,AB,50\n2,B,—,150\n1,C,70,-5\n,D,60,60\n")
    by_code = {}
    for f in v.findings:
        by_code.setdefault(f["code"], []).append(f)
    assert [f["location"] for f in by_code["E_NON_NUMERIC"]] == ["line 2", "line 3"]
    assert by_code["E_NON_NUMERIC"][0]["column"] == "maths"
    assert sorted(f["location"] for f in by_code["E_OUT_OF_RANGE"]) == ["line 3", "line 4"]
    assert by_code["E_DUPLICATE_IDS"][0]["location"] == "line 4"
    assert "line 2" in by_code["E_DUPLICATE_IDS"][0]["message"]
    assert by_code["E_MISSING_ID"][0]["row"] == 5
    assert all(f["severity"] == "warning" for f in v.findings)
    assert v.numeric["maths"].isna().tolist() == [True, True, False, False]


def test_no_cap_on_findings(tmp_path):
    body = "Roll No,Name,Maths\n" + "".join(f"{i},N,AB\n" for i in range(3000)) + "x,y,1\n"
    v = _v(tmp_path, body)
    # 'AB' is the majority, so the column is not numeric; make it numeric and bad instead
    body = "Roll No,Name,Maths\n" + "".join(f"{i},N,{'AB' if i % 3 == 0 else 50}\n" for i in range(3000))
    v = _v(tmp_path, body)
    assert sum(f["code"] == "E_NON_NUMERIC" for f in v.findings) == 1000
