"""Run the five steps: standardize -> validate -> transform -> summarize -> publish.

``run_pipeline`` is the only entry point the services call. It is pure: it reads
``req.source``, writes two reports into ``req.out_dir`` and returns plain objects.
A failing step raises ``PipelineError`` with ``.step`` set, the findings gathered
so far, and ``details["steps"]`` holding the step records up to the failure.

Each step is a module-level function ``step_x(state) -> StepDone`` with one job: it
reads what earlier steps left on the :class:`RunState` and adds its own part.
``_Run.step`` times it, records it and turns any exception into a coded
``PipelineError``. Nothing here knows a plan by name: the :class:`~batchops.pipeline.plans.Plan`
says how its run reads (title, message, notes) and which shape it publishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from batchops.errors import BatchOpsError, PipelineError
from batchops.pipeline.findings import count_codes
from batchops.pipeline.plans import PLANS, Plan, PlanContext, PlanOutcome, no_effect, validate_plan_config
from batchops.pipeline.settings import PipelineSettings
from batchops.pipeline.standardize import standardize

if TYPE_CHECKING:
    from batchops.pipeline.frame import Loaded
    from batchops.pipeline.validate import Validation


@dataclass
class PipelineRequest:
    source: Path
    original_name: str
    out_dir: Path
    department: str | None = None
    plan: str = "transform"
    plan_config: dict = field(default_factory=dict)
    sheet: str | None = None
    table: int | None = None  # PDF: which of several tables to read (1-based)
    force_publish: bool = False  # an operator who has looked publishes a table the confidence gate doubts
    encoding: str | None = None  # forces the text encoding of a CSV (None: detect it)
    upload_id: int | None = None
    generated_at: str = ""
    strict: bool = False  # a plan that changes nothing it was asked to change fails (E_PLAN_NO_EFFECT)


@dataclass
class StepRecord:
    name: str
    status: str  # running | ok | failed
    started_at: datetime
    duration_s: float | None
    rows_in: int | None
    rows_out: int | None
    message: str
    findings_count: int = 0
    error_code: str | None = None


@dataclass
class PipelineResult:
    rows_in: int
    rows_out: int
    steps: list[StepRecord]
    findings: list[dict]
    summary: dict
    csv_path: Path
    pdf_path: Path


@dataclass
class RunState:
    """What the steps hand on to each other: the request, then each step's result as it is made."""

    req: PipelineRequest
    settings: PipelineSettings
    plan: Plan
    name: str  # the file's name as the operator knows it
    findings: list[dict] = field(default_factory=list)  # every step's so far, in order
    # set by standardize / validate / transform / summarize (read only by later steps)
    loaded: Loaded = field(init=False)
    rows_in: int = field(init=False)
    validation: Validation = field(init=False)
    outcome: PlanOutcome = field(init=False)
    rows_out: int = field(init=False)
    summary: dict = field(init=False)
    summary_tables: list[tuple[str, Any]] = field(init=False)  # (title, DataFrame): metadata, schema, statistics
    reports: tuple[Path, Path] = field(init=False)  # set by publish: the CSV and the PDF


class StepDone(NamedTuple):
    rows_out: int
    message: str  # one line for the step record
    findings: list[dict]


Step = Callable[[RunState], StepDone]


def run_pipeline(
    req: PipelineRequest,
    settings: PipelineSettings,
    on_step: Callable[[StepRecord], None] | None = None,
) -> PipelineResult:
    validate_plan_config(req.plan, req.plan_config)
    state = RunState(req, settings, PLANS[req.plan], req.original_name or Path(req.source).name)
    run = _Run(on_step, state)
    run.step("standardize", None, step_standardize)
    run.step("validate", state.rows_in, step_validate)
    run.step("transform", state.rows_in, step_transform)
    run.step("summarize", state.rows_out, step_summarize)
    run.step("publish", state.rows_out, step_publish)
    return PipelineResult(state.rows_in, state.rows_out, run.steps, state.findings, state.summary, *state.reports)


