"""Each plan, the registry, plan_config validation, and hypothesis properties."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from batchops.errors import InputError, PipelineError
from batchops.pipeline.plans import PLANS, PlanContext, validate_plan_config
from batchops.pipeline.settings import PipelineSettings


def _frame():
    return pd.DataFrame(
        {
            "student_id": ["S1", "S2", "S3", "S2"],
            "name": ["Ann", "Bob", "Cy", "Bob again"],
            "maths": [95.0, 35.0, 70.0, None],
            "physics": [88.0, 41.0, 55.0, 60.0],
            "guardian_email": ["a@x", "b@x", "c@x", "d@x"],
        },
        index=[2, 3, 4, 5],
    )


def _ctx(config=None, settings=None):
    return PlanContext(
        settings=settings or PipelineSettings(),
        config=config or {},
        subjects=["maths", "physics"],
        numeric_columns=["maths", "physics"],
        column_lookup={"Roll No": "student_id", "Maths": "maths"},
    )


def test_registry_shape():
    assert set(PLANS) >= {"transform", "append", "delete", "custom", "curve", "anonymize", "dedupe"}
    assert PLANS["transform"].publishes == "summary"
    assert all(PLANS[p].publishes == "dataset" for p in PLANS if p != "transform")


def test_transform_kpis():
    out = PLANS["transform"].run(_frame(), _ctx())
    k = out.report["kpis"]["subjects"]["maths"]
    assert k["count"] == 3 and k["missing"] == 1
    assert k["mean"] == pytest.approx(200 / 3) and k["median"] == 70 and k["min"] == 35 and k["max"] == 95
    assert k["pass_rate_pct"] == pytest.approx(200 / 3)  # 35 < 40
    grades = out.report["kpis"]["grades"]
    assert sum(grades.values()) == 4
    assert out.report["kpis"]["top"][0]["student_id"] == "S1"
    assert out.report["kpis"]["bottom"][0]["student_id"] == "S2"
    titles = [t for t, _ in out.tables]
    assert titles == ["Subject KPIs", "Grade distribution", "Top students", "Bottom students"]


def test_append_records_coerced_and_unknown_column():
    df = _frame()
    out = PLANS["append"].run(df, _ctx({"records": [{"Roll No": "S9", "name": "New", "Maths": "77"}]}))
    assert len(out.df) == 5 and out.df["maths"].iloc[-1] == 77.0 and out.df["student_id"].iloc[-1] == "S9"
    out = PLANS["append"].run(df, _ctx({"records": {"student_id": "S1", "name": "Dup"}}))
    assert [f["code"] for f in out.findings] == ["E_DUPLICATE_IDS"]
    with pytest.raises(PipelineError) as exc:
        PLANS["append"].run(df, _ctx({"records": [{"student_id": "S9", "shoe_size": 9}]}))
    assert exc.value.code == "E_UNKNOWN_COLUMN" and "shoe_size" in exc.value.message
    with pytest.raises(PipelineError) as exc:
        PLANS["append"].run(df, _ctx({"records": [{"student_id": "S9", "maths": "lots"}]}))
    assert exc.value.code == "E_RECORD_INVALID"


def test_delete_rules_report_and_warning():
    cfg = {"rules": [{"student_id": "S2"}, {"name": "Nobody"}], "where": ["maths=95"]}
    out = PLANS["delete"].run(_frame(), _ctx(cfg))
    assert out.df["student_id"].tolist() == ["S3"]
    assert [r["removed"] for r in out.report["rules"]] == [2, 0, 1]
    assert [f["code"] for f in out.findings] == ["E_RULE_NO_MATCH"]
    with pytest.raises(PipelineError) as exc:
        PLANS["delete"].run(_frame(), _ctx({"where": ["colour=red"]}))
    assert exc.value.code == "E_UNKNOWN_COLUMN"


def test_custom_keeps_dataset_and_instructions():
    df = _frame()
    out = PLANS["custom"].run(df, _ctx({"instructions": "Print for the notice board."}))
    assert out.df is df and out.report["instructions"] == "Print for the notice board."


def test_curve_shift_capped():
    out = PLANS["curve"].run(_frame(), _ctx({"subject": "physics", "target_mean": 90}))
    assert out.df["physics"].max() <= 100
    assert out.report["capped"] >= 1 and out.report["mean_before"] == pytest.approx(61.0)
    out = PLANS["curve"].run(_frame(), _ctx({"subject": "Maths", "target_mean": 50, "method": "scale"}))
    assert out.df["maths"].mean() == pytest.approx(50)


def test_anonymize_stable_and_names_removed():
    a = PLANS["anonymize"].run(_frame(), _ctx({"salt": "s"})).df
    b = PLANS["anonymize"].run(_frame(), _ctx({"salt": "s"})).df
    c = PLANS["anonymize"].run(_frame(), _ctx({"salt": "other"})).df
    assert "name" not in a.columns and "guardian_email" not in a.columns
    assert a["student_id"].tolist() == b["student_id"].tolist()
    assert a["student_id"].iloc[1] == a["student_id"].iloc[3]  # same student, same pseudonym
    assert a["student_id"].tolist() != c["student_id"].tolist()
    assert not a["student_id"].isin(["S1", "S2", "S3"]).any()


def test_dedupe_keep_first_last():
    first = PLANS["dedupe"].run(_frame(), _ctx({"key": "student_id"})).df
    last = PLANS["dedupe"].run(_frame(), _ctx({"key": ["student_id"], "keep": "last"})).df
    assert first["name"].tolist() == ["Ann", "Bob", "Cy"]
    assert last["name"].tolist() == ["Ann", "Cy", "Bob again"]


@pytest.mark.parametrize(
    "plan,cfg",
    [
        ("nope", {}),
        ("append", {}),
        ("append", {"records": "x"}),
        ("append", {"records": [1, 2]}),
        ("append", {"records": []}),
        ("delete", {}),
        ("delete", {"rules": [{}]}),
        ("delete", {"rules": [{"": "x"}]}),
        ("delete", {"where": ["=x"]}),
        ("delete", {"rules": "student_id=1"}),
        ("curve", {"subject": "maths"}),
        ("curve", {"target_mean": 50}),
        ("dedupe", {"keep": "middle"}),
        ("custom", {"instructions": 5}),
        ("transform", {"top_n": 0}),
    ],
)
def test_validate_plan_config_rejects(plan, cfg):
    with pytest.raises(InputError) as exc:
        validate_plan_config(plan, cfg)
    assert exc.value.code == "E_PLAN_INVALID" and exc.value.exit_code == 2


def test_validate_plan_config_accepts():
    validate_plan_config("transform", {})
    validate_plan_config("append", {"records": {"student_id": "1"}})
    validate_plan_config("delete", {"where": ["student_id=1"]})
    validate_plan_config("custom", {"instructions": "x"})
    validate_plan_config("curve", {"subject": "maths", "target_mean": 60})
    validate_plan_config("dedupe", {})


_rows = st.lists(
    st.tuples(
        st.sampled_from(["S1", "S2", "S3", "S4"]),
        st.sampled_from(["A", "B", "C"]),
        st.one_of(st.none(), st.integers(0, 100)),
    ),
    min_size=0,
    max_size=25,
)


def _df(rows):
    return pd.DataFrame(
        {
            "student_id": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "maths": pd.Series([r[2] for r in rows], dtype="float64"),
        }
    )


@given(rows=_rows, col=st.sampled_from(["student_id", "name", "maths"]), value=st.sampled_from(["S1", "A", "50", "x"]))
@hsettings(max_examples=80, deadline=None)
def test_delete_never_adds_rows(rows, col, value):
    df = _df(rows)
    out = PLANS["delete"].run(df, _ctx({"rules": [{col: value}]})).df
    assert len(out) <= len(df)
    assert out.index.isin(df.index).all()


@given(rows=_rows, keep=st.sampled_from(["first", "last"]))
@hsettings(max_examples=80, deadline=None)
def test_dedupe_idempotent(rows, keep):
    df = _df(rows)
    once = PLANS["dedupe"].run(df, _ctx({"keep": keep})).df
    twice = PLANS["dedupe"].run(once, _ctx({"keep": keep})).df
    assert once.equals(twice)
    assert once["student_id"].is_unique


@given(rows=_rows, target=st.integers(0, 100))
@hsettings(max_examples=60, deadline=None)
def test_curve_stays_in_range(rows, target):
    df = _df(rows)
    if df["maths"].notna().sum() == 0:
        return
    out = PLANS["curve"].run(df, _ctx({"subject": "maths", "target_mean": target})).df
    v = out["maths"].dropna()
    assert ((v >= 0) & (v <= 100)).all()
    assert out["maths"].isna().tolist() == df["maths"].isna().tolist()
