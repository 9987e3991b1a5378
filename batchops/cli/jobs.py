"""batchops jobs ..."""

import time
from typing import Annotated

import typer

from batchops.cli.options import JsonOutput, Yes
from batchops.cli.output import confirm, emit, info, record, table, warn_if_no_worker
from batchops.cli.store import needs_store

app = typer.Typer(name="jobs", help="Scheduled jobs.", no_args_is_help=True)
LIST_COLUMNS = ["id", "name", "?callable", "cron", "?timezone", "state", ("next_run", "next run"), "last_status"]

# The options `add` and `edit` share, declared once; each command says its own type and default.
NAME = typer.Option("--name", help="Unique job name.")
CALLABLE = typer.Option("--callable", help="A registered callable (see `jobs callables`).")
CRON = typer.Option("--cron", help="5-field cron expression, in the job's time zone.")
ARGS = typer.Option("--args", help="JSON array of positional arguments (or @file).")
KWARGS = typer.Option("--kwargs", help="JSON object of keyword arguments (or @file).")
TZ = typer.Option("--timezone", "--tz", help="IANA zone (default: display_timezone).")
TIMEOUT = typer.Option("--timeout", help="Seconds before the run fails with E_JOB_TIMEOUT.")
RETRIES = typer.Option("--retries", help="Retries after a failure (delay doubles each time).")
RETRY_DELAY = typer.Option("--retry-delay", help="Seconds before the first retry.")
MISSED = typer.Option("--missed", help="Runs missed while no worker ran: skip, once or all.")
LATENESS = typer.Option("--max-lateness", help="Minutes within which missed runs are caught up.")
DESCRIPTION = typer.Option("--description", help="What the job is for.")


@app.command("list")
@needs_store()
def list_(json_out: JsonOutput = False) -> None:
    """Every scheduled job."""
    from batchops.services import jobs

    emit(jobs.list_jobs(), json_out, lambda rows: table(rows, LIST_COLUMNS, title="Jobs"))


@app.command()
@needs_store()
def show(job_id: str, json_out: JsonOutput = False) -> None:
    """One job in full."""
    from batchops.services import jobs

    emit(jobs.show_job(job_id), json_out, lambda r: record(r, title=f"Job {r['id']}"))


@app.command()
@needs_store()
def add(
    name: Annotated[str, NAME],
    callable_: Annotated[str, CALLABLE],
    cron: Annotated[str, CRON],
    args: Annotated[str | None, ARGS] = None,
    kwargs: Annotated[str | None, KWARGS] = None,
    timezone: Annotated[str | None, TZ] = None,
    timeout: Annotated[int, TIMEOUT] = 600,
    retries: Annotated[int, RETRIES] = 0,
    retry_delay: Annotated[int, RETRY_DELAY] = 60,
    missed: Annotated[str | None, MISSED] = None,
    max_lateness: Annotated[int | None, LATENESS] = None,
    description: Annotated[str, DESCRIPTION] = "",
    paused: Annotated[bool, typer.Option("--paused", help="Create it paused.")] = False,
    json_out: JsonOutput = False,
) -> None:
    """Schedule a registered callable."""
    from batchops.services import jobs

    job = jobs.add_job(
        name,
        callable_,
        cron,
        args=args,
        kwargs=kwargs,
        timezone=timezone,
        timeout_s=timeout,
        retries=retries,
        retry_delay_s=retry_delay,
        misfire_policy=missed,
        max_lateness_min=max_lateness,
        description=description,
        paused=paused,
    )
    emit(job, json_out, lambda j: info(f"job {j['id']} {j['name']!r} added; next run {_when(j)}"))


@app.command()
@needs_store()
def edit(
    job_id: str,
    name: Annotated[str | None, NAME] = None,
    callable_: Annotated[str | None, CALLABLE] = None,
    cron: Annotated[str | None, CRON] = None,
    args: Annotated[str | None, ARGS] = None,
    kwargs: Annotated[str | None, KWARGS] = None,
    timezone: Annotated[str | None, TZ] = None,
    timeout: Annotated[int | None, TIMEOUT] = None,
    retries: Annotated[int | None, RETRIES] = None,
    retry_delay: Annotated[int | None, RETRY_DELAY] = None,
    missed: Annotated[str | None, MISSED] = None,
    max_lateness: Annotated[int | None, LATENESS] = None,
    description: Annotated[str | None, DESCRIPTION] = None,
    json_out: JsonOutput = False,
) -> None:
    """Change a job; the next tick uses the new settings."""
    from batchops.services import jobs

    job = jobs.edit_job(
        job_id,
        name=name,
        callable=callable_,
        cron=cron,
        args=args,
        kwargs=kwargs,
        timezone=timezone,
        timeout_s=timeout,
        retries=retries,
        retry_delay_s=retry_delay,
        misfire_policy=missed,
        max_lateness_min=max_lateness,
        description=description,
    )
    emit(job, json_out, lambda j: info(f"job {j['id']} {j['name']!r} saved; next run {_when(j)}"))


