"""Processing plans: a registry of small functions.

A plan takes the validated, typed dataset and returns a :class:`PlanOutcome`:
the processed dataset, a JSON report, findings, and (for plans that publish a
summary rather than the dataset) the report tables. A plan also says how its run
reads: a title for the report, a one-line message for the run record, the notes
the PDF prints, and the columns its payload names (checked before a run is
queued). The runner asks the plan for all of these and never for its name, so
adding a plan is one function and one :data:`PLANS` entry::

    def _shout(df, ctx):                       # df in, PlanOutcome out
        return PlanOutcome(df, {"note": "..."})

    PLANS["shout"] = Plan("shout", _shout, check=_no_options, publishes="dataset",
                          description="...", message=lambda r: r["note"])

``check`` validates the plan_config's *structure* before any file is read (it
raises ``InputError`` with code ``E_PLAN_INVALID``); problems that need the data
(an unknown column) are ``PipelineError`` s raised by the plan itself.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from batchops.errors import InputError, PipelineError
from batchops.pipeline.report_text import delete_lines, report_lines

STEP = "transform"


@dataclass
class PlanContext:
    settings: Any  # PipelineSettings
    config: dict
    subjects: list[str]
    numeric_columns: list[str]
    department: str | None = None
    original_name: str = ""
    column_lookup: dict[str, str] = field(default_factory=dict)  # any spelling -> column
    # numbers of the text columns that hold marks ("AB" -> NaN); the dataset keeps the text
    numeric: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def lookup_of(original_columns, columns) -> dict[str, str]:
        """``column_lookup`` for a loaded table: each header as the file spelled it, and snake-cased."""
        from batchops.pipeline.columns import snake

        lookup = {}
        for orig, canon in zip(original_columns, columns):
            lookup[str(orig)] = canon
            lookup[snake(orig)] = canon
        return lookup

    def numbers(self, df, col: str):
        """Column ``col`` of ``df`` as numbers (for statistics and arithmetic, never published as is)."""
        from batchops.pipeline.summarize import numbers_of

        return numbers_of(df, col, self.numeric)


@dataclass
class PlanOutcome:
    df: Any  # pandas.DataFrame
    report: dict = field(default_factory=dict)
    findings: list[dict] = field(default_factory=list)
    tables: list[tuple[str, Any]] = field(default_factory=list)  # (title, DataFrame)
    stats: Any = None  # describe() of df if the plan computed it (saves summarize a pass)


def _no_message(report: dict) -> str:
    return ""


def _report_notes(report: dict) -> list[str]:
    """The plan's report (what it did) as lines of the PDF's notes."""
    return report_lines(report) if report else []


def _no_notes(report: dict) -> list[str]:
    return []


def _no_columns(cfg: dict) -> list[str]:
    return []


@dataclass(frozen=True)
class Plan:
    name: str
    run: Callable[[Any, PlanContext], PlanOutcome]
    check: Callable[[dict], None]
    publishes: str  # "summary" (the outcome's tables) | "dataset" (the processed rows)
    description: str
    title: str = ""  # what the report is, in the reader's words ("marks summary"); empty: the name
    message: Callable[[dict], str] = _no_message  # report -> what the plan did, for the transform step record
    notes: Callable[[dict], list[str]] = _report_notes  # report -> lines printed under the PDF's title
    columns: Callable[[dict], list[str]] = _no_columns  # plan_config -> the columns it names (preflight)

    @property
    def report_title(self) -> str:
        return self.title or self.name


def _bad(message: str) -> InputError:
    return InputError(message, code="E_PLAN_INVALID")


def _unknown_column(name: str, df) -> PipelineError:
    return PipelineError(
        f"Unknown column '{name}'; the columns are: {', '.join(map(str, df.columns))}.",
        code="E_UNKNOWN_COLUMN",
        step=STEP,
        column=name,
    )


def resolve_column(name: str, df, ctx: PlanContext) -> str:
    """Accept the canonical name, the original header or any synonym."""
    if name in df.columns:
        return name
    from batchops.pipeline.columns import snake, synonym_lookup

    key = snake(name)
    for cand in (
        ctx.column_lookup.get(name),
        ctx.column_lookup.get(key),
        synonym_lookup(ctx.settings.synonyms).get(key),
        key,
    ):
        if cand and cand in df.columns:
            return cand
    raise _unknown_column(name, df)


def _no_options(cfg: dict) -> None:
    return None


# ---------------------------------------------------------------- transform (KPIs)

GRADE_BANDS = (("A+", 90.0), ("A", 80.0), ("B", 70.0), ("C", 60.0), ("D", 50.0))


def _check_transform(cfg: dict) -> None:
    top = cfg.get("top_n", 5)
    if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= 100:
        raise _bad("top_n must be a whole number from 1 to 100.")


_SUBJECT_COLUMNS = ["subject", "count", "missing", "mean", "median", "min", "max", "std", "pass_rate_pct"]


def kpi_tables(df, ctx: PlanContext) -> tuple[dict, list[tuple[str, Any]], Any]:
    import numpy as np
    import pandas as pd

    from batchops.pipeline.summarize import describe

    s = ctx.settings
    subjects = [c for c in ctx.subjects if c in df.columns]
    stats = describe(df, ctx.numeric)  # one pass over every numeric column, shared with summarize
    by_col = {r["column"]: r for r in stats.to_dict("records")}
    values = {col: ctx.numbers(df, col).to_numpy(dtype="float64", na_value=np.nan) for col in subjects}
    kpis: dict[str, Any] = {"subjects": {}, "pass_mark": s.pass_mark}
    rows = []
    for col in subjects:
        kpis["subjects"][col] = _subject_kpis(by_col.get(col), values[col], len(df), s.pass_mark)
        rows.append({"subject": col, **kpis["subjects"][col]})
    tables: list[tuple[str, Any]] = [("Subject KPIs", pd.DataFrame(rows, columns=_SUBJECT_COLUMNS))]
    if subjects:
        avg = _row_means(values, df.index)
        grade_df, kpis["grades"] = _grade_distribution(avg, s)
        tables.append(("Grade distribution", grade_df))
        top_n = int(ctx.config.get("top_n", 5))
        ranked_avg = avg[avg.notna()]
        for title, picked, key in (
            ("Top students", ranked_avg.nlargest(top_n, keep="first"), "top"),
            ("Bottom students", ranked_avg.nsmallest(top_n, keep="first"), "bottom"),
        ):
            t = _ranked(df, picked)
            tables.append((title, t))
            kpis[key] = [{k: _plain_value(val) for k, val in r.items()} for r in t.to_dict("records")]
    return kpis, tables, stats


def _subject_kpis(d: dict | None, v, n_rows: int, pass_mark: float) -> dict[str, float | None]:
    """One subject's KPIs from its describe() row ``d`` and its marks ``v`` (NaN: missing)."""
    import numpy as np

    n = int(d["count"]) if d else 0
    if not (d and n):
        return {
            "count": 0,
            "missing": n_rows,
            "mean": None,
            "median": None,
            "min": None,
            "max": None,
            "std": None,
            "pass_rate_pct": None,
        }
    passed = int(np.count_nonzero(v >= pass_mark))
    std = d["std"]
    return {
        "count": n,
        "missing": n_rows - n,
        "mean": float(d["mean"]),
        "median": float(d["median"]),
        "min": float(d["min"]),
        "max": float(d["max"]),
        "std": float(std) if std == std else 0.0,
        "pass_rate_pct": passed / n * 100.0,
    }


