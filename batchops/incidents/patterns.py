"""Operators' known-error regexes, run under a time budget.

A known error's pattern is searched in failure messages, and the uploader
controls much of that text (file names, column names, cell values). With the
standard ``re`` a pattern such as ``(\\w+\\s?)+$`` backtracks for minutes on 40
letters and a ``!``; every command that triages would hang behind it. So the
patterns run on the ``regex`` engine, which takes a ``timeout=`` per search:

* ``search`` gives each search ``SEARCH_BUDGET_S``; a pattern that runs out is
  treated as no match, logged, and skipped for the rest of this process.
* ``check_speed`` is the gate at ``known-errors add``/``edit``: the pattern is
  tried against strings built to make backtracking explode, and refused
  (``E_REGEX_SLOW``) if any of them runs out of budget.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import regex

from batchops.errors import InputError

log = logging.getLogger("batchops.incidents")

SEARCH_BUDGET_S = 0.1  # a sane pattern over a failure message takes microseconds
PROBE_BUDGET_S = 0.05
PROBE_LENGTH = 48
PROBE_POOL = "a1 _.-/\t\nZé"
PROBE_ENDINGS = ("!", "\x00", "")

error = regex.error
_slow: set[str] = set()  # patterns that ran out of budget in this process


class PatternTooSlow(InputError):
    code = "E_REGEX_SLOW"


def compile_pattern(pattern: str | None) -> regex.Pattern | None:
    """The compiled regex (case-insensitive) or None for an empty pattern; raises ``error``."""
    if not pattern:
        return None
    return regex.compile(pattern, regex.IGNORECASE)


def search(compiled: regex.Pattern, text: str) -> bool:
    """Does ``compiled`` find something in ``text`` within the budget? A slow pattern never matches."""
    if compiled.pattern in _slow:
        return False
    try:
        return compiled.search(text, timeout=SEARCH_BUDGET_S) is not None
    except TimeoutError:
        _slow.add(compiled.pattern)
        log.warning(
            "known-error pattern %r ran out of its %.2f s budget; skipped from now on "
            "(edit it with `batchops known-errors edit`)",
            compiled.pattern,
            SEARCH_BUDGET_S,
        )
        return False


def _probes(pattern: str) -> list[str]:
    chars = dict.fromkeys(PROBE_POOL + "".join(c for c in pattern.lower() if c.isalnum()))
    probes = []
    for c in chars:
        probes += [c * PROBE_LENGTH + end for end in PROBE_ENDINGS]
    probes += ["a1 " * (PROBE_LENGTH // 3) + "!", "a " * (PROBE_LENGTH // 2) + "!", "a." * (PROBE_LENGTH // 2) + "!"]
    return probes


def check_speed(pattern: str, samples: Sequence[str] = ()) -> None:
    """Refuse (E_REGEX_SLOW) a pattern that runs out of budget on a pathological probe or a sample."""
    compiled = compile_pattern(pattern)
    if compiled is None:
        return
    for text in [*_probes(pattern), *samples]:
        try:
            compiled.search(text, timeout=PROBE_BUDGET_S)
        except TimeoutError:
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise PatternTooSlow(
                f"pattern {pattern!r} is too slow: it ran for over {PROBE_BUDGET_S:g} s on {shown!r} "
                "(nested repeats such as (a|aa)+ or (\\w+\\s?)+ backtrack without end); "
                "rewrite it without a repeat inside a repeat"
            ) from None
