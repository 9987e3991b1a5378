"""What a running job callable can see: its run, its log and its deadline.

The job-run service (``services.job_runs``) sets the context for the thread that
runs a callable; callables call ``log()`` and ``check_deadline()`` between items.
Outside a job run both are harmless (``log`` goes to the worker's logger).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from batchops import clock
from batchops.clock import utc_now
from batchops.errors import JobError
from batchops.redact import redact

logger = logging.getLogger("batchops.jobs")


@dataclass
class JobContext:
    run_id: int
    job_name: str
    timeout_s: float
    deadline: float  # time.monotonic()
    lines: list[str] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def log(self, message: str) -> None:
        message = redact(message)
        self.lines.append(f"{clock.fmt(utc_now(), seconds=True)} {message}")
        logger.info("run %s (%s): %s", self.run_id, self.job_name, message)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check_deadline(self) -> None:
        if self.cancelled.is_set() or time.monotonic() > self.deadline:
            raise JobError(f"the job ran longer than its timeout of {self.timeout_s:g} s", code="E_JOB_TIMEOUT")


_local = threading.local()


def bind(ctx: JobContext | None) -> None:
    """Make ``ctx`` the context of the calling thread (None clears it)."""
    _local.ctx = ctx


def current() -> JobContext | None:
    """The context of the job run executing in this thread (None outside a job)."""
    return getattr(_local, "ctx", None)


def log(message: str) -> None:
    """Add a line to the running job's log (and the worker's log); a no-op outside a job."""
    ctx = current()
    if ctx is not None:
        ctx.log(message)
    else:
        logger.info(message)


def check_deadline() -> None:
    """Raise E_JOB_TIMEOUT if the running job is past its timeout (callables call this between items)."""
    ctx = current()
    if ctx is not None:
        ctx.check_deadline()
