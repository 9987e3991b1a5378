"""batchops dashboard, batchops metrics."""

from typing import Annotated

import typer

from batchops.cli.options import JsonOutput
from batchops.cli.output import emit, info
from batchops.cli.store import needs_store

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    top = max(values) if values else 0
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(len(BARS) - 1, round(v / top * (len(BARS) - 1)))] for v in values)


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _render(d: dict) -> None:
    from batchops.cli.output import console, table
    from batchops.clock import fmt, fmt_duration

    out = console()
    up = d["uploads_today"]
    runs = d["runs_24h"]
    inc = d["incidents_open"]
    out.print(f"[bold]BatchOps dashboard[/bold]  {fmt(d['generated_at'])}")
    out.print(
        f"Uploads today     {up['total']}: {up['published']} published, {up['failed']} failed, "
        f"{up['queued'] + up['processing']} queued or processing, {up['staged']} staged"
    )
    out.print(
        f"Runs (24 h)       {runs['total']}: {runs['succeeded']} succeeded, {runs['failed']} failed, "
        f"{runs['running']} running, {runs['queued']} queued; success rate {_pct(runs['success_rate'])}"
    )
    sev = inc["by_severity"]
    out.print(
        f"Open incidents    {inc['total']}: "
        + ", ".join(f"{sev[s]} {s}" for s in sev)
        + (f" ({inc['unknown_errors']} unknown errors)" if inc["unknown_errors"] else "")
    )
    overall = d["response"]["overall"]
    out.print(
        f"MTTA / MTTR       {fmt_duration(overall['mtta_s'])} / {fmt_duration(overall['mttr_s'])} "
        f"({overall['acknowledged']} acknowledged, {overall['resolved']} resolved, "
        f"last {d['response']['window_days']:g} days)"
    )
    per_day = d["runs_per_day"]
    out.print(
        f"Runs per day      {sparkline([p['total'] for p in per_day])}  {per_day[0]['date']} .. {per_day[-1]['date']}"
        if per_day
        else ""
    )
    rows = [
        {"severity": s, "mtta": fmt_duration(v["mtta_s"]), "mttr": fmt_duration(v["mttr_s"]), "cycles": v["cycles"]}
        for s, v in d["response"]["by_severity"].items()
        if v["cycles"]
    ]
    if rows:
        table(rows, ["severity", "mtta", "mttr", "cycles"], title="Response by severity")
    steps = [{"step": k, "failures": v} for k, v in d["failures_by_step"].items()]
    table(steps, ["step", "failures"], title="Pipeline failures by step")
    table(
        d["top_known_errors"],
        ["name", "severity", "incidents", "occurrences"],
        title="Top known errors",
        empty="no incidents in the window",
    )


@needs_store()
def dashboard(json_out: JsonOutput = False) -> None:
    """The KPIs the TUI dashboard shows."""
    from batchops.services import dashboard as service

    emit(service.dashboard(), json_out, _render)


@needs_store()
def metrics(
    serve: Annotated[
        int | None,
        typer.Option("--serve", help="Serve /metrics over HTTP on this port.", metavar="PORT", min=0, max=65535),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on with --serve.")] = "127.0.0.1",
) -> None:
    """Prometheus text exposition format (or serve it with --serve PORT)."""
    import sys

    from batchops.services import metrics as service

    if serve is None:
        sys.stdout.write(service.render())
        return
    info(f"serving metrics on http://{host}:{serve}/metrics (Ctrl-C to stop)")
    service.serve(serve, host)


def register(app: typer.Typer) -> None:
    app.command()(dashboard)
    app.command()(metrics)