def _row_means(values: dict, index):
    """Each student's mean over the subjects, skipping missing marks (as DataFrame.mean(axis=1)).

    Summed column by column in numpy: ~4x faster than the pandas axis=1 reduction.
    """
    import numpy as np
    import pandas as pd

    total = np.zeros(len(index))
    marks = np.zeros(len(index), dtype=np.int64)
    for v in values.values():
        ok = ~np.isnan(v)
        total += np.where(ok, v, 0.0)
        marks += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(total / marks, index=index)


def _grade_distribution(avg, s) -> tuple[Any, dict[str, int]]:
    """Students per grade band of their mean (as a share of score_max); F below the pass mark."""
    import pandas as pd

    pct = avg / s.score_max * 100.0 if s.score_max else avg
    pass_pct = s.pass_mark / s.score_max * 100.0 if s.score_max else s.pass_mark
    bands = [(g, lo) for g, lo in GRADE_BANDS if lo > pass_pct] + [("E", pass_pct)]
    counts = []
    upper = math.inf
    for g, lo in bands:
        counts.append((g, f">= {lo:g}%", int(((pct >= lo) & (pct < upper)).sum())))
        upper = lo
    counts.append(("F", f"< {pass_pct:g}%", int((pct < pass_pct).sum())))
    graded = int(avg.notna().sum())
    grade_df = pd.DataFrame(
        [
            {"grade": g, "band": b, "students": n, "share_pct": (n / graded * 100.0) if graded else 0.0}
            for g, b, n in counts
        ]
    )
    return grade_df, {g: n for g, _, n in counts}


