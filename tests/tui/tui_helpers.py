"""Helpers for the TUI tests (imported as ``tui_helpers``)."""

from __future__ import annotations

import asyncio
import time

SIZE = (120, 40)


async def wait_for(pilot, condition, timeout: float = 15.0, what: str = "condition"):
    """Let the app run until ``condition()`` is truthy (thread workers finish off the UI thread)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception:  # widgets not mounted yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def wait_for_palette_hit(pilot, app, text: str) -> None:
    """The command palette's highlighted hit names ``text``: its search runs in batches and takes
    longer than any fixed pause on a busy machine."""
    from textual.command import CommandList

    def highlighted() -> str:
        hits = app.screen.query_one(CommandList)
        if hits.highlighted is None:
            return ""
        prompt = hits.get_option_at_index(hits.highlighted).prompt
        return getattr(prompt, "plain", str(prompt))

    await wait_for(pilot, lambda: text in highlighted(), what=f"the palette offering {text!r}")


def table_rows(screen, selector: str = "DataTable") -> list[list[str]]:
    """Plain text of every row of a screen's table."""
    from rich.text import Text

    table = screen.query_one(selector)
    out = []
    for row_key in table.rows:
        out.append([c.plain if isinstance(c, Text) else str(c) for c in table.get_row(row_key)])
    return out


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


def run(coro):
    return asyncio.run(coro)
