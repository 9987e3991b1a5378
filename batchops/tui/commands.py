"""Command palette (``:`` or ctrl+p): jump to an upload, run or incident by id; trigger a job.

Job names are read once per palette opening, in a thread worker; ids need no
lookup (the detail screen says so if the id does not exist).
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from batchops.services import jobs, ui_state
from batchops.tui.typed_app import batchops_app
from batchops.tui.widgets.sidebar import AREAS

ID_QUERY = re.compile(r"^\s*(?:(upload|run|incident)s?\s*#?\s*|#)?(\d+)\s*$", re.IGNORECASE)
KINDS = {"upload": "uploads", "run": "runs", "incident": "incidents"}


def _job_list() -> list[dict]:
    with ui_state.connection():
        return jobs.list_jobs()


class BatchOpsCommands(Provider):
    async def startup(self) -> None:
        self.jobs: list[dict] = []
        worker = self.app.run_worker(_job_list, thread=True, exit_on_error=False, group="palette")
        try:
            self.jobs = await worker.wait() or []
        except Exception:
            self.jobs = []

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        out: list[tuple[str, Callable[[], Any], str]] = [
            (f"Go to {label}", partial(batchops_app(self.app).action_area, area), f"key {key}")
            for area, label, key in AREAS
        ]
        read_only = getattr(self.app, "read_only", False)
        if not read_only:
            for job in self.jobs:
                out.append(
                    (
                        f"Trigger job {job['name']}",
                        partial(self._trigger, job),
                        f"{job['callable']} · {job['cron']} {job['timezone']}",
                    )
                )
        return out

    async def _trigger(self, job: dict) -> None:
        from batchops.tui.screens.jobs import ask_trigger

        await batchops_app(self.app).action_area("jobs")
        ask_trigger(self.app.screen, job)

    async def discover(self) -> Hits:
        for text, callback, help_text in self._commands():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        found = ID_QUERY.match(query)
        if found:
            kind, ident = (found.group(1) or "").lower(), int(found.group(2))
            for name, area in KINDS.items():
                if kind and kind != name:
                    continue
                yield Hit(
                    1.0 if kind else 0.9,
                    f"Open {name} {ident}",
                    partial(batchops_app(self.app).open_item, area, ident),
                    help=f"the {name}'s detail screen",
                )
        matcher = self.matcher(query)
        for text, callback, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, text=text, help=help_text)
