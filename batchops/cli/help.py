"""Help that reads well: ``FILE...``, ``JOB`` and ``--where COL=VALUE``, not typer's ``{FILE...}...`` or ``<list[str]>``."""

from __future__ import annotations

from typing import Any

# What an option's value looks like in help, when its name does not say it well enough.
OPTION_METAVARS = {
    "where": "COL=VALUE",
    "set": "KEY=VALUE",
    "records": "JSON|@FILE",
    "rules": "JSON|@FILE",
    "args": "JSON",
    "kwargs": "JSON",
    "format": "csv|pdf",
    "output": "PATH",
    "out": "DIR",
    "instructions": "TEXT",
    "notes": "TEXT",
    "report": "TEXT",
    "resolution": "TEXT",
    "impact": "TEXT",
    "root_cause": "TEXT",
    "corrective_action": "TEXT",
    "to": "NAME",
}


def readable_help(command: Any) -> None:
    """Set the metavars of ``command`` and every command under it."""
    from typer.core import TyperArgument, TyperOption  # typer carries its own click

    for param in getattr(command, "params", []):
        if isinstance(param, TyperArgument):
            base = (param.metavar or param.name.upper().removesuffix("_ID")).removesuffix("...")
            shown = base + ("..." if param.nargs != 1 else "")
            usage = shown if param.required else f"[{shown}]"
            param.metavar = shown
            # per-parameter overrides of typer's methods (an instance attribute shadows the method)
            vars(param).update(
                _usage_display_name=lambda usage=usage: usage,
                _rich_display_name=lambda shown=shown: shown,
                display_type_rich=lambda ctx: "",
            )
        elif isinstance(param, TyperOption) and not param.is_flag and param.metavar is None:
            name = max(param.opts, key=len).lstrip("-").replace("-", "_")
            if name in OPTION_METAVARS:
                param.metavar = OPTION_METAVARS[name]
            elif param.bare_type().startswith("int"):
                param.metavar = "N"
            elif param.bare_type().startswith("float"):
                param.metavar = "SECONDS"
            else:
                param.metavar = name.upper()
    for sub in getattr(command, "commands", {}).values():
        readable_help(sub)
