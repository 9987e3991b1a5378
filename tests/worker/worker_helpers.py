"""Job callables for tests, allowed through automation.allowed_modules = ["worker_helpers"]."""

from __future__ import annotations

import threading
import time
from subprocess import run  # noqa: F401 - imported, not a job: the registry must refuse worker_helpers:run

from batchops.automation.registry import job

RELEASE = threading.Event()  # the test lets ``held`` return
FINISHED = threading.Event()


def not_a_job() -> dict:
    """Defined here but never marked: not a job."""
    return {"ran": True}


@job
def noop() -> dict:
    """Do nothing, successfully."""
    return {"ok": True}


@job
def echo(*args, **kwargs) -> dict:
    """Return the arguments."""
    return {"args": list(args), "kwargs": kwargs}


@job
def boom(message: str = "boom") -> None:
    """Fail with a plain exception."""
    raise RuntimeError(message)


@job
def sleepy(seconds: float = 5.0) -> dict:
    """Sleep without looking at the deadline (abandoned on timeout)."""
    time.sleep(seconds)
    return {"slept": seconds}


@job
def cooperative(seconds: float = 5.0) -> dict:
    """Sleep in small steps, stopping at the deadline."""
    from batchops.automation.job_context import check_deadline

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check_deadline()
        time.sleep(0.05)
    return {"slept": seconds}


@job
def held() -> dict:
    """Wait until the test sets RELEASE, without looking at the deadline (abandoned on timeout)."""
    RELEASE.wait(120)
    FINISHED.set()
    return {"released": RELEASE.is_set()}