def _ranked(df, picked):
    """The picked students' IDs and names with their mean, ranked from 1."""
    import pandas as pd

    ident = [c for c in ("student_id", "name") if c in df.columns]
    t = df.loc[picked.index, ident].copy() if ident else pd.DataFrame(index=picked.index)
    t["average"] = picked.to_numpy()
    t = t.reset_index(drop=True)
    t.insert(0, "rank", range(1, len(t) + 1))
    return t


def _plain_value(val):
    """A table cell as JSON: NaN -> None, numpy scalars -> Python numbers."""
    if isinstance(val, float) and math.isnan(val):
        return None
    return val.item() if hasattr(val, "item") else val


def plan_transform(df, ctx: PlanContext) -> PlanOutcome:
    kpis, tables, stats = kpi_tables(df, ctx)
    findings = []
    if not ctx.subjects:
        from batchops.pipeline.findings import finding

        findings.append(finding("E_NO_SUBJECTS", "No numeric subject columns were found, so there are no marks KPIs."))
    return PlanOutcome(df, {"kpis": kpis, "subjects": list(ctx.subjects)}, findings, tables, stats=stats)


# ---------------------------------------------------------------- append


def _records(cfg: dict) -> list[dict]:
    recs = cfg.get("records")
    if isinstance(recs, dict):
        recs = [recs]
    return recs if recs is not None else []  # (_check_append refuses a missing records)


def _check_append(cfg: dict) -> None:
    recs = cfg.get("records")
    if recs is None:
        raise _bad("The append plan needs records: a JSON object or a list of objects.")
    if not isinstance(recs, (list, dict)):
        raise _bad(f"records must be a JSON object or a list of objects, not {type(recs).__name__}.")
    recs = _records(cfg)
    if not recs:
        raise _bad("records is an empty list; give at least one record to append.")
    for i, r in enumerate(recs, start=1):
        if not isinstance(r, dict) or not r:
            raise _bad(f"record {i} must be a non-empty JSON object of column: value.")
        for k, v in r.items():
            if isinstance(v, (dict, list)):
                raise _bad(f"record {i}, column '{k}': values must be plain text or numbers.")


def plan_append(df, ctx: PlanContext) -> PlanOutcome:
    import pandas as pd

    rows = [_record_row(i, r, df, ctx) for i, r in enumerate(_records(ctx.config), start=1)]
    new = _typed_like(pd.DataFrame(rows, columns=df.columns), df)
    start = (int(df.index.max()) + 1) if len(df) and pd.api.types.is_integer_dtype(df.index.dtype) else len(df)
    new.index = pd.RangeIndex(start, start + len(new))
    findings = _appended_id_findings(new, df) + _appended_range_findings(rows, ctx)
    out = pd.concat([df, new]) if len(df) else new
    return PlanOutcome(out, {"appended": len(new)}, findings)


