"""Errors are values with codes.

Every failure an operator can meet is a ``BatchOpsError`` with a short code
(``E_MISSING_COLUMNS``) and one sentence they understand. Front doors print
``code: message``; triage matches known errors on code and message.

Two families decide the CLI exit code:

* ``InputError`` (exit 2) - the request itself is wrong: unknown id, malformed
  JSON, invalid cron, illegal incident transition, bad config.
* ``WorkError`` (exit 1) - the request was fine but the work failed: a pipeline
  step, a job, an unhealthy health check.
"""

from __future__ import annotations

from typing import Any

from batchops.redact import redact

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class BatchOpsError(Exception):
    code = "E_BATCHOPS"
    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, code: str | None = None, **details: Any):
        message = redact(message)  # a URL's password or a token never travels inside an error
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InputError(BatchOpsError):
    """The request is wrong; nothing was changed. CLI exit 2."""

    code = "E_INPUT"
    exit_code = EXIT_USAGE


class WorkError(BatchOpsError):
    """The work itself failed. CLI exit 1."""

    code = "E_FAILED"
    exit_code = EXIT_FAILED


class ConfigError(InputError):
    code = "E_CONFIG"


class NotFound(InputError):
    code = "E_NOT_FOUND"


class InvalidJSON(InputError):
    code = "E_JSON_INVALID"


class InvalidCron(InputError):
    code = "E_CRON_INVALID"


class IllegalTransition(InputError):
    code = "E_ILLEGAL_TRANSITION"


class ReadOnly(InputError):
    code = "E_READ_ONLY"


class PipelineError(WorkError):
    """A pipeline step failed.

    ``step`` names the step (standardize, validate, transform, summarize,
    publish); ``findings`` carries row-level findings gathered before failing.
    """

    code = "E_PIPELINE"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        step: str | None = None,
        findings: list | None = None,
        **details: Any,
    ):
        super().__init__(message, code=code, **details)
        self.step = step
        self.findings = findings or []


class JobError(WorkError):
    code = "E_JOB_FAILED"


class StorageError(WorkError):
    """Object storage could not be used: E_STORAGE_UNREACHABLE, E_STORAGE_NO_BUCKET, E_STORAGE_DENIED,
    E_OBJECT_MISSING (a key the store names is not there)."""

    code = "E_STORAGE_UNREACHABLE"


class SubmitLost(WorkError):
    """An upload whose run never started, and whose stored original is gone or damaged."""

    code = "E_SUBMIT_LOST"


# Table-shape refusals (PDF reader and the confidence gate); each has a known error in store/seeds.py.
E_PDF_MANY_TABLES = "E_PDF_MANY_TABLES"  # several tables, none chosen: --table N
E_PDF_TABLE_NOT_FOUND = "E_PDF_TABLE_NOT_FOUND"  # --table N names a table the file does not have
E_PDF_SPILLED_COLUMNS = "E_PDF_SPILLED_COLUMNS"  # columns printed across pages that cannot be joined back
E_TABLE_LOW_CONFIDENCE = "E_TABLE_LOW_CONFIDENCE"  # the table read does not look right: --force-publish after a look


class DiskFull(WorkError):
    """The disk holding the data home (or an export) is full: nothing is retried until space is freed."""

    code = "E_DISK_FULL"


_FULL_ERRNOS = {28, 122}  # ENOSPC, EDQUOT


def disk_full(exc: BaseException | None) -> DiskFull | None:
    """A ``DiskFull`` if ``exc`` or anything in its chain says the disk is full, else None.

    SQLite rolls a transaction back itself when the disk fills, so what surfaces is often
    "cannot rollback - no transaction is active" with the real cause in the chain.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFull):
            return exc
        text = str(exc).lower()
        if "database or disk is full" in text or (isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS):
            return DiskFull(
                f"the disk is full ({exc.__class__.__name__}: {exc}); free space on the data home's "
                "disk, then retry - nothing was retried automatically"
            )
        exc = exc.__cause__ or exc.__context__
    return None
