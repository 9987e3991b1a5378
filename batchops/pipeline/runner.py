"""Run the five steps: standardize -> validate -> transform -> summarize -> publish.

``run_pipeline`` is the only entry point the services call. It is pure: it reads
``req.source``, writes two reports into ``req.out_dir`` and returns plain objects.
A failing step raises ``PipelineError`` with ``.step`` set, the findings gathered
so far, and ``details["steps"]`` holding the step records up to the failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from batchops.errors import BatchOpsError, PipelineError
from batchops.pipeline.settings import PipelineSettings

STEPS = ("standardize", "validate", "transform", "summarize", "publish")


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


class _Run:
    def __init__(self, on_step):
        self.on_step = on_step
        self.steps: list[StepRecord] = []
        self.findings: list[dict] = []

    def _emit(self, rec: StepRecord) -> None:
        if self.on_step is not None:
            self.on_step(rec)

    def step(self, name: str, rows_in: int | None, fn: Callable[[], tuple[Any, int | None, str, list[dict]]]):
        started = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        rec = StepRecord(name, "running", started, None, rows_in, None, "")
        self.steps.append(rec)
        self._emit(rec)
        try:
            value, rows_out, message, found = fn()
        except BaseException as exc:
            if isinstance(exc, PipelineError):
                err = exc
                err.step = err.step or name
            elif isinstance(exc, MemoryError):
                err = PipelineError(f"The {name} step ran out of memory.", code="E_OUT_OF_MEMORY", step=name)
            elif isinstance(exc, BatchOpsError):
                err = PipelineError(exc.message, code=exc.code, step=name)
            elif isinstance(exc, Exception):
                err = PipelineError(
                    f"Unexpected error in the {name} step: {type(exc).__name__}: {exc}",
                    code="E_INTERNAL", step=name,
                )
            else:  # KeyboardInterrupt / SystemExit: record, then let it through
                rec.status, rec.duration_s, rec.error_code = "failed", time.perf_counter() - t0, "E_INTERRUPTED"
                rec.message = "interrupted"
                self._emit(rec)
                raise
            if err.findings and err.findings is not self.findings:
                self.findings.extend(err.findings)
            rec.status = "failed"
            rec.duration_s = time.perf_counter() - t0
            rec.message = err.message
            rec.error_code = err.code
            rec.findings_count = len(err.findings)
            self._emit(rec)
            err.findings = self.findings
            err.details["steps"] = self.steps
            if err is not exc:
                raise err from exc
            raise
        self.findings.extend(found)
        rec.status = "ok"
        rec.duration_s = time.perf_counter() - t0
        rec.rows_out = rows_out
        rec.message = message
        rec.findings_count = len(found)
        self._emit(rec)
        return value


def _standardize(req: PipelineRequest, settings: PipelineSettings):
    from batchops.pipeline import sniff

    src = Path(req.source)
    name = req.original_name or src.name
    try:
        size = src.stat().st_size
    except OSError as exc:
        raise sniff.fail(f"The uploaded file for {name} cannot be read ({exc.strerror}).", "E_FILE_MISSING") from exc
    if size == 0:
        raise sniff.fail(f"{name} is empty (0 bytes).", "E_EMPTY_FILE")
    if size > settings.max_file_bytes:
        raise sniff.fail(
            f"{name} is larger than {settings.max_file_bytes / 1048576:,.0f} MB, the limit (pipeline.max_file_mb).",
            "E_FILE_TOO_LARGE",
        )
    kind = sniff.detect_format(src, name)
    if kind == "pdf":
        from batchops.pipeline.load_pdf import load_pdf

        loaded = load_pdf(src, settings, name, table=req.table, department=req.department)
    elif kind == "image":
        from batchops.pipeline.ocr_scan import load_image

        loaded = load_image(src, settings, name)
    elif kind in sniff.WORKBOOK_FORMATS:
        from batchops.pipeline.load_xlsx import load_xlsx

        loaded = load_xlsx(src, settings, name, sheet=req.sheet, fmt=kind,
                           required=settings.required_columns(req.department))
    else:
        from batchops.pipeline.load_csv import load_csv

        loaded = load_csv(src, settings, name, encoding=req.encoding)
    _check_cells(loaded, settings, name)
    _check_confidence(loaded, req, name)  # on the table as read, before any column becomes numbers
    _settle_types(loaded)
    return loaded


def _settle_types(loaded) -> None:
    """Text columns become numbers only where every value prints back exactly as read."""
    from batchops.pipeline.columns import is_text_column
    from batchops.pipeline.frame import settle_numbers

    settle_numbers(loaded.df, keep_text=is_text_column)


def _check_confidence(loaded, req: PipelineRequest, name: str) -> None:
    """The confidence gate: refuse a doubtful table unless the operator forces it (then it is a finding)."""
    from batchops.pipeline import confidence
    from batchops.pipeline.findings import finding

    verdict = confidence.check(loaded)
    if verdict.ok:
        return
    why = "; ".join(verdict.reasons)
    if req.force_publish:
        loaded.findings.append(finding(
            "W_TABLE_FORCED", f"Published with --force-publish although the table looks doubtful "
            f"(confidence {verdict.score:.2f}): {why}."))
        loaded.findings.extend(confidence.row_findings(loaded, verdict, "warning"))
        return
    raise PipelineError(
        f"The table read from {name} does not look right (confidence {verdict.score:.2f} < "
        f"{confidence.THRESHOLD}): {why}. Check the file; choose another table with --table N, export the sheet "
        "as CSV, or publish anyway with --force-publish.",
        code=confidence.E_TABLE_LOW_CONFIDENCE, step="standardize",
        findings=confidence.row_findings(loaded, verdict, "error"),
    )


def _check_cells(loaded, settings: PipelineSettings, name: str) -> None:
    from batchops.pipeline import sniff
    from batchops.pipeline.frame import is_stringish

    df = loaded.df
    for pos, col in enumerate(df.columns):
        s = df[col]
        if not is_stringish(s) or not len(s):
            continue
        if _max_bytes(s) <= settings.max_cell_chars:
            continue  # cheap upper bound: characters <= bytes
        lengths = s.str.len()
        longest = lengths.max()
        if longest == longest and longest > settings.max_cell_chars:
            label = lengths.idxmax()
            where = loaded.locator(label, pos)
            raise sniff.fail(
                f"A cell in column {col} at {where} holds {int(longest):,} characters; the limit is "
                f"{settings.max_cell_chars:,}.",
                "E_CELL_TOO_LARGE",
            )


def _max_bytes(s) -> int:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        m = pc.max(pc.binary_length(pa.chunked_array(s.array.__arrow_array__()))).as_py()
        return int(m or 0)
    except Exception:
        return 1 << 62


def run_pipeline(
    req: PipelineRequest,
    settings: PipelineSettings,
    on_step: Callable[[StepRecord], None] | None = None,
) -> PipelineResult:
    from batchops.pipeline.plans import PLANS, validate_plan_config

    validate_plan_config(req.plan, req.plan_config)
    plan = PLANS[req.plan]

    run = _Run(on_step)
    name = req.original_name or Path(req.source).name

    # 1. standardize
    def standardize():
        loaded = _standardize(req, settings)
        return loaded, len(loaded.df), loaded.describe(), list(loaded.findings)

    loaded = run.step("standardize", None, standardize)
    rows_in = len(loaded.df)

    # 2. validate
    def validate():
        from batchops.pipeline.validate import validate as check

        v = check(loaded, settings, req.department)
        counts = v.counts()
        msg = f"{rows_in:,} rows, {len(loaded.df.columns)} columns"
        if counts:
            msg += "; " + ", ".join(f"{n} {c}" for c, n in sorted(counts.items()))
        else:
            msg += "; no problems found"
        return v, rows_in, msg, v.findings

    validation = run.step("validate", rows_in, validate)

    # 3. transform
    def transform():
        import pandas as pd

        from batchops.pipeline.columns import snake
        from batchops.pipeline.plans import PlanContext

        df = loaded.df  # published as read: marks that are not numbers stay visible
        lookup = {}
        for orig, canon in zip(loaded.original_columns, df.columns):
            lookup[orig] = canon
            lookup[snake(orig)] = canon
        ctx = PlanContext(
            settings=settings, config=dict(req.plan_config or {}), subjects=list(validation.subjects),
            numeric_columns=list(validation.numeric_columns), department=req.department,
            original_name=name, column_lookup=lookup, numeric=dict(validation.numeric),
        )
        outcome = plan.run(df, ctx)
        kept = ", ".join(validation.numeric) or "none"
        msg = f"strings trimmed; numbers with text marks kept as written: {kept}; plan {plan.name}"
        extra = _plan_message(plan.name, outcome.report)
        if extra:
            msg += f": {extra}"
        assert isinstance(outcome.df, pd.DataFrame)
        if req.strict:
            from batchops.pipeline.plans import no_effect

            missed = no_effect(outcome.findings)
            if missed:
                raise PipelineError(
                    "strict: the plan changed nothing it was asked to change, so nothing was published: "
                    + " ".join(f["message"] for f in missed), code="E_PLAN_NO_EFFECT", step="transform",
                    findings=outcome.findings)
        return outcome, len(outcome.df), msg, outcome.findings

    outcome = run.step("transform", rows_in, transform)
    out_df = outcome.df
    rows_out = len(out_df)

    # 4. summarize
    def summarize():
        from batchops.pipeline import summarize as sm

        stats = outcome.stats if outcome.stats is not None else sm.describe(out_df, validation.numeric)
        meta = sm.metadata(
            upload_id=req.upload_id, department=req.department, filename=name, format=loaded.info.get("format", loaded.kind),
            plan=plan.name, rows_in=rows_in, rows_out=rows_out, columns=len(out_df.columns),
            generated=req.generated_at,
        )
        sch = sm.schema(out_df)
        schema_df = sm.metadata(**sch).rename(columns={"item": "column", "value": "dtype"})
        detected = {k: v for k, v in loaded.info.items() if k != "delimiter_name"}
        summary = {
            "detected": detected,
            **{k: detected.get(k) for k in ("format", "encoding", "delimiter", "sheet", "header_row", "pages", "layout") if k in detected},
            "original_name": name,
            "upload_id": req.upload_id,
            "department": req.department,
            "original_columns": list(loaded.original_columns),
            "column_map": dict(zip(loaded.original_columns, map(str, loaded.df.columns))),
            "schema": sch,
            "plan": plan.name,
            "plan_config": _jsonable(req.plan_config),
            "plan_report": _jsonable(outcome.report),
            "publishes": plan.publishes,
            "statistics": sm.frame_records(stats),
            "kpis": _jsonable(outcome.report.get("kpis")) if plan.publishes == "summary" else None,
            "rows_in": rows_in,
            "rows_out": rows_out,
            "findings_by_code": _count_codes(run.findings),
        }
        tables = [("Metadata", meta), ("Schema", schema_df), ("Statistics", stats)]
        return (summary, tables), rows_out, f"{len(stats)} numeric column(s) described", []

    summary, summary_tables = run.step("summarize", rows_out, summarize)

    # 5. publish
    def publish():
        from batchops.pipeline import publish as pub
        from batchops.pipeline import summarize as sm
        from batchops.pipeline.findings import finding

        out_dir = Path(req.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = pub.safe_stem(name)
        csv_path = out_dir / f"{stem}_report.csv"
        pdf_path = out_dir / f"{stem}_report.pdf"
        from batchops.pipeline import report_text as rt

        title = rt.report_title(settings.report_title, req.department, plan.name, req.generated_at)
        notes = []
        if plan.name == "custom" and outcome.report.get("instructions"):
            notes.append("Instructions: " + outcome.report["instructions"])
        errors = sum(1 for f in run.findings if f.get("severity") == "error")
        warnings = len(run.findings) - errors
        if run.findings:
            notes.append(f"Findings: {warnings:,} warning(s), {errors:,} error(s) — see the run record for each location.")
        if plan.publishes == "summary":
            tables = summary_tables[:1] + outcome.tables + summary_tables[1:]
            csv_df = sm.sections_frame(tables)
            # the PDF shows the KPI tables; metadata goes to "About", schema and statistics repeat the KPIs
            blocks = [pub.Block(t, d) for t, d in outcome.tables]
        else:
            csv_df = out_df
            cap = settings.pdf_max_rows
            blocks = []
            if plan.name not in ("transform", "custom") and outcome.report:
                notes[:0] = rt.report_lines(plan.name, outcome.report)
            note = ""
            if len(out_df) > cap:
                note = f"Showing {cap:,} of {len(out_df):,} rows; the CSV has them all."
            blocks.append(pub.Block("Data", out_df, note=note, max_rows=cap, exact=True))
        about = rt.about_lines(upload_id=req.upload_id, filename=name,
                               file_format=str(loaded.info.get("format", loaded.kind) or ""),
                               department=req.department, plan=plan.name, plan_config=req.plan_config,
                               rows_in=rows_in, rows_out=rows_out, columns=len(out_df.columns),
                               generated_at=req.generated_at)
        spec = pub.PdfSpec(title=title, school=settings.school_name, generated_at=req.generated_at,
                           blocks=blocks, notes=notes, about=about)
        # pyarrow writes the CSV without the GIL while fpdf2 lays out the PDF here
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batchops-csv") as pool:
            csv_job = pool.submit(pub.write_csv, csv_df, csv_path)
            missing: list[str] = []
            pdf_bytes = pub.render_pdf(spec, missing)
            csv_job.result()
        pub.write_bytes(pdf_bytes, pdf_path)
        summary["reports"] = {"csv": str(csv_path), "pdf": str(pdf_path)}
        found = [finding("E_PDF_GLYPHS_MISSING",
                         f"The PDF cannot draw {', '.join(sorted(set(missing)))} (the bundled font lacks them); "
                         "the CSV has the text intact.")] if missing else []
        return ((csv_path, pdf_path), rows_out,
                f"wrote {csv_path.name} ({len(csv_df):,} rows) and {pdf_path.name}", found)

    csv_path, pdf_path = run.step("publish", rows_out, publish)
    return PipelineResult(rows_in, rows_out, run.steps, run.findings, summary, csv_path, pdf_path)


def _plan_message(name: str, report: dict) -> str:
    if name == "delete":
        return f"{report.get('removed', 0)} row(s) removed by {len(report.get('rules', []))} rule(s)"
    if name == "append":
        return f"{report.get('appended', 0)} record(s) appended"
    if name == "dedupe":
        return f"{report.get('removed', 0)} duplicate row(s) removed on {', '.join(report.get('key', []))}"
    if name == "curve":
        return f"{report.get('subject')} mean {report.get('mean_before'):.2f} -> {report.get('mean_after'):.2f}"
    if name == "anonymize":
        return f"removed {', '.join(report.get('removed_columns', [])) or 'no columns'}"
    if name == "transform":
        return f"KPIs for {len(report.get('subjects', []))} subject(s)"
    return ""


def _count_codes(findings: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in findings:
        out[f["code"]] = out.get(f["code"], 0) + 1
    return out


def _jsonable(v):
    import math

    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return None if (math.isnan(v) or math.isinf(v)) else v
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item"):
        return _jsonable(v.item())
    return str(v)