def _record_row(i: int, record: dict, df, ctx: PlanContext) -> dict[str, Any]:
    """Record ``i`` keyed by the dataset's columns: marks as numbers, text trimmed ('' is missing)."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        col = resolve_column(str(key), df, ctx)
        row[col] = _record_mark(i, col, value) if col in ctx.numeric_columns else _record_text(value)
    return row


def _record_mark(i: int, col: str, value) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return float("nan")
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return float(str(value).strip())
    except ValueError:
        raise PipelineError(
            f"record {i}: {col} must be a number, not '{value}'.",
            code="E_RECORD_INVALID",
            step=STEP,
            column=col,
        ) from None


def _record_text(value) -> str | None:
    return None if value is None else str(value).strip() or None


def _typed_like(new, df):
    """The appended rows in the dataset's dtypes (a text column takes the record's value as text)."""
    import pandas as pd

    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col].dtype):
            new[col] = new[col].map(_as_text).astype(df[col].dtype if df[col].dtype != object else object)
            continue
        try:
            new[col] = new[col].astype(df[col].dtype)
        except (TypeError, ValueError):
            pass
    return new


def _appended_id_findings(new, df) -> list[dict]:
    """An appended record without a student ID, or with one the dataset (or an earlier record) has."""
    from batchops.pipeline.findings import finding

    if "student_id" not in df.columns:
        return []
    findings = []
    seen = set(df["student_id"].dropna())
    for i, v in enumerate(new["student_id"], start=1):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            findings.append(
                finding(
                    "E_MISSING_ID",
                    f"Appended record {i} has no student ID.",
                    location=f"record {i}",
                    column="student_id",
                )
            )
        elif v in seen:
            findings.append(
                finding(
                    "E_DUPLICATE_IDS",
                    f"Appended record {i}: student ID {v} already exists.",
                    location=f"record {i}",
                    column="student_id",
                )
            )
        else:
            seen.add(v)
    return findings


def _appended_range_findings(rows: list[dict], ctx: PlanContext) -> list[dict]:
    from batchops.pipeline.findings import finding

    lo, hi = ctx.settings.score_min, ctx.settings.score_max
    return [
        finding(
            "E_OUT_OF_RANGE",
            f"Appended record {i}: {col} {v:g} is outside {lo:g}-{hi:g}.",
            location=f"record {i}",
            column=col,
        )
        for i, r in enumerate(rows, start=1)
        for col, v in r.items()
        if col in ctx.subjects and isinstance(v, float) and not math.isnan(v) and not lo <= v <= hi
    ]


def _as_text(v):
    """A record value written into a text column: 85.0 -> "85", None/NaN -> missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


# ---------------------------------------------------------------- delete


def _rules(cfg: dict) -> list[dict]:
    rules: list = []
    raw = cfg.get("rules")
    if isinstance(raw, dict):
        raw = [raw]
    rules.extend(raw or [])
    for w in cfg.get("where") or []:
        if isinstance(w, str):
            col, sep, val = w.partition("=")
            rules.append({col.strip(): val.strip()} if sep else {"": w})
        else:
            rules.append(w)
    return rules


def _check_delete(cfg: dict) -> None:
    raw = cfg.get("rules")
    if raw is not None and not isinstance(raw, (list, dict)):
        raise _bad('rules must be a JSON object or a list of objects like {"column": "value"}.')
    where = cfg.get("where")
    if where is not None and not isinstance(where, (list, tuple)):
        raise _bad("where must be a list of COLUMN=VALUE strings.")
    rules = _rules(cfg)
    if not rules:
        raise _bad("The delete plan needs at least one rule (--where COLUMN=VALUE or --rules JSON).")
    for i, r in enumerate(rules, start=1):
        if not isinstance(r, dict) or not r:
            raise _bad(f"rule {i} must be a non-empty object of column: value.")
        for k, v in r.items():
            if not isinstance(k, str) or not k.strip():
                raise _bad(f"rule {i} has no column name (write COLUMN=VALUE).")
            if isinstance(v, (dict, list)):
                raise _bad(f"rule {i}, column '{k}': the value must be text or a number.")


