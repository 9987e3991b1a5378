"""batchops known-errors ..."""

from __future__ import annotations

import typer

from batchops.cli.main import setup
from batchops.cli.output import confirm, emit, record, table

app = typer.Typer(no_args_is_help=True)
JSON = typer.Option(False, "--json", help="One JSON document on stdout.")
LIST_COLUMNS = ["id", "name", "error_code", "severity", "auto_retry", "retry_max"]


@app.command("list")
def list_(json_out: bool = JSON) -> None:
    """The known-error library."""
    from batchops.services import known_errors

    setup()
    emit(known_errors.list_known_errors(), json_out, lambda rows: table(rows, LIST_COLUMNS, title="Known errors"))


@app.command()
def show(known_error_id: str, json_out: bool = JSON) -> None:
    """One known error in full."""
    from batchops.services import known_errors

    setup()
    emit(known_errors.show_known_error(known_error_id), json_out, lambda r: record(r, title=f"Known error {r['id']}"))


NAME = typer.Option(None, "--name", help="A short name operators recognise.")
CODE = typer.Option(None, "--code", help="Error code to match (E_MISSING_COLUMNS ...).")
PATTERN = typer.Option(None, "--pattern", help="Regex searched in the error message (case-insensitive).")
STEP = typer.Option(None, "--step", help="Only in this pipeline step.")
SEVERITY = typer.Option(None, "--severity", help="low, medium, high, critical.")
CAUSE = typer.Option(None, "--root-cause", help="Why it happens.")
ACTION = typer.Option(None, "--corrective-action", help="What to do about it.")
AUTO_RETRY = typer.Option(None, "--auto-retry/--no-auto-retry", help="Retry automatically through the queue.")
RETRY_MAX = typer.Option(None, "--retry-max", help="How many automatic retries.", min=0)
RETRY_DELAY = typer.Option(None, "--retry-delay", help="Seconds before each retry.", min=0)
TICKET = typer.Option(None, "--ticket/--no-ticket", help="Open a ticket for each new incident.")


def _saved(r: dict, what: str) -> None:
    from batchops.cli.output import info

    record(r, title=f"Known error {r['id']} {what}")
    info(f"known error {r['id']} {what}; it would have matched {r['past_matches']} past failed run(s)")


@app.command()
def add(
    name: str = typer.Option(..., "--name", help="A short name operators recognise."),
    code: str = CODE, pattern: str = PATTERN, step: str = STEP,
    severity: str = typer.Option("medium", "--severity", help="low, medium, high, critical."),
    root_cause: str = typer.Option("", "--root-cause", help="Why it happens."),
    corrective_action: str = typer.Option("", "--corrective-action", help="What to do about it."),
    auto_retry: bool = typer.Option(False, "--auto-retry/--no-auto-retry", help="Retry automatically."),
    retry_max: int = typer.Option(0, "--retry-max", min=0, help="How many automatic retries."),
    retry_delay: int = typer.Option(60, "--retry-delay", min=0, help="Seconds before each retry."),
    ticket: bool = typer.Option(True, "--ticket/--no-ticket", help="Open a ticket for each new incident."),
    json_out: bool = JSON,
) -> None:
    """Teach BatchOps a known error (needs --code, --pattern or both)."""
    from batchops.services import known_errors

    setup()
    result = known_errors.add_known_error(
        name, error_code=code, pattern=pattern or "", step=step, severity=severity, root_cause=root_cause,
        corrective_action=corrective_action, auto_retry=auto_retry, retry_max=retry_max,
        retry_delay_s=retry_delay, open_ticket=ticket)
    emit(result, json_out, lambda r: _saved(r, "added"))


@app.command()
def edit(
    known_error_id: str,
    name: str = NAME, code: str = CODE, pattern: str = PATTERN, step: str = STEP, severity: str = SEVERITY,
    root_cause: str = CAUSE, corrective_action: str = ACTION, auto_retry: bool = AUTO_RETRY,
    retry_max: int = RETRY_MAX, retry_delay: int = RETRY_DELAY, ticket: bool = TICKET,
    json_out: bool = JSON,
) -> None:
    """Change the given fields of a known error (pass "" to clear --code, --pattern or --step)."""
    from batchops.services import known_errors

    setup()
    changes = dict(name=name, error_code=code, pattern=pattern, step=step, severity=severity,
                   root_cause=root_cause, corrective_action=corrective_action, auto_retry=auto_retry,
                   retry_max=retry_max, retry_delay_s=retry_delay, open_ticket=ticket)
    result = known_errors.edit_known_error(known_error_id, **changes)
    emit(result, json_out, lambda r: _saved(r, "saved"))


@app.command()
def delete(
    known_error_id: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    json_out: bool = JSON,
) -> None:
    """Delete a known error (incidents keep what was copied from it)."""
    from batchops import context
    from batchops.cli.output import info
    from batchops.services import known_errors

    setup()
    context.require_writable()  # refuse before asking, not after the operator said yes
    current = known_errors.show_known_error(known_error_id)
    confirm(f"delete known error {current['id']} {current['name']!r}?", yes)
    result = known_errors.delete_known_error(known_error_id)
    emit(result, json_out, lambda r: info(f"known error {r['id']} {r['name']!r} deleted"))


@app.command("test")
def test_(
    message: str = typer.Argument(..., help="The error message to try."),
    code: str = typer.Option(None, "--code", help="The error code that came with it."),
    step: str = STEP,
    pattern: str = typer.Option(None, "--pattern", help="Also try this unsaved regex (with --code)."),
    json_out: bool = JSON,
) -> None:
    """Which known error would match a message, and how many past failed runs it would have matched."""
    from batchops.cli.output import info
    from batchops.services import known_errors

    setup()

    def past(hits: int, best) -> str:
        if not hits:
            return f"it matched none of the {r_checked[0]} past failed runs"
        return (f"it matched {hits} of {r_checked[0]} past failed runs"
                + (f", and was triage's pick for {best} of them" if best else ", but never as triage's pick"))

    r_checked = [0]

    def render(r: dict) -> None:
        r_checked[0] = r["failed_runs_checked"]
        if r.get("code_from_message"):
            info(f"read the error code {r['code']} from the message")
        if r["match"]:
            m = r["match"]
            info(f"triage would match known error {m['id']} {m['name']!r} on {m['level']} (severity {m['severity']}"
                 f"{', auto-retry' if m['auto_retry'] else ''}); {past(m['past_matches'], m['past_best'])}")
            if not r["code"]:
                codes = ", ".join(dict.fromkeys(c["error_code"] or "any code" for c in r["candidates"]))
                info(f"no error code given: it could be {codes} (pass --code, or paste the 'E_CODE: message' line)")
            if len(r["candidates"]) > 1:
                table(r["candidates"], ["id", "name", "level", "severity", "past_matches", "past_best"],
                      title="Every known error that matches, best first")
        else:
            info(f"no known error matches: triage would open an unknown-error incident "
                 f"({r['failed_runs_checked']} past failed runs checked)")
        if "draft" in r:
            d = r["draft"]
            info(f"draft pattern {d['pattern']!r}: {'matches' if d['matches_message'] else 'does not match'} "
                 f"this message; {past(d['past_matches'], d['past_best'])}")

    emit(known_errors.test_message(message, code=code, step=step, pattern=pattern), json_out, render)
