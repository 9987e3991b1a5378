"""process, demo: files in, reports out."""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from batchops.cli.options import JsonOutput, global_options, plan_config_from
from batchops.cli.output import emit, info, warn_if_no_worker
from batchops.cli.store import configure_store, needs_store
from batchops.errors import EXIT_FAILED


def _render_results(results: list[dict]) -> None:
    from rich.markup import escape

    from batchops.cli.output import console, show_value

    out = console()
    for r in results:
        name = show_value(r.get("file", ""))  # a file name is data: no markup, no control characters
        if r["status"] == "published":
            marker = "[yellow]published with warnings[/yellow]" if r.get("warnings") else "[green]published[/green]"
            out.print(
                f"{marker} {escape(name)}: upload {r['upload_id']}, run {r['run_id']}, "
                f"{r['rows_out']} rows -> {escape(str(r['reports']['csv']))} , {escape(str(r['reports']['pdf']))}"
            )
            for w in r.get("warnings") or []:
                out.print(f"  [yellow]warning[/yellow] {w['code']}: {escape(w['message'])}")
        elif r["status"] == "queued":
            out.print(f"[cyan]queued[/cyan] {escape(name)}: upload {r['upload_id']}, run {r['run_id']}")
        else:
            err = r.get("error") or {}
            inc = f", incident {r['incident_id']}" if r.get("incident_id") else ""
            out.print(
                f"[red]failed[/red] {escape(show_value(name))}: {err.get('code')}: {escape(show_value(err.get('message')))} "
                f"(upload {r['upload_id']}, run {r['run_id']}{inc})"
            )


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int, str], None]]:
    """Yields ``starting(done, name)``, called before each file: a bar on a terminal's stderr.

    Scripts get no bar, not even a blank line, and do without importing rich.progress (~20 ms).
    """
    if not sys.stderr.isatty():
        yield lambda done, name: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from batchops.cli.output import console

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), console=console(stderr=True)) as progress:
        task = progress.add_task("processing", total=total)
        yield lambda done, name: progress.update(task, completed=done, description=f"processing {name}")
        progress.update(task, completed=total)


def process_files(
    paths: list[str],
    *,
    department=None,
    plan="transform",
    plan_config=None,
    notes="",
    sheet=None,
    table=None,
    force_publish=False,
    queue=False,
    out_dir=None,
    strict=False,
    encoding=None,
) -> list[dict]:
    """Each file in turn, with a progress display on stderr."""
    from batchops.services import processing, reports, uploads

    for path in paths:  # a typo in the last name must not leave the first files half-reported
        uploads.check_source(path)
    results = []
    with _progress(len(paths)) as starting:
        for done, path in enumerate(paths):
            starting(done, Path(path).name)
            result = processing.process_file(
                path,
                department=department,
                plan=plan,
                plan_config=plan_config,
                notes=notes,
                sheet=sheet,
                table=table,
                force_publish=force_publish,
                queue=queue,
                trigger="cli",
                strict=strict,
                encoding=encoding,
            )
            result = {"file": str(path), **result}
            if out_dir and result["status"] == "published":
                result["reports"] = reports.copy_reports(uploads.get_upload(result["upload_id"]), Path(out_dir))
            results.append(result)
    return results


def process(
    ctx: typer.Context,
    files: Annotated[list[str], typer.Argument(help="CSV, XLSX or PDF files.", metavar="FILE...")],
    department: Annotated[
        str | None, typer.Option("--department", "-d", help="Department (decides required columns).")
    ] = None,
    plan: Annotated[
        str, typer.Option("--plan", "-p", help="transform, append, delete, custom, curve, anonymize, dedupe.")
    ] = "transform",
    records: Annotated[str | None, typer.Option("--records", help="append: JSON list/object, or @file.json.")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", help="delete: COLUMN=VALUE (repeatable).")] = None,
    rules: Annotated[str | None, typer.Option("--rules", help="delete: JSON rules, or @file.json.")] = None,
    instructions: Annotated[
        str | None, typer.Option("--instructions", help="custom: the instruction narrative.")
    ] = None,
    options: Annotated[
        list[str] | None, typer.Option("--set", help="Plan option KEY=VALUE (repeatable), e.g. subject=physics.")
    ] = None,
    notes: Annotated[str, typer.Option("--notes", help="Free text kept with the upload.")] = "",
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Workbooks (.xlsx .xlsm .xlsb .xls .ods): the sheet to read.")
    ] = None,
    table: Annotated[
        int | None,
        typer.Option(
            "--table",
            min=1,
            metavar="N",
            help="PDF with several tables: read table N (as listed by E_PDF_MANY_TABLES).",
        ),
    ] = None,
    force_publish: Annotated[
        bool,
        typer.Option("--force-publish", help="Publish a table the confidence gate doubts (after you have looked)."),
    ] = False,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            metavar="NAME",
            help="CSV: the text encoding (e.g. cp1252, iso-8859-7), when detection is unsure.",
        ),
    ] = None,
    out: Annotated[
        str | None, typer.Option("--out", help="Also copy the reports into this folder.", metavar="DIR")
    ] = None,
    queue: Annotated[bool, typer.Option("--queue", help="Queue for the worker instead of running now.")] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Fail (exit 1, nothing published) when the plan changes "
            "nothing it was asked to change, e.g. a delete rule that matches no row.",
        ),
    ] = False,
    ocr: Annotated[
        str | None,
        typer.Option(
            "--ocr",
            help="Scans: never, auto (pages without text) or always; "
            "default pipeline.ocr. Runs done now only (the worker uses its config).",
        ),
    ] = None,
    json_out: JsonOutput = False,
) -> None:
    """Ingest, validate, amend and publish each FILE. Exit 1 if any failed."""
    config = plan_config_from(records, where, rules, instructions, options)
    configure_store(global_options(ctx), recover=True)  # after the payload parses
    if ocr is not None:
        _use_ocr(ocr, queue)
    results = process_files(
        files,
        department=department,
        plan=plan,
        plan_config=config,
        notes=notes,
        sheet=sheet,
        table=table,
        force_publish=force_publish,
        queue=queue,
        out_dir=out,
        strict=strict,
        encoding=encoding,
    )
    emit(results if len(results) != 1 or not json_out else results[0], json_out, _render_results)
    warn_if_no_worker(r["status"] for r in results)
    if any(r["status"] == "failed" for r in results):
        raise typer.Exit(EXIT_FAILED)


def _use_ocr(mode: str, queue: bool) -> None:
    """--ocr: this process's OCR mode (a queued run is read by the worker, with the worker's config)."""
    from batchops import context
    from batchops.errors import InputError

    if mode not in ("never", "auto", "always"):
        raise InputError(f"--ocr must be never, auto or always, not {mode!r}", code="E_OCR_MODE")
    if queue:
        raise InputError(
            "--ocr applies to runs done now; for queued runs set pipeline.ocr in batchops.toml", code="E_OCR_MODE"
        )
    context.config().pipeline.ocr = mode


@needs_store(recover=True)
def demo(json_out: JsonOutput = False) -> None:
    """Init, then process the bundled sample files (one fails on purpose)."""
    from batchops.services import system

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
        results.extend(
            process_files(
                [str(path)],
                department=dept,
                plan=plan,
                plan_config={"instructions": "demo: publish as is"} if plan == "custom" else {},
            )
        )
    emit(results, json_out, _render_results)
    if not json_out:
        info("demo done: one file failed on purpose; see `batchops incidents list` and `batchops tui`")


def register(app: typer.Typer) -> None:
    app.command()(process)
    app.command()(demo)
