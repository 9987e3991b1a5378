"""batchops known-errors ..."""

from typing import Annotated

import typer

from batchops.cli.options import JsonOutput, Yes
from batchops.cli.output import confirm, emit, info, record, table
from batchops.cli.store import needs_store

app = typer.Typer(name="known-errors", help="The known-error library.", no_args_is_help=True)
LIST_COLUMNS = ["id", "name", "error_code", "severity", "auto_retry", "retry_max"]


@app.command("list")
@needs_store()
def list_(json_out: JsonOutput = False) -> None:
    """The known-error library."""
    from batchops.services import known_errors

    emit(known_errors.list_known_errors(), json_out, lambda rows: table(rows, LIST_COLUMNS, title="Known errors"))


@app.command()
@needs_store()
def show(known_error_id: str, json_out: JsonOutput = False) -> None:
    """One known error in full."""
    from batchops.services import known_errors

    emit(known_errors.show_known_error(known_error_id), json_out, lambda r: record(r, title=f"Known error {r['id']}"))


# The options `add` and `edit` share, declared once; each command says its own type and default.
NAME = typer.Option("--name", help="A short name operators recognise.")
CODE = typer.Option("--code", help="Error code to match (E_MISSING_COLUMNS ...).")
PATTERN = typer.Option("--pattern", help="Regex searched in the error message (case-insensitive).")
STEP = typer.Option("--step", help="Only in this pipeline step.")
SEVERITY = typer.Option("--severity", help="low, medium, high, critical.")
CAUSE = typer.Option("--root-cause", help="Why it happens.")
ACTION = typer.Option("--corrective-action", help="What to do about it.")
RETRY_MAX = typer.Option("--retry-max", help="How many automatic retries.", min=0)
RETRY_DELAY = typer.Option("--retry-delay", help="Seconds before each retry.", min=0)
TICKET = typer.Option("--ticket/--no-ticket", help="Open a ticket for each new incident.")


def _saved(r: dict, what: str) -> None:
    record(r, title=f"Known error {r['id']} {what}")
    info(f"known error {r['id']} {what}; it would have matched {r['past_matches']} past failed run(s)")


@app.command()
@needs_store()
def add(
    name: Annotated[str, NAME],
    code: Annotated[str | None, CODE] = None,
    pattern: Annotated[str | None, PATTERN] = None,
    step: Annotated[str | None, STEP] = None,
    severity: Annotated[str, SEVERITY] = "medium",
    root_cause: Annotated[str, CAUSE] = "",
    corrective_action: Annotated[str, ACTION] = "",
    auto_retry: Annotated[bool, typer.Option("--auto-retry/--no-auto-retry", help="Retry automatically.")] = False,
    retry_max: Annotated[int, RETRY_MAX] = 0,
    retry_delay: Annotated[int, RETRY_DELAY] = 60,
    ticket: Annotated[bool, TICKET] = True,
    json_out: JsonOutput = False,
) -> None:
    """Teach BatchOps a known error (needs --code, --pattern or both)."""
    from batchops.services import known_errors

    result = known_errors.add_known_error(
        name,
        error_code=code,
        pattern=pattern or "",
        step=step,
        severity=severity,
        root_cause=root_cause,
        corrective_action=corrective_action,
        auto_retry=auto_retry,
        retry_max=retry_max,
        retry_delay_s=retry_delay,
        open_ticket=ticket,
    )
    emit(result, json_out, lambda r: _saved(r, "added"))


