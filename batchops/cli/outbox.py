"""batchops outbox ...: mail and webhooks waiting to be delivered."""

import typer

from batchops.cli.options import JsonOutput
from batchops.cli.output import emit, info, table
from batchops.cli.store import needs_store

app = typer.Typer(name="outbox", help="Messages waiting to be delivered.", no_args_is_help=True)


@app.command("list")
@needs_store()
def outbox_list(json_out: JsonOutput = False) -> None:
    """Messages waiting in the outbox."""
    from batchops.services import outbox

    rows = outbox.list_outbox()
    emit(
        rows,
        json_out,
        lambda r: table(
            [
                {
                    "file": m.get("file"),
                    "kind": m.get("kind"),
                    "to": ", ".join(m.get("to", [])) or m.get("url"),
                    "subject": m.get("subject", ""),
                    "last_error": m.get("last_error"),
                }
                for m in r
            ],
            ["file", "kind", "to", "subject", "last_error"],
            title="Outbox",
            empty="the outbox is empty",
        ),
    )


@app.command("flush")
@needs_store()
def outbox_flush(json_out: JsonOutput = False) -> None:
    """Try to deliver every waiting message now."""
    from batchops import context
    from batchops.services import outbox

    context.require_writable()
    result = outbox.flush()
    smtp = bool(context.config().smtp.host)

    def render(r: dict) -> None:
        text = f"{r['delivered']} delivered, {r['failed']} failed, {r['waiting']} waiting"
        if r["waiting"] and not smtp:
            text += " (emails wait: no SMTP configured, set smtp.host)"
        info(text)

    emit(result, json_out, render)
    if result["failed"]:
        raise typer.Exit(1)
