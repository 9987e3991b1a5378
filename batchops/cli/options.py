"""The global options on ``ctx.obj``, and the options several commands share, declared once.

Each shared option is an ``Annotated`` alias: ``json_out: JsonOutput = False`` in a command's
signature is the whole declaration.
"""

from dataclasses import dataclass
from typing import Annotated

import typer


@dataclass
class GlobalOptions:
    """``batchops --home DIR --config FILE --json --read-only CMD``: set by the app callback on ``ctx.obj``.

    ``--debug`` is not here: ``main.run`` reads it from argv, because it reports errors after
    click's context is gone.
    """

    home: str | None = None
    config: str | None = None
    json: bool = False
    read_only: bool = False


def global_options(ctx: typer.Context) -> GlobalOptions:
    """The options the app callback set (defaults for a sub-app run on its own)."""
    return ctx.ensure_object(GlobalOptions)


def _or_global_json(ctx: typer.Context, value: bool) -> bool:
    # `batchops --json CMD` and `batchops CMD --json` mean the same: the command sees either as its flag.
    return value or global_options(ctx).json


def plan_config_from(records, where, rules, instructions, options) -> dict:
    """The plan configuration the plan options (--records --where --rules --instructions --set) spell.

    Commands parse it before they open the store: a mistyped payload changes nothing, not even
    a data home created or stale runs recovered first.
    """
    from batchops.services import plans

    return plans.plan_config(
        records=records,
        where=where,
        rules=rules,
        instructions=instructions,
        options=options,
        labels={"records": "--records", "rules": "--rules"},
    )


JsonOutput = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.", callback=_or_global_json)]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")]
Actor = Annotated[str | None, typer.Option("--as", help="Who is acting (default: the OS user).", metavar="NAME")]
Limit = Annotated[int, typer.Option("--limit", "-n")]