@app.command()
@needs_store()
def edit(
    known_error_id: str,
    name: Annotated[str | None, NAME] = None,
    code: Annotated[str | None, CODE] = None,
    pattern: Annotated[str | None, PATTERN] = None,
    step: Annotated[str | None, STEP] = None,
    severity: Annotated[str | None, SEVERITY] = None,
    root_cause: Annotated[str | None, CAUSE] = None,
    corrective_action: Annotated[str | None, ACTION] = None,
    auto_retry: Annotated[
        bool | None, typer.Option("--auto-retry/--no-auto-retry", help="Retry automatically through the queue.")
    ] = None,
    retry_max: Annotated[int | None, RETRY_MAX] = None,
    retry_delay: Annotated[int | None, RETRY_DELAY] = None,
    ticket: Annotated[bool | None, TICKET] = None,
    json_out: JsonOutput = False,
) -> None:
    """Change the given fields of a known error (pass "" to clear --code, --pattern or --step)."""
    from batchops.services import known_errors

    changes = dict(
        name=name,
        error_code=code,
        pattern=pattern,
        step=step,
        severity=severity,
        root_cause=root_cause,
        corrective_action=corrective_action,
        auto_retry=auto_retry,
        retry_max=retry_max,
        retry_delay_s=retry_delay,
        open_ticket=ticket,
    )
    result = known_errors.edit_known_error(known_error_id, **changes)
    emit(result, json_out, lambda r: _saved(r, "saved"))


@app.command()
@needs_store()
def delete(known_error_id: str, yes: Yes = False, json_out: JsonOutput = False) -> None:
    """Delete a known error (incidents keep what was copied from it)."""
    from batchops import context
    from batchops.services import known_errors

    context.require_writable()  # refuse before asking, not after the operator said yes
    current = known_errors.show_known_error(known_error_id)
    confirm(f"delete known error {current['id']} {current['name']!r}?", yes)
    result = known_errors.delete_known_error(known_error_id)
    emit(result, json_out, lambda r: info(f"known error {r['id']} {r['name']!r} deleted"))


@app.command("test")
@needs_store()
def test_(
    message: Annotated[str, typer.Argument(help="The error message to try.")],
    code: Annotated[str | None, typer.Option("--code", help="The error code that came with it.")] = None,
    step: Annotated[str | None, STEP] = None,
    pattern: Annotated[str | None, typer.Option("--pattern", help="Also try this unsaved regex (with --code).")] = None,
    json_out: JsonOutput = False,
) -> None:
    """Which known error would match a message, and how many past failed runs it would have matched."""
    from batchops.services import known_errors

    def past(hits: int, best) -> str:
        if not hits:
            return f"it matched none of the {r_checked[0]} past failed runs"
        return f"it matched {hits} of {r_checked[0]} past failed runs" + (
            f", and was triage's pick for {best} of them" if best else ", but never as triage's pick"
        )

    r_checked = [0]

    def render(r: dict) -> None:
        r_checked[0] = r["failed_runs_checked"]
        if r.get("code_from_message"):
            info(f"read the error code {r['code']} from the message")
        if r["match"]:
            m = r["match"]
            info(
                f"triage would match known error {m['id']} {m['name']!r} on {m['level']} (severity {m['severity']}"
                f"{', auto-retry' if m['auto_retry'] else ''}); {past(m['past_matches'], m['past_best'])}"
            )
            if not r["code"]:
                codes = ", ".join(dict.fromkeys(c["error_code"] or "any code" for c in r["candidates"]))
                info(f"no error code given: it could be {codes} (pass --code, or paste the 'E_CODE: message' line)")
            if len(r["candidates"]) > 1:
                table(
                    r["candidates"],
                    ["id", "name", "level", "severity", "past_matches", "past_best"],
                    title="Every known error that matches, best first",
                )
        else:
            info(
                f"no known error matches: triage would open an unknown-error incident "
                f"({r['failed_runs_checked']} past failed runs checked)"
            )
        if "draft" in r:
            d = r["draft"]
            info(
                f"draft pattern {d['pattern']!r}: {'matches' if d['matches_message'] else 'does not match'} "
                f"this message; {past(d['past_matches'], d['past_best'])}"
            )

    emit(known_errors.test_message(message, code=code, step=step, pattern=pattern), json_out, render)
