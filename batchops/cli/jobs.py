"""batchops jobs ..."""

from __future__ import annotations

import time
from typing import Optional

import typer

from batchops.cli.main import setup
from batchops.cli.output import confirm, emit, info, record, table

app = typer.Typer(no_args_is_help=True)
JSON = typer.Option(False, "--json", help="One JSON document on stdout.")
LIST_COLUMNS = ["id", "name", "?callable", "cron", "?timezone", "state", ("next_run", "next run"), "last_status"]

NAME = typer.Option(None, "--name", help="Unique job name.")
CALLABLE = typer.Option(None, "--callable", help="A registered callable (see `jobs callables`).")
CRON = typer.Option(None, "--cron", help="5-field cron expression, in the job's time zone.")
ARGS = typer.Option(None, "--args", help="JSON array of positional arguments (or @file).")
KWARGS = typer.Option(None, "--kwargs", help="JSON object of keyword arguments (or @file).")
TZ = typer.Option(None, "--timezone", "--tz", help="IANA zone (default: display_timezone).")
TIMEOUT = typer.Option(None, "--timeout", help="Seconds before the run fails with E_JOB_TIMEOUT.")
RETRIES = typer.Option(None, "--retries", help="Retries after a failure (delay doubles each time).")
RETRY_DELAY = typer.Option(None, "--retry-delay", help="Seconds before the first retry.")
MISSED = typer.Option(None, "--missed", help="Runs missed while no worker ran: skip, once or all.")
LATENESS = typer.Option(None, "--max-lateness", help="Minutes within which missed runs are caught up.")
DESCRIPTION = typer.Option(None, "--description", help="What the job is for.")


@app.command("list")
def list_(json_out: bool = JSON) -> None:
    """Every scheduled job."""
    from batchops.services import jobs

    setup()
    emit(jobs.list_jobs(), json_out, lambda rows: table(rows, LIST_COLUMNS, title="Jobs"))


@app.command()
def show(job_id: str, json_out: bool = JSON) -> None:
    """One job in full."""
    from batchops.services import jobs

    setup()
    emit(jobs.show_job(job_id), json_out, lambda r: record(r, title=f"Job {r['id']}"))


@app.command()
def add(
    name: str = typer.Option(..., "--name", help="Unique job name."),
    callable_: str = typer.Option(..., "--callable", help="A registered callable (see `jobs callables`)."),
    cron: str = typer.Option(..., "--cron", help="5-field cron expression, in the job's time zone."),
    args: Optional[str] = ARGS,
    kwargs: Optional[str] = KWARGS,
    timezone: Optional[str] = TZ,
    timeout: int = typer.Option(600, "--timeout", help="Seconds before the run fails with E_JOB_TIMEOUT."),
    retries: int = typer.Option(0, "--retries", help="Retries after a failure (delay doubles each time)."),
    retry_delay: int = typer.Option(60, "--retry-delay", help="Seconds before the first retry."),
    missed: Optional[str] = MISSED,
    max_lateness: Optional[int] = LATENESS,
    description: str = typer.Option("", "--description", help="What the job is for."),
    paused: bool = typer.Option(False, "--paused", help="Create it paused."),
    json_out: bool = JSON,
) -> None:
    """Schedule a registered callable."""
    from batchops.services import jobs

    setup()
    job = jobs.add_job(name, callable_, cron, args=args, kwargs=kwargs, timezone=timezone, timeout_s=timeout,
                       retries=retries, retry_delay_s=retry_delay, misfire_policy=missed,
                       max_lateness_min=max_lateness, description=description, paused=paused)
    emit(job, json_out, lambda j: info(f"job {j['id']} {j['name']!r} added; next run {_when(j)}"))


