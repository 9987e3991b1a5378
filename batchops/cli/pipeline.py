"""process, demo, report export: files in, reports out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from batchops.cli.main import setup
from batchops.cli.output import emit, info, want_json
from batchops.errors import EXIT_FAILED

JSON = typer.Option(False, "--json", help="One JSON document on stdout.")


def _render_results(results: list[dict]) -> None:
    from batchops.cli.output import console, show_value

    out = console()
    for r in results:
        name = show_value(r.get("file", ""))  # a file name is data: no markup, no control characters
        if r["status"] == "published":
            out.print(f"[green]published[/green] {name}: upload {r['upload_id']}, run {r['run_id']}, "
                      f"{r['rows_out']} rows -> {r['reports']['csv']} , {r['reports']['pdf']}")
        elif r["status"] == "queued":
            out.print(f"[cyan]queued[/cyan] {name}: upload {r['upload_id']}, run {r['run_id']}")
        else:
            err = r.get("error") or {}
            inc = f", incident {r['incident_id']}" if r.get("incident_id") else ""
            out.print(f"[red]failed[/red] {name}: {err.get('code')}: {show_value(err.get('message'))} "
                      f"(upload {r['upload_id']}, run {r['run_id']}{inc})")


def process_files(paths: list[str], *, department=None, plan="transform", plan_config=None, notes="",
                  sheet=None, queue=False, out_dir=None) -> list[dict]:
    """Each file in turn, with a progress display on stderr."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from batchops.cli.output import console
    from batchops.services import processing, reports, uploads

    for path in paths:  # a typo in the last name must not leave the first files half-reported
        uploads.check_source(path)
    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console(stderr=True),
                  disable=not sys.stderr.isatty()) as progress:  # scripts get no bar, not even a blank line
        task = progress.add_task("processing", total=len(paths))
        for path in paths:
            progress.update(task, description=f"processing {Path(path).name}")
            result = processing.process_file(path, department=department, plan=plan, plan_config=plan_config,
                                              notes=notes, sheet=sheet, queue=queue,
                                              trigger="cli")
            result = {"file": str(path), **result}
            if out_dir and result["status"] == "published":
                result["reports"] = reports.copy_reports(uploads.get_upload(result["upload_id"]), Path(out_dir))
            results.append(result)
            progress.advance(task)
    return results


def process(
    files: List[str] = typer.Argument(..., help="CSV, XLSX or PDF files.", metavar="FILE..."),
    department: Optional[str] = typer.Option(None, "--department", "-d", help="Department (decides required columns)."),
    plan: str = typer.Option("transform", "--plan", "-p", help="transform, append, delete, custom, curve, anonymize, dedupe."),
    records: Optional[str] = typer.Option(None, "--records", help="append: JSON list/object, or @file.json."),
    where: Optional[List[str]] = typer.Option(None, "--where", help="delete: COLUMN=VALUE (repeatable)."),
    rules: Optional[str] = typer.Option(None, "--rules", help="delete: JSON rules, or @file.json."),
    instructions: Optional[str] = typer.Option(None, "--instructions", help="custom: the instruction narrative."),
    options: Optional[List[str]] = typer.Option(None, "--set", help="Plan option KEY=VALUE (repeatable), e.g. subject=physics."),
    notes: str = typer.Option("", "--notes", help="Free text kept with the upload."),
    sheet: Optional[str] = typer.Option(None, "--sheet", help="XLSX: the sheet to read."),
    out: Optional[str] = typer.Option(None, "--out", help="Also copy the reports into this folder.", metavar="DIR"),
    queue: bool = typer.Option(False, "--queue", help="Queue for the worker instead of running now."),
    json_out: bool = JSON,
) -> None:
    """Ingest, validate, amend and publish each FILE. Exit 1 if any failed."""
    from batchops.services import plans

    config = plans.plan_config(records=records, where=where, rules=rules, instructions=instructions, options=options,
                               labels={"records": "--records", "rules": "--rules"})
    setup()
    results = process_files(files, department=department, plan=plan, plan_config=config, notes=notes,
                            sheet=sheet, queue=queue, out_dir=out)
    emit(results if len(results) != 1 or not want_json(json_out) else results[0], json_out, _render_results)
    if any(r["status"] == "failed" for r in results):
        raise typer.Exit(EXIT_FAILED)


def demo(json_out: bool = JSON) -> None:
    """Init, then process the bundled sample files (one fails on purpose)."""
    from batchops.services import system

    setup()
    system.init()
    samples = Path(__file__).resolve().parent.parent / "samples"
    jobs = [
        (samples / "gradebook_science.csv", "Science", "transform"),
        (samples / "roster_commerce.xlsx", "Commerce", "custom"),
        (samples / "gradebook_arts.pdf", "Arts", "transform"),
        (samples / "gradebook_arts_plain.pdf", "Arts", "transform"),
        (samples / "broken" / "formula_injection.csv", None, "custom"),
        (samples / "broken" / "missing_columns.csv", None, "transform"),  # fails on purpose
    ]
    results = []
    for path, dept, plan in jobs:
        results.extend(process_files([str(path)], department=dept, plan=plan,
                                     plan_config={"instructions": "demo: publish as is"} if plan == "custom" else {}))
    emit(results, json_out, _render_results)
    if not want_json(json_out):
        info("demo done: one file failed on purpose; see `batchops incidents list` and `batchops tui`")


report_app = typer.Typer(no_args_is_help=True)


def ask_overwrite(path) -> bool:
    import sys

    return sys.stdin.isatty() and typer.confirm(f"{path} exists. Replace it?", default=False)


@report_app.command("export")
def export(
    upload: Optional[int] = typer.Option(None, "--upload", help="Upload id."),
    run: Optional[int] = typer.Option(None, "--run", help="Run id."),
    fmt: str = typer.Option(..., "--format", "-f", help="csv or pdf."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="File or folder to write."),
    wait: float = typer.Option(0.0, "--wait", help="Wait up to SECONDS for a run still going."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file without asking."),
    json_out: bool = JSON,
) -> None:
    """Write a published report to a file (never inside the data home; asks before replacing a file)."""
    from batchops.services import reports

    setup()
    result = reports.export(upload_id=upload, run_id=run, fmt=fmt, out=output, wait=wait,
                            overwrite=force or ask_overwrite)
    emit(result, json_out, lambda r: info(f"wrote {r['path']} ({r['bytes']} bytes)"))


def register(app: typer.Typer) -> None:
    app.command()(process)
    app.command()(demo)
    app.add_typer(report_app, name="report", help="Export published reports.")
