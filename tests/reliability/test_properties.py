"""Property-based tests (hypothesis) for the loaders and the plans.

tests/pipeline already has a CSV round trip and delete/dedupe/curve properties;
these add what a hostile or careless input can do: arbitrary bytes and
CSV-shaped text through the whole pipeline (a clean error code or a report,
never E_INTERNAL, and every published cell formula-safe), arbitrary plan
payloads (E_PLAN_INVALID or a run, never a crash), and invariants of append,
delete, anonymize and the transform KPIs.
"""

from __future__ import annotations

import csv
import io
import math
import string

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from batchops.errors import InputError, PipelineError
from batchops.pipeline.plans import PLANS, PlanContext, validate_plan_config
from batchops.pipeline.runner import PipelineRequest, run_pipeline
from batchops.pipeline.settings import PipelineSettings

# Every code the pipeline may fail with (issue 7 / the loaders' docs). E_INTERNAL is a bug.
KNOWN_CODES = {
    "E_EMPTY_FILE",
    "E_UNSUPPORTED_FORMAT",
    "E_BAD_ENCODING",
    "E_CSV_MALFORMED",
    "E_WORKBOOK_ENCRYPTED",
    "E_XLSX_UNREADABLE",
    "E_XLSX_TOO_LARGE",
    "E_SHEET_NOT_FOUND",
    "E_NO_TABLE",
    "E_PDF_NO_TABLE",
    "E_PDF_NO_TEXT",
    "E_PDF_ENCRYPTED",
    "E_PDF_DAMAGED",
    "E_TOO_MANY_PAGES",
    "E_FILE_TOO_LARGE",
    "E_TOO_MANY_ROWS",
    "E_TOO_MANY_COLUMNS",
    "E_CELL_TOO_LARGE",
    "E_NO_ROWS",
    "E_MISSING_COLUMNS",
    "E_UNKNOWN_COLUMN",
    "E_RECORD_INVALID",
    "E_PLAN_INVALID",
    "E_MULTIPLE_TABLES",
    "E_PDF_MANY_TABLES",
    "E_PDF_TABLE_NOT_FOUND",
    "E_PDF_SPILLED_COLUMNS",
    "E_TABLE_LOW_CONFIDENCE",
    "E_OCR_LOW_CONFIDENCE",
    "E_OCR_UNAVAILABLE",
    "E_OCR_FAILED",
    "E_IMAGE_UNREADABLE",
}
SMALL = PipelineSettings(max_rows=500, max_columns=40, max_cell_chars=500)
FAST = hsettings(
    max_examples=int(__import__("os").environ.get("BATCHOPS_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _run(tmp_path_factory, data: bytes, suffix: str, plan="custom", plan_config=None):
    d = tmp_path_factory.mktemp("prop")
    src = d / f"input{suffix}"
    src.write_bytes(data)
    req = PipelineRequest(
        source=src,
        original_name=src.name,
        out_dir=d / "out",
        plan=plan,
        plan_config=plan_config if plan_config is not None else {"instructions": "x"},
        generated_at="now",
    )
    try:
        return run_pipeline(req, SMALL), None
    except PipelineError as exc:
        return None, exc


def _assert_formula_safe(csv_path) -> None:
    text = csv_path.read_text(encoding="utf-8")
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            # A lone sign is a "no mark" dash that no spreadsheet runs: published as written.
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and cell.strip() not in ("-", "+"):
                try:
                    float(cell.strip())
                except ValueError:
                    raise AssertionError(f"formula-like cell published as is: {cell!r}") from None


# ---------------------------------------------------------------- whole pipeline on arbitrary input


@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".csv", ".xlsx", ".pdf", ""]))
@example(data=b"PK\x03\x04" + b"\x00" * 40, suffix=".xlsx")
@example(data=b"%PDF-1.4\n%%EOF", suffix=".pdf")
@example(data=b"\xff\xfe" + "a,b\n1,2\n".encode("utf-16-le"), suffix=".csv")
@example(data=b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", suffix="")
@FAST
def test_arbitrary_bytes_never_an_internal_error(tmp_path_factory, data, suffix):
    result, error = _run(tmp_path_factory, data, suffix)
    event(f"outcome: {error.code if error else 'published'}")
    if error is not None:
        assert error.code in KNOWN_CODES, f"{error.code}: {error.message}"
        assert error.step == "standardize" or error.code in ("E_NO_ROWS", "E_MISSING_COLUMNS")
    else:
        _assert_formula_safe(result.csv_path)


_cell = st.one_of(
    st.integers(-50, 150).map(str),
    st.floats(0, 100, allow_nan=False).map(lambda f: f"{f:.1f}"),
    st.sampled_from(
        [
            "AB",
            "—",
            "ab",
            "N/A",
            "",
            " ",
            "7 8",
            "=1+1",
            "+91 98",
            "-x",
            "@cmd",
            "\tTAB",
            "0042",
            "TRUE",
            "NULL",
            "Łukasz",
            "José",
            "O'Neil",
            'say "hi"',
            "a,b",
            "a;b",
            "x\ny",
            "\x00",
        ]
    ),
    st.text(alphabet=string.ascii_letters + " äéñ-'", max_size=12),
)
_header = st.sampled_from(
    [
        "Roll No",
        "Student ID",
        "Name",
        "Student Name",
        "Maths",
        "Science",
        "Maths",
        "",
        "Total",
        "=cmd|' /C calc'!A0",
        "Notes",
        "English  Marks",
        "ID",
    ]
)


@st.composite
def csv_like(draw):
    header = [
        draw(st.sampled_from(["Roll No", "Student ID", "Reg. No."])),
        draw(st.sampled_from(["Name", "Student Name", "Candidate Name"])),
    ]
    header += draw(st.lists(_header, max_size=6))
    header = draw(st.permutations(header)) if draw(st.booleans()) else header
    ncols = len(header)
    rows = draw(st.lists(st.lists(_cell, min_size=0, max_size=ncols + 2), max_size=30))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    title = draw(st.sampled_from(["", "GRADEBOOK 2026" + newline, "Class 10" + newline + newline]))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    text = title + buf.getvalue()
    return text.encode(encoding, errors="replace")


@given(data=csv_like(), plan=st.sampled_from(["custom", "transform", "dedupe", "anonymize"]))
@FAST
def test_csv_shaped_text_publishes_or_fails_cleanly(tmp_path_factory, data, plan):
    cfg = {"instructions": "x"} if plan == "custom" else {}
    result, error = _run(tmp_path_factory, data, ".csv", plan=plan, plan_config=cfg)
    event(f"outcome: {error.code if error else 'published'}")
    if error is not None:
        assert error.code in KNOWN_CODES, f"{error.code}: {error.message}"
        return
    assert result.rows_out <= result.rows_in or plan != "custom"
    assert result.csv_path.stat().st_size > 0 and result.pdf_path.read_bytes().startswith(b"%PDF")
    _assert_formula_safe(result.csv_path)


# ---------------------------------------------------------------- plan payloads

_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 200), st.floats(allow_nan=True), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
_keys = st.sampled_from(
    [
        "records",
        "rules",
        "where",
        "instructions",
        "subject",
        "target_mean",
        "method",
        "salt",
        "key",
        "keep",
        "top_n",
        "columns",
        "cap",
    ]
)