@app.command()
@needs_store()
def delete(job_id: str, yes: Yes = False, json_out: JsonOutput = False) -> None:
    """Delete a job (its past runs stay)."""
    from batchops import context
    from batchops.services import jobs

    context.require_writable()  # refuse before asking, not after the operator said yes
    job = jobs.get_job(job_id)
    confirm(f"Delete job {job.id} {job.name!r}?", yes)
    data = jobs.delete_job(job.id)
    emit(data, json_out, lambda j: info(f"job {j['id']} {j['name']!r} deleted"))


@app.command()
@needs_store()
def pause(job_id: str, reason: Annotated[str, typer.Option("--reason")] = "", json_out: JsonOutput = False) -> None:
    """Stop scheduled runs (manual triggers still work)."""
    from batchops.services import jobs

    emit(jobs.pause_job(job_id, reason), json_out, lambda j: info(f"job {j['id']} {j['name']!r} paused"))


@app.command()
@needs_store()
def resume(job_id: str, json_out: JsonOutput = False) -> None:
    """Resume scheduled runs from now on."""
    from batchops.services import jobs

    emit(jobs.resume_job(job_id), json_out, lambda j: info(f"job {j['id']} {j['name']!r} resumed; next run {_when(j)}"))


@app.command()
@needs_store()
def trigger(
    job_id: str,
    now: Annotated[bool, typer.Option("--now", help="Run here instead of queueing for the worker.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the worker to finish the run.")] = False,
    timeout: Annotated[float, typer.Option("--wait-timeout", help="Seconds to wait with --wait.")] = 600,
    json_out: JsonOutput = False,
) -> None:
    """Run a job once (queued for the worker by default); exit 1 if it ran and failed."""
    from batchops.services import jobs

    if now:
        run = jobs.run_job_now(job_id)
    else:
        run = jobs.trigger_job(job_id, trigger="cli")
        warn_if_no_worker(["queued"])
        if wait:
            run = _wait(run["run_id"], timeout)
    emit(
        run,
        json_out,
        lambda r: info(
            f"job run {r['id']} {r['status']}"
            + (f": {r['error_code']}: {r['error_message']}" if r.get("error_code") else "")
        ),
    )
    if run["status"] == "failed":
        raise typer.Exit(1)


def _wait(run_id: int, timeout: float) -> dict:
    from batchops.services import runs

    deadline = time.monotonic() + timeout
    while True:
        run = runs.show_run(run_id)
        if run["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return run
        time.sleep(0.5)


@app.command("next")
@needs_store()
def next_(
    job_id: str, n: Annotated[int, typer.Option("-n", help="How many fire times.")] = 5, json_out: JsonOutput = False
) -> None:
    """Preview the next fire times in the job's zone, with daylight-saving notes."""
    from batchops.services import jobs

    emit(
        jobs.next_runs(job_id, n),
        json_out,
        lambda rows: table(rows, ["display", "utc", "note"], title=f"Next runs of job {job_id}"),
    )


@app.command()
@needs_store()
def callables(json_out: JsonOutput = False) -> None:
    """The callables a job may name, with their arguments."""
    from batchops.services import jobs

    def render(rows):
        flat = [
            {
                "name": r["name"],
                "arguments": ", ".join(f"{a['name']}={a['default']!r}" for a in r["args"]),
                "description": r["description"],
            }
            for r in rows
        ]
        table(flat, ["name", "arguments", "description"], title="Callables")

    emit(jobs.callables(), json_out, render)


def _when(job: dict) -> str:
    from batchops import clock

    if job.get("paused"):
        return "- (paused)"
    return clock.fmt(job.get("next_run_at"), job.get("timezone"))