class _Run:
    """Times and records each step; a failure becomes a coded PipelineError carrying the run so far."""

    def __init__(self, on_step: Callable[[StepRecord], None] | None, state: RunState):
        self.on_step = on_step
        self.state = state
        self.steps: list[StepRecord] = []

    def _emit(self, rec: StepRecord) -> None:
        if self.on_step is not None:
            self.on_step(rec)

    def step(self, name: str, rows_in: int | None, fn: Step) -> None:
        rec = StepRecord(name, "running", datetime.now(timezone.utc), None, rows_in, None, "")
        t0 = time.perf_counter()
        self.steps.append(rec)
        self._emit(rec)
        try:
            done = fn(self.state)
        except Exception as exc:
            err = _as_pipeline_error(exc, name)
            self._failed(rec, err, time.perf_counter() - t0)
            if err is not exc:
                raise err from exc
            raise
        except BaseException:  # KeyboardInterrupt / SystemExit: record, then let it through
            rec.status, rec.duration_s, rec.error_code = "failed", time.perf_counter() - t0, "E_INTERRUPTED"
            rec.message = "interrupted"
            self._emit(rec)
            raise
        self.state.findings.extend(done.findings)
        rec.status = "ok"
        rec.duration_s = time.perf_counter() - t0
        rec.rows_out = done.rows_out
        rec.message = done.message
        rec.findings_count = len(done.findings)
        self._emit(rec)

    def _failed(self, rec: StepRecord, err: PipelineError, duration: float) -> None:
        findings = self.state.findings
        if err.findings and err.findings is not findings:
            findings.extend(err.findings)
        rec.status = "failed"
        rec.duration_s = duration
        rec.message = err.message
        rec.error_code = err.code
        rec.findings_count = len(err.findings)
        self._emit(rec)
        err.findings = findings
        err.details["steps"] = self.steps


def _as_pipeline_error(exc: Exception, step: str) -> PipelineError:
    if isinstance(exc, PipelineError):
        exc.step = exc.step or step
        return exc
    if isinstance(exc, MemoryError):
        return PipelineError(f"The {step} step ran out of memory.", code="E_OUT_OF_MEMORY", step=step)
    if isinstance(exc, BatchOpsError):
        return PipelineError(exc.message, code=exc.code, step=step)
    return PipelineError(
        f"Unexpected error in the {step} step: {type(exc).__name__}: {exc}", code="E_INTERNAL", step=step
    )


# ---------------------------------------------------------------- 1. standardize


def step_standardize(st: RunState) -> StepDone:
    st.loaded = standardize(st.req, st.settings)
    st.rows_in = len(st.loaded.df)
    return StepDone(st.rows_in, st.loaded.describe(), list(st.loaded.findings))


# ---------------------------------------------------------------- 2. validate


def step_validate(st: RunState) -> StepDone:
    from batchops.pipeline.validate import validate

    st.validation = validate(st.loaded, st.settings, st.req.department)
    counts = st.validation.counts()
    msg = f"{st.rows_in:,} rows, {len(st.loaded.df.columns)} columns"
    if counts:
        msg += "; " + ", ".join(f"{n} {c}" for c, n in sorted(counts.items()))
    else:
        msg += "; no problems found"
    return StepDone(st.rows_in, msg, st.validation.findings)


# ---------------------------------------------------------------- 3. transform (the plan)


def step_transform(st: RunState) -> StepDone:
    import pandas as pd

    outcome = st.plan.run(st.loaded.df, _plan_context(st))  # published as read: marks that are not numbers stay
    kept = ", ".join(st.validation.numeric) or "none"
    msg = f"strings trimmed; numbers with text marks kept as written: {kept}; plan {st.plan.name}"
    extra = st.plan.message(outcome.report)
    if extra:
        msg += f": {extra}"
    assert isinstance(outcome.df, pd.DataFrame)
    if st.req.strict:
        _refuse_no_effect(outcome.findings)
    st.outcome = outcome
    st.rows_out = len(outcome.df)
    return StepDone(st.rows_out, msg, outcome.findings)