def _matches(df, col: str, value, ctx: PlanContext):
    import pandas as pd

    s = df[col]
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s == number if number is not None else pd.Series(False, index=df.index)
    text = "" if value is None else str(value).strip()
    same = (s.astype("str") == text) & s.notna()
    if number is not None and col in ctx.numeric:  # marks kept as text: "85.0" matches 85
        same = same | (ctx.numbers(df, col) == number)
    return same


def plan_delete(df, ctx: PlanContext) -> PlanOutcome:
    from batchops.pipeline.findings import finding

    report = []
    findings = []
    for i, rule in enumerate(_rules(ctx.config), start=1):
        mask = None
        resolved = {}
        for key, value in rule.items():
            col = resolve_column(key, df, ctx)
            resolved[col] = value
            m = _matches(df, col, value, ctx)
            mask = m if mask is None else (mask & m)
        assert mask is not None  # _check_delete refuses a rule with no column
        removed = int(mask.sum())
        report.append({"rule": resolved, "removed": removed})
        if removed:
            df = df.loc[~mask.to_numpy()]
        else:
            desc = " and ".join(f"{k}={v}" for k, v in resolved.items())
            findings.append(
                finding("E_RULE_NO_MATCH", f"Delete rule {i} ({desc}) matched no rows.", location=f"rule {i}")
            )
    if len(df) == 0:
        findings.append(finding("E_ALL_ROWS_DELETED", "The delete rules removed every row; the report is empty."))
    return PlanOutcome(df, {"rules": report, "removed": sum(r["removed"] for r in report)}, findings)


# A plan that changes nothing it was asked to change: published, but flagged ("published with
# warnings"); with strict, a failure before anything is published.
NO_EFFECT_CODES = frozenset({"E_RULE_NO_MATCH"})


def no_effect(findings: list[dict]) -> list[dict]:
    return [f for f in findings if f.get("code") in NO_EFFECT_CODES]


# ---------------------------------------------------------------- custom


def _check_custom(cfg: dict) -> None:
    ins = cfg.get("instructions", "")
    if ins is not None and not isinstance(ins, str):
        raise _bad("instructions must be text.")


def plan_custom(df, ctx: PlanContext) -> PlanOutcome:
    from batchops.pipeline.findings import finding

    ins = (ctx.config.get("instructions") or "").strip()
    findings = [] if ins else [finding("E_NO_INSTRUCTIONS", "The custom plan was run without instructions.")]
    return PlanOutcome(df, {"instructions": ins}, findings)


# ---------------------------------------------------------------- curve


def _check_curve(cfg: dict) -> None:
    subj = cfg.get("subject") or cfg.get("column")
    if not isinstance(subj, str) or not subj.strip():
        raise _bad("The curve plan needs subject: the column to curve.")
    tgt = cfg.get("target_mean")
    if not isinstance(tgt, (int, float)) or isinstance(tgt, bool) or math.isnan(float(tgt)):
        raise _bad("The curve plan needs target_mean: a number.")
    if cfg.get("method", "shift") not in ("shift", "scale"):
        raise _bad("curve method must be 'shift' or 'scale'.")


