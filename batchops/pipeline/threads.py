"""Work two at a time where Arrow releases the GIL, never a failed run because the OS said no.

Under load the OS can refuse a new thread (``RuntimeError: can't start new thread``, EAGAIN from
``clone``); that is a reason to do the same work in this thread, not an internal error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _refused(exc: RuntimeError) -> bool:
    return "can't start new thread" in str(exc)


def map_threads(fn: Callable[[T], R], items: Iterable[T], workers: int, name: str) -> list[R]:
    """``[fn(x) for x in items]``, ``workers`` at a time; all in this thread if no thread can start."""
    items = list(items)
    if workers < 2 or len(items) < 2:
        return [fn(x) for x in items]
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
            return list(pool.map(fn, items))
    except RuntimeError as exc:
        if not _refused(exc):
            raise
    return [fn(x) for x in items]


def alongside(background: Callable[[], object], here: Callable[[], R], name: str) -> R:
    """``here()`` while ``background()`` runs in another thread (one after the other if none can start)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    try:
        job = pool.submit(background)
    except RuntimeError as exc:
        if not _refused(exc):
            raise
        job = None
    try:
        result = here()
    finally:
        pool.shutdown(wait=True)  # the background work is done, or was never started
    if job is None:
        background()
    else:
        job.result()  # its error, if it failed
    return result