def _frame():
    return pd.DataFrame(
        {
            "student_id": ["S1", "S2", "S3", "S2"],
            "name": ["Ann", "Bob", "Cy", "Bo"],
            "maths": [95.0, 35.0, None, 60.0],
            "physics": [88.0, 41.0, 55.0, 60.0],
        },
        index=[2, 3, 4, 5],
    )


def _ctx(cfg):
    return PlanContext(
        settings=PipelineSettings(),
        config=cfg,
        subjects=["maths", "physics"],
        numeric_columns=["maths", "physics"],
        column_lookup={"Roll No": "student_id"},
    )


@given(plan=st.sampled_from(sorted(PLANS)), cfg=st.dictionaries(_keys, _json, max_size=4))
@hsettings(max_examples=300, deadline=None)
def test_any_plan_payload_is_refused_cleanly_or_runs(plan, cfg):
    """A payload is E_PLAN_INVALID up front, or the plan runs / fails with a data error code."""
    try:
        validate_plan_config(plan, cfg)
    except InputError as exc:
        assert exc.code == "E_PLAN_INVALID"
        return
    try:
        out = PLANS[plan].run(_frame(), _ctx(cfg))
    except PipelineError as exc:
        assert exc.code in KNOWN_CODES, f"{exc.code}: {exc.message}"
        return
    assert isinstance(out.df, pd.DataFrame)