@app.command()
def edit(
    job_id: str,
    name: Optional[str] = NAME,
    callable_: Optional[str] = CALLABLE,
    cron: Optional[str] = CRON,
    args: Optional[str] = ARGS,
    kwargs: Optional[str] = KWARGS,
    timezone: Optional[str] = TZ,
    timeout: Optional[int] = TIMEOUT,
    retries: Optional[int] = RETRIES,
    retry_delay: Optional[int] = RETRY_DELAY,
    missed: Optional[str] = MISSED,
    max_lateness: Optional[int] = LATENESS,
    description: Optional[str] = DESCRIPTION,
    json_out: bool = JSON,
) -> None:
    """Change a job; the next tick uses the new settings."""
    from batchops.services import jobs

    setup()
    job = jobs.edit_job(job_id, name=name, callable=callable_, cron=cron, args=args, kwargs=kwargs,
                        timezone=timezone, timeout_s=timeout, retries=retries, retry_delay_s=retry_delay,
                        misfire_policy=missed, max_lateness_min=max_lateness, description=description)
    emit(job, json_out, lambda j: info(f"job {j['id']} {j['name']!r} saved; next run {_when(j)}"))


@app.command()
def delete(
    job_id: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    json_out: bool = JSON,
) -> None:
    """Delete a job (its past runs stay)."""
    from batchops import context
    from batchops.services import jobs

    setup()
    context.require_writable()  # refuse before asking, not after the operator said yes
    job = jobs.get_job(job_id)
    confirm(f"Delete job {job.id} {job.name!r}?", yes)
    data = jobs.delete_job(job.id)
    emit(data, json_out, lambda j: info(f"job {j['id']} {j['name']!r} deleted"))


@app.command()
def pause(job_id: str, reason: str = typer.Option("", "--reason"), json_out: bool = JSON) -> None:
    """Stop scheduled runs (manual triggers still work)."""
    from batchops.services import jobs

    setup()
    emit(jobs.pause_job(job_id, reason), json_out, lambda j: info(f"job {j['id']} {j['name']!r} paused"))


@app.command()
def resume(job_id: str, json_out: bool = JSON) -> None:
    """Resume scheduled runs from now on."""
    from batchops.services import jobs

    setup()
    emit(jobs.resume_job(job_id), json_out,
         lambda j: info(f"job {j['id']} {j['name']!r} resumed; next run {_when(j)}"))


@app.command()
def trigger(
    job_id: str,
    now: bool = typer.Option(False, "--now", help="Run here instead of queueing for the worker."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the worker to finish the run."),
    timeout: float = typer.Option(600, "--wait-timeout", help="Seconds to wait with --wait."),
    json_out: bool = JSON,
) -> None:
    """Run a job once (queued for the worker by default); exit 1 if it ran and failed."""
    from batchops.services import jobs

    setup()
    if now:
        run = jobs.run_job_now(job_id)
    else:
        run = jobs.trigger_job(job_id, trigger="cli")
        _warn_without_worker()
        if wait:
            run = _wait(run["run_id"], timeout)
    emit(run, json_out, lambda r: info(f"job run {r['id']} {r['status']}"
                                       + (f": {r['error_code']}: {r['error_message']}" if r.get("error_code") else "")))
    if run["status"] == "failed":
        raise typer.Exit(1)


def _warn_without_worker() -> None:
    from batchops.cli.output import warn_if_no_worker

    warn_if_no_worker(["queued"])


def _wait(run_id: int, timeout: float) -> dict:
    from batchops.services import runs

    deadline = time.monotonic() + timeout
    while True:
        run = runs.show_run(run_id)
        if run["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return run
        time.sleep(0.5)


@app.command("next")
def next_(job_id: str, n: int = typer.Option(5, "-n", help="How many fire times."), json_out: bool = JSON) -> None:
    """Preview the next fire times in the job's zone, with daylight-saving notes."""
    from batchops.services import jobs

    setup()
    emit(jobs.next_runs(job_id, n), json_out,
         lambda rows: table(rows, ["display", "utc", "note"], title=f"Next runs of job {job_id}"))


@app.command()
def callables(json_out: bool = JSON) -> None:
    """The callables a job may name, with their arguments."""
    from batchops.services import jobs

    setup()

    def render(rows):
        flat = [{"name": r["name"], "arguments": ", ".join(f"{a['name']}={a['default']!r}" for a in r["args"]),
                 "description": r["description"]} for r in rows]
        table(flat, ["name", "arguments", "description"], title="Callables")

    emit(jobs.callables(), json_out, render)


def _when(job: dict) -> str:
    from batchops import clock

    if job.get("paused"):
        return "- (paused)"
    return clock.fmt(job.get("next_run_at"), job.get("timezone"))