def _plan_context(st: RunState) -> PlanContext:
    v = st.validation
    return PlanContext(
        settings=st.settings,
        config=dict(st.req.plan_config or {}),
        subjects=list(v.subjects),
        numeric_columns=list(v.numeric_columns),
        department=st.req.department,
        original_name=st.name,
        column_lookup=PlanContext.lookup_of(st.loaded.original_columns, st.loaded.df.columns),
        numeric=dict(v.numeric),
    )


def _refuse_no_effect(findings: list[dict]) -> None:
    """strict: a plan that changed nothing it was asked to change fails before anything is published."""
    missed = no_effect(findings)
    if missed:
        raise PipelineError(
            "strict: the plan changed nothing it was asked to change, so nothing was published: "
            + " ".join(f["message"] for f in missed),
            code="E_PLAN_NO_EFFECT",
            step="transform",
            findings=findings,
        )


# ---------------------------------------------------------------- 4. summarize


def step_summarize(st: RunState) -> StepDone:
    from batchops.pipeline import summarize as sm

    out_df, outcome = st.outcome.df, st.outcome
    stats = outcome.stats if outcome.stats is not None else sm.describe(out_df, st.validation.numeric)
    meta = sm.metadata(
        upload_id=st.req.upload_id,
        department=st.req.department,
        filename=st.name,
        format=_file_format(st),
        plan=st.plan.name,
        rows_in=st.rows_in,
        rows_out=st.rows_out,
        columns=len(out_df.columns),
        generated=st.req.generated_at,
    )
    sch = sm.schema(out_df)
    schema_df = sm.metadata(**sch).rename(columns={"item": "column", "value": "dtype"})
    st.summary = _summary(st, sch, sm.frame_records(stats))
    st.summary_tables = [("Metadata", meta), ("Schema", schema_df), ("Statistics", stats)]
    return StepDone(st.rows_out, f"{len(stats)} numeric column(s) described", [])


def _file_format(st: RunState):
    return st.loaded.info.get("format", st.loaded.kind)


def _summary(st: RunState, schema: dict, statistics: list[dict]) -> dict:
    """The run's JSON summary (stored with the run; the reports' paths are added by publish)."""
    loaded, req, plan, report = st.loaded, st.req, st.plan, st.outcome.report
    detected = {k: v for k, v in loaded.info.items() if k != "delimiter_name"}
    return {
        "detected": detected,
        **{
            k: detected.get(k)
            for k in ("format", "encoding", "delimiter", "sheet", "header_row", "pages", "layout")
            if k in detected
        },
        "original_name": st.name,
        "upload_id": req.upload_id,
        "department": req.department,
        "original_columns": list(loaded.original_columns),
        "column_map": dict(zip(loaded.original_columns, map(str, loaded.df.columns))),
        "schema": schema,
        "plan": plan.name,
        "plan_config": _plain_json(req.plan_config),
        "plan_report": _plain_json(report),
        "publishes": plan.publishes,
        "statistics": statistics,
        "kpis": _plain_json(report.get("kpis")) if plan.publishes == "summary" else None,
        "rows_in": st.rows_in,
        "rows_out": st.rows_out,
        "findings_by_code": count_codes(st.findings),
    }


# ---------------------------------------------------------------- 5. publish