def plan_curve(df, ctx: PlanContext) -> PlanOutcome:
    import pandas as pd

    s = ctx.settings
    subject = cast(str, ctx.config.get("subject") or ctx.config.get("column"))  # a str: _check_curve
    col = resolve_column(subject, df, ctx)
    if col not in ctx.numeric_columns:
        raise PipelineError(f"Column '{col}' holds no marks, so it cannot be curved.", code="E_PLAN_INVALID", step=STEP)
    target = float(ctx.config["target_mean"])
    if not s.score_min <= target <= s.score_max:
        raise PipelineError(
            f"target_mean {target:g} is outside {s.score_min:g}-{s.score_max:g}.", code="E_PLAN_INVALID", step=STEP
        )
    v = ctx.numbers(df, col).astype("float64")
    before = float(v.mean()) if v.notna().any() else None
    method = ctx.config.get("method", "shift")
    if before is None:
        raise PipelineError(f"Column '{col}' has no marks to curve.", code="E_PLAN_INVALID", step=STEP)
    if method == "scale" and before:
        curved = v * (target / before)
    else:
        curved = v + (target - before)
    capped = int(((curved > s.score_max) | (curved < s.score_min)).sum())
    curved = curved.clip(lower=s.score_min, upper=s.score_max).round(2)
    df = df.copy()
    if pd.api.types.is_numeric_dtype(df[col].dtype):
        df[col] = curved
    else:  # marks that are not numbers ("AB") stay as written next to the curved ones
        df[col] = df[col].astype(object).where(curved.isna(), curved.map(_as_text))
    after = float(curved.mean())
    from batchops.pipeline.findings import finding

    changed = finding(
        "E_VALUES_CHANGED",
        f"The curve plan changed {int(curved.notna().sum()):,} mark(s) of {col} ({method}, mean {before:.2f} -> "
        f"{after:.2f}); {capped:,} were capped at {s.score_min:g}-{s.score_max:g}.",
        column=col,
    )
    return PlanOutcome(
        df,
        {
            "subject": col,
            "method": method,
            "target_mean": target,
            "mean_before": round(before, 4),
            "mean_after": round(after, 4),
            "capped": capped,
        },
        [changed],
    )


# ---------------------------------------------------------------- anonymize

PII_COLUMNS = (
    "name",
    "guardian_email",
    "email",
    "phone",
    "mobile",
    "address",
    "dob",
    "date_of_birth",
    "father_name",
    "mother_name",
    "guardian_name",
    "guardian_phone",
)


def _check_anonymize(cfg: dict) -> None:
    salt = cfg.get("salt", "")
    if not isinstance(salt, str):
        raise _bad("salt must be text.")
    drop = cfg.get("drop", [])
    if not isinstance(drop, list) or not all(isinstance(c, str) for c in drop):
        raise _bad("drop must be a list of column names.")


def pseudonym(value: str, salt: str) -> str:
    return "ANON-" + hashlib.sha256(f"{salt}\x1f{value}".encode()).hexdigest()[:12].upper()


def plan_anonymize(df, ctx: PlanContext) -> PlanOutcome:
    import pandas as pd

    salt = ctx.config.get("salt") or "batchops"
    extra = [resolve_column(c, df, ctx) for c in ctx.config.get("drop", [])]
    drop = [c for c in df.columns if c in PII_COLUMNS or c.endswith("_email") or c.endswith("_phone") or c in extra]
    df = df.drop(columns=drop)
    if "student_id" in df.columns:
        ids = df["student_id"]
        uniq = pd.unique(ids.dropna())
        mapping = {v: pseudonym(str(v), salt) for v in uniq}
        df = df.assign(student_id=ids.map(mapping).astype("str"))
    return PlanOutcome(
        df,
        {
            "removed_columns": drop,
            "pseudonymised": "student_id" in df.columns,
            "custom_salt": bool(ctx.config.get("salt")),
        },
    )


# ---------------------------------------------------------------- dedupe


def _check_dedupe(cfg: dict) -> None:
    key = cfg.get("key", ["student_id"])
    if isinstance(key, str):
        key = [key]
    if not isinstance(key, list) or not key or not all(isinstance(k, str) and k.strip() for k in key):
        raise _bad("dedupe key must be a column name or a list of column names.")
    if cfg.get("keep", "first") not in ("first", "last"):
        raise _bad("dedupe keep must be 'first' or 'last'.")


