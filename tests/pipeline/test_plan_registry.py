"""A plan is one function and one registry entry: the runner knows none by name.

Each test registers a throwaway plan (removed again by monkeypatch) and runs it end to
end: the run record, the CSV and the PDF say what the plan says about itself.
"""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from pipeline_helpers import pdf_text

from batchops.pipeline.plans import PLANS, Plan, PlanOutcome
from batchops.pipeline.preflight import named_columns


def _shout(df, ctx) -> PlanOutcome:
    col = ctx.config["column"]
    out = df.assign(**{col: df[col].str.upper()})
    return PlanOutcome(out, {"shouted": col})


def _check_shout(cfg: dict) -> None:
    return None


SHOUT = Plan(
    "shout",
    _shout,
    _check_shout,
    "dataset",
    "upper-case one text column",
    title="loud records",
    message=lambda r: f"{r['shouted']} in capitals",
    notes=lambda r: [f"Shouted column: {r['shouted']}"],
    columns=lambda cfg: [cfg["column"]],
)


def _head_count(df, ctx) -> PlanOutcome:
    table = pd.DataFrame({"what": ["students"], "count": [len(df)]})
    return PlanOutcome(df, {"students": len(df)}, tables=[("Head count", table)])


HEAD_COUNT = Plan(
    "head_count",
    _head_count,
    _check_shout,
    "summary",
    "how many students",
    title="head count",
    message=lambda r: f"{r['students']} student(s)",
)


def test_a_new_dataset_plan_runs_end_to_end(samples_dir, run, monkeypatch):
    monkeypatch.setitem(PLANS, "shout", SHOUT)
    res = run(samples_dir / "gradebook_science.csv", plan="shout", plan_config={"column": "name"}, department="Science")

    transform = res.steps[2]
    assert transform.status == "ok"
    assert transform.message.endswith("; plan shout: name in capitals")
    with open(res.csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 40 and rows[0]["name"] == "PARI NAIR"
    text = pdf_text(res.pdf_path)
    assert "Science — loud records, 28 Nov 2026" in text  # the plan's title, not its name
    assert "Shouted column: name" in text  # the plan's own notes
    assert "PARI NAIR" in text
    assert res.summary["plan"] == "shout" and res.summary["publishes"] == "dataset"
    assert res.summary["plan_report"] == {"shouted": "name"}
    assert named_columns("shout", {"column": "Student Name"}) == ["Student Name"]  # the preflight asks the plan


def test_a_new_summary_plan_publishes_its_tables(samples_dir, run, monkeypatch):
    monkeypatch.setitem(PLANS, "head_count", HEAD_COUNT)
    res = run(samples_dir / "gradebook_science.csv", plan="head_count")

    assert res.steps[2].message.endswith("; plan head_count: 40 student(s)")
    with open(res.csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    sections = list(dict.fromkeys(r["section"] for r in rows))
    assert sections == ["Metadata", "Head count", "Schema", "Statistics"]
    assert next(r for r in rows if r["section"] == "Head count")["count"] == "40"
    text = pdf_text(res.pdf_path)
    assert text.splitlines()[1].startswith("Head count, 28 Nov 2026")  # title under the school's name
    assert "Head count" in text and "Statistics" not in text  # the plan's tables, not the dataset
    assert named_columns("head_count", {}) == []


def test_an_unregistered_plan_is_refused(samples_dir, run):
    from batchops.errors import InputError

    with pytest.raises(InputError) as exc:
        run(samples_dir / "gradebook_science.csv", plan="shout", plan_config={"column": "name"})
    assert exc.value.code == "E_PLAN_INVALID"
