"""Check a plan's column names against the file before anything is queued.

A mistyped ``--where studnt_id=S001`` used to become a failed run with an
incident (exit 1); it is the operator's input that is wrong, so it is refused
up front (E_UNKNOWN_COLUMN, exit 2) with the columns the file has. The file is
read with the pipeline's own loader, so "has this column" means exactly what the
run will see (original headers and synonyms accepted). A file that cannot be
read is left for the run to fail and triage as usual.
"""

from __future__ import annotations

from pathlib import Path

from batchops.errors import BatchOpsError, InputError


def named_columns(plan: str, config: dict) -> list[str]:
    """The columns a plan's payload names (none for plans that name none, or an unknown plan)."""
    from batchops.pipeline.plans import PLANS

    return PLANS[plan].columns(config or {}) if plan in PLANS else []


def check_columns(
    source: Path,
    original_name: str,
    plan: str,
    config: dict,
    settings,
    sheet: str | None = None,
    department: str | None = None,
    table: int | None = None,
) -> None:
    """InputError E_UNKNOWN_COLUMN naming the file's columns when the payload names one it lacks."""
    from batchops.pipeline.plans import PlanContext, resolve_column
    from batchops.pipeline.runner import PipelineRequest
    from batchops.pipeline.standardize import standardize

    wanted = [c for c in named_columns(plan, config) if c.strip()]
    if not wanted:
        return
    request = PipelineRequest(
        source=Path(source),
        original_name=original_name,
        out_dir=Path("."),
        plan=plan,
        plan_config=config,
        sheet=sheet,
        department=department,
        table=table,
    )
    try:
        loaded = standardize(request, settings)
    except BatchOpsError:
        return  # the run reports an unreadable file with its own code and incident
    lookup = PlanContext.lookup_of(loaded.original_columns, loaded.df.columns)
    ctx = PlanContext(settings=settings, config=config, subjects=[], numeric_columns=[], column_lookup=lookup)
    missing = []
    for name in wanted:
        try:
            resolve_column(name, loaded.df, ctx)
        except BatchOpsError:
            missing.append(name)
    if missing:
        names = ", ".join(repr(m) for m in dict.fromkeys(missing))
        raise InputError(
            f"{original_name} has no column {names}; its columns are: {', '.join(map(str, loaded.df.columns))}",
            code="E_UNKNOWN_COLUMN",
        )