def step_publish(st: RunState) -> StepDone:
    from batchops.pipeline import publish as pub
    from batchops.pipeline import report_text as rt
    from batchops.pipeline.findings import finding

    out_dir = Path(st.req.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = pub.safe_stem(st.name)
    csv_path, pdf_path = out_dir / f"{stem}_report.csv", out_dir / f"{stem}_report.pdf"
    csv_df, blocks = _LAYOUTS[st.plan.publishes](st)
    req = st.req
    about = rt.about_lines(
        upload_id=req.upload_id,
        filename=st.name,
        file_format=str(_file_format(st) or ""),
        department=req.department,
        plan=st.plan.name,
        plan_config=req.plan_config,
        rows_in=st.rows_in,
        rows_out=st.rows_out,
        columns=len(st.outcome.df.columns),
        generated_at=req.generated_at,
    )
    spec = pub.PdfSpec(
        title=rt.report_title(st.settings.report_title, req.department, st.plan.report_title, req.generated_at),
        school=st.settings.school_name,
        generated_at=req.generated_at,
        blocks=blocks,
        notes=_notes(st),
        about=about,
    )
    missing = _write_reports(csv_df, csv_path, spec, pdf_path)
    st.reports = (csv_path, pdf_path)
    st.summary["reports"] = {"csv": str(csv_path), "pdf": str(pdf_path)}
    found = (
        [
            finding(
                "E_PDF_GLYPHS_MISSING",
                f"The PDF cannot draw {', '.join(sorted(set(missing)))} (the bundled font lacks them); "
                "the CSV has the text intact.",
            )
        ]
        if missing
        else []
    )
    return StepDone(st.rows_out, f"wrote {csv_path.name} ({len(csv_df):,} rows) and {pdf_path.name}", found)


def _notes(st: RunState) -> list[str]:
    """The plan's own lines, then a count of the findings (the run record lists each one)."""
    notes = list(st.plan.notes(st.outcome.report))
    errors = sum(1 for f in st.findings if f.get("severity") == "error")
    warnings = len(st.findings) - errors
    if st.findings:
        notes.append(f"Findings: {warnings:,} warning(s), {errors:,} error(s) — see the run record for each location.")
    return notes


def _summary_layout(st: RunState) -> tuple[Any, list]:
    """A summary plan publishes its tables: the CSV in sections, the PDF the tables alone."""
    from batchops.pipeline import publish as pub
    from batchops.pipeline import summarize as sm

    tables = st.outcome.tables
    csv_df = sm.sections_frame(st.summary_tables[:1] + tables + st.summary_tables[1:])
    # the PDF shows the KPI tables; metadata goes to "About", schema and statistics repeat the KPIs
    return csv_df, [pub.Block(t, d) for t, d in tables]


def _dataset_layout(st: RunState) -> tuple[Any, list]:
    """A dataset plan publishes its rows: all of them in the CSV, up to pdf_max_rows in the PDF."""
    from batchops.pipeline import publish as pub

    out_df = st.outcome.df  # past pdf_max_rows, the PDF says "Showing N of M rows; the CSV has them all."
    return out_df, [pub.Block("Data", out_df, max_rows=st.settings.pdf_max_rows, exact=True)]


# Plan.publishes -> (CSV frame, PDF blocks)
_LAYOUTS: dict[str, Callable[[RunState], tuple[Any, list]]] = {
    "summary": _summary_layout,
    "dataset": _dataset_layout,
}


def _write_reports(csv_df, csv_path: Path, spec, pdf_path: Path) -> list[str]:
    """Both reports; returns the characters the PDF's font could not draw."""
    from batchops.pipeline import publish as pub
    from batchops.pipeline.threads import alongside

    missing: list[str] = []
    # pyarrow writes the CSV without the GIL while the PDF is laid out
    pdf_bytes = alongside(
        lambda: pub.write_csv(csv_df, csv_path), lambda: pub.render_pdf(spec, missing), "batchops-csv"
    )
    pub.write_bytes(pdf_bytes, pdf_path)
    return missing


def _plain_json(v):
    """numpy scalars and NaN/inf made plain JSON values (NaN and inf become null)."""
    import math

    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return None if (math.isnan(v) or math.isinf(v)) else v
    if isinstance(v, dict):
        return {str(k): _plain_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain_json(x) for x in v]
    if hasattr(v, "item"):
        return _plain_json(v.item())
    return str(v)