def plan_dedupe(df, ctx: PlanContext) -> PlanOutcome:
    cols = [resolve_column(k, df, ctx) for k in _dedupe_key(ctx.config)]
    keep = ctx.config.get("keep", "first")
    dup = df.duplicated(subset=cols, keep=keep)
    removed = int(dup.sum())
    if removed:
        df = df.loc[~dup.to_numpy()]
    return PlanOutcome(df, {"key": cols, "keep": keep, "removed": removed})


def _custom_notes(report: dict) -> list[str]:
    return ["Instructions: " + report["instructions"]] if report.get("instructions") else []


def _curve_message(report: dict) -> str:
    return f"{report.get('subject')} mean {report.get('mean_before'):.2f} -> {report.get('mean_after'):.2f}"


def _dedupe_key(cfg: dict) -> list[str]:
    key = cfg.get("key", ["student_id"])
    return [key] if isinstance(key, str) else [str(k) for k in key]


PLANS: dict[str, Plan] = {
    "transform": Plan(
        "transform",
        plan_transform,
        _check_transform,
        "summary",
        "KPI summary: per subject mean, median, min, max, std, pass rate, grades, top/bottom",
        title="marks summary",
        notes=_no_notes,
        message=lambda r: f"KPIs for {len(r.get('subjects', []))} subject(s)",
    ),
    "append": Plan(
        "append",
        plan_append,
        _check_append,
        "dataset",
        "append records (JSON list or object)",
        title="records added",
        message=lambda r: f"{r.get('appended', 0)} record(s) appended",
        columns=lambda cfg: [str(k) for rec in (_records(cfg) or []) if isinstance(rec, dict) for k in rec],
    ),
    "delete": Plan(
        "delete",
        plan_delete,
        _check_delete,
        "dataset",
        "delete rows matching exact rules",
        title="records removed",
        notes=delete_lines,
        message=lambda r: f"{r.get('removed', 0)} row(s) removed by {len(r.get('rules', []))} rule(s)",
        columns=lambda cfg: [str(k) for rule in _rules(cfg) if isinstance(rule, dict) for k in rule],
    ),
    "custom": Plan(
        "custom",
        plan_custom,
        _check_custom,
        "dataset",
        "store instructions, publish dataset as is",
        title="records",
        notes=_custom_notes,
    ),
    "curve": Plan(
        "curve",
        plan_curve,
        _check_curve,
        "dataset",
        "shift or scale a subject to a target mean, capped",
        title="adjusted marks",
        message=_curve_message,
        columns=lambda cfg: [str(cfg.get("subject") or cfg.get("column") or "")],
    ),
    "anonymize": Plan(
        "anonymize",
        plan_anonymize,
        _check_anonymize,
        "dataset",
        "stable pseudonymous IDs (salted hash), names and contacts removed",
        title="anonymised records",
        message=lambda r: f"removed {', '.join(r.get('removed_columns', [])) or 'no columns'}",
        columns=lambda cfg: [str(c) for c in cfg.get("drop") or []],
    ),
    "dedupe": Plan(
        "dedupe",
        plan_dedupe,
        _check_dedupe,
        "dataset",
        "drop rows repeating a key, keep first or last",
        title="duplicates removed",
        message=lambda r: f"{r.get('removed', 0)} duplicate row(s) removed on {', '.join(r.get('key', []))}",
        columns=_dedupe_key,
    ),
}


def validate_plan_config(plan: str, plan_config: dict | None) -> None:
    """Reject an unknown plan or a structurally bad payload before a run starts."""
    if plan not in PLANS:
        raise InputError(f"Unknown plan '{plan}'; choose one of: {', '.join(PLANS)}.", code="E_PLAN_INVALID")
    if plan_config is None:
        plan_config = {}
    if not isinstance(plan_config, dict):
        raise _bad("The plan configuration must be a JSON object.")
    PLANS[plan].check(plan_config)