_ids = st.text(alphabet="ABCS0123456789", min_size=1, max_size=5)
_rows = st.lists(
    st.tuples(
        _ids, st.sampled_from(["Ann", "Bob", "Łukasz", "Zoë"]), st.one_of(st.none(), st.floats(0, 100, allow_nan=False))
    ),
    min_size=1,
    max_size=30,
)


def _df(rows):
    df = pd.DataFrame(
        {
            "student_id": pd.Series([r[0] for r in rows], dtype="str"),
            "name": pd.Series([r[1] for r in rows], dtype="str"),
            "maths": pd.Series([r[2] for r in rows], dtype="float64"),
            "physics": pd.Series([50.0] * len(rows), dtype="float64"),
        }
    )
    df.index = pd.RangeIndex(2, 2 + len(rows))  # line numbers, as the CSV loader labels rows
    return df


@given(
    rows=_rows,
    records=st.lists(
        st.fixed_dictionaries(
            {"student_id": _ids, "maths": st.one_of(st.integers(0, 100), st.integers(0, 100).map(str), st.none())}
        ),
        min_size=1,
        max_size=5,
    ),
)
@hsettings(max_examples=80, deadline=None)
def test_append_adds_exactly_the_records(rows, records):
    df = _df(rows)
    out = PLANS["append"].run(df, _ctx({"records": records})).df
    assert len(out) == len(df) + len(records)
    assert out.index.is_unique
    assert out["student_id"].tolist()[len(df) :] == [r["student_id"] for r in records]
    tail = out["maths"].tolist()[len(df) :]
    for got, rec in zip(tail, records):
        assert math.isnan(got) if rec["maths"] is None else got == float(rec["maths"])


@given(rows=_rows, victim=_ids)
@hsettings(max_examples=80, deadline=None)
def test_delete_removes_exactly_the_matches(rows, victim):
    df = _df(rows)
    out = PLANS["delete"].run(df, _ctx({"rules": [{"student_id": victim}]}))
    matches = int((df["student_id"] == victim).sum())
    assert out.report["removed"] == matches
    assert len(out.df) == len(df) - matches
    assert not (out.df["student_id"] == victim).any()
    assert [f["code"] for f in out.findings if f["code"] == "E_RULE_NO_MATCH"] == (
        [] if matches else ["E_RULE_NO_MATCH"]
    )


@given(rows=_rows, salt=st.text(max_size=6))
@hsettings(max_examples=60, deadline=None)
def test_anonymize_is_stable_injective_and_forgets_names(rows, salt):
    df = _df(rows)
    cfg = {"salt": salt} if salt else {}
    a = PLANS["anonymize"].run(df, _ctx(cfg)).df
    b = PLANS["anonymize"].run(df.copy(), _ctx(cfg)).df
    assert a["student_id"].tolist() == b["student_id"].tolist()
    assert "name" not in a.columns
    pairs = dict(zip(df["student_id"], a["student_id"]))
    assert len(set(pairs.values())) == len(pairs)  # distinct students keep distinct pseudonyms
    assert not set(a["student_id"]) & set(df["student_id"])


@given(rows=_rows, pass_mark=st.floats(0, 100, allow_nan=False))
@hsettings(max_examples=60, deadline=None)
def test_transform_kpis_are_consistent(rows, pass_mark):
    df = _df(rows)
    ctx = _ctx({})
    ctx.settings = PipelineSettings(pass_mark=pass_mark)
    kpis = PLANS["transform"].run(df, ctx).report["kpis"]
    for k in kpis["subjects"].values():
        assert k["count"] + k["missing"] == len(df)
        if k["count"]:
            eps = 1e-9 * max(1.0, abs(k["max"]))
            assert k["min"] - eps <= k["median"] <= k["max"] + eps
            assert k["min"] - eps <= k["mean"] <= k["max"] + eps
            assert 0.0 <= k["pass_rate_pct"] <= 100.0
        else:
            assert k["mean"] is None and k["pass_rate_pct"] is None
    assert sum(kpis["grades"].values()) == len(df)


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+1+1", "-cmd", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_cells_neutralised_in_published_csv(tmp_path, value):
    from batchops.pipeline.publish import write_csv

    path = write_csv(pd.DataFrame({"student_id": ["S1"], "name": [value], value: ["-5"]}), tmp_path / "r.csv")
    _assert_formula_safe(path)
    assert "-5" in path.read_text()  # numbers stay numbers
