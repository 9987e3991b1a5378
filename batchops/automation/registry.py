"""The job callables a Job may name: a registry, not arbitrary import paths.

A Job's ``callable`` is either one of the built-in names below or, only when
``automation.allowed_modules`` lists its module, ``module:function`` (the module
itself or a submodule of a listed one) where the function is *defined in* that
module and *marked* as a job with ``@batchops.automation.registry.job`` - so a
``from subprocess import run`` in a school's module is not a job, and neither is
any helper nobody meant to schedule. ``jobs callables`` lists by the same rule
(``is_job``). Anything else is refused with
``E_CALLABLE_NOT_REGISTERED`` when the job is added or edited *and* when it
runs, so removing a module from the config stops its jobs at once.

Built-ins are listed with their import target so listing them (``jobs
callables``, the TUI picker) imports nothing heavy.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field

from batchops.errors import InputError

NOT_REGISTERED = "E_CALLABLE_NOT_REGISTERED"


@dataclass(frozen=True)
class Arg:
    name: str
    type: str
    default: object
    help: str

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "default": self.default, "help": self.help}


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:function"
    description: str
    args: tuple[Arg, ...] = field(default_factory=tuple)
    builtin: bool = True

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "target": self.target,
            "description": self.description,
            "builtin": self.builtin,
            "args": [a.to_dict() for a in self.args],
        }


_J = "batchops.jobs"

BUILTINS: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry(
            "send_attendance_reminders",
            f"{_J}.attendance:send_attendance_reminders",
            "Email the guardian of every student marked absent (once per student and day); "
            "outbox when SMTP is not configured.",
            (
                Arg("path", "str", None, "attendance CSV/XLSX file or folder (default automation.attendance_path)"),
                Arg("date", "str", "today", "which day's rows: 'today' (display zone), 'all' or YYYY-MM-DD"),
                Arg("dry_run", "bool", False, "count who would be reminded, send nothing"),
            ),
        ),
        Entry(
            "send_system_status_digest",
            f"{_J}.digest:send_system_status_digest",
            "Health, yesterday's runs, open incidents and next jobs: written under digests/ and "
            "emailed to incidents.notify_emails.",
            (Arg("to", "list[str]", None, "recipients (default incidents.notify_emails)"),),
        ),
        Entry(
            "run_web_scrape",
            f"{_J}.scrape:run_web_scrape",
            "Fetch notice pages (http/https only, timeout, size cap), extract links matching keywords, "
            "snapshot under scrapes/ and report what changed; optionally take in linked result files.",
            (
                Arg("urls", "list[str]", None, "pages to fetch (default automation.scrape_urls)"),
                Arg("keywords", "list[str]", None, "notice keywords (default automation.scrape_keywords)"),
                Arg(
                    "download",
                    "str",
                    None,
                    'result files to take in, by file name: globs such as "*.csv,*.xlsx" '
                    "(CSV/XLSX/XLSM/XLSB/XLS/ODS/PDF links only; each URL and content once)",
                ),
                Arg("department", "str", None, "department for downloaded files' uploads"),
                Arg("plan", "str", None, "processing plan for downloaded files (default transform)"),
            ),
        ),
        Entry(
            "schedule_file_ingest",
            f"{_J}.ingest:schedule_file_ingest",
            "Pick up new files from a drop folder (and optionally FTP or S3), skip ones seen before by SHA-256, "
            "run the pipeline, move them to processed/ or failed/.",
            (
                Arg("folder", "str", None, "drop folder (default automation.ingest_folder)"),
                Arg("department", "str", None, "department for the uploads (default automation.ingest_department)"),
                Arg("plan", "str", None, "processing plan (default automation.ingest_plan)"),
                Arg(
                    "ftp_url",
                    "str",
                    None,
                    "ftp[s]://user@host/dir to fetch from first (default automation.ingest_ftp_url)",
                ),
                Arg(
                    "min_age_s",
                    "float",
                    None,
                    "seconds a file must be unchanged, on two looks, before it is taken "
                    "(default automation.ingest_quiet_seconds)",
                ),
                Arg("s3_url", "str", None, "s3://bucket/prefix to fetch from first (default automation.ingest_s3_url)"),
            ),
        ),
        Entry(
            "purge_old_records",
            f"{_J}.purge:purge_old_records",
            "Apply the retention settings (failed runs kept longer than successful ones, archived incidents, "
            "old exports and outbox), then VACUUM.",
            (
                Arg("dry_run", "bool", False, "only count what would go"),
                Arg("vacuum", "bool", True, "VACUUM the store afterwards"),
            ),
        ),
        Entry(
            "run_daily_backup",
            f"{_J}.backup:run_daily_backup",
            "Online backup of the store and queue into backups/<time>/, verified with integrity_check, "
            "rotated to retention.backups_keep.",
            (
                Arg("to", "str", None, "another folder or s3://bucket/prefix (no rotation there)"),
                Arg("keep", "int", None, "how many to keep (default retention.backups_keep)"),
            ),
        ),
    )
}


JOB_MARK = "__batchops_job__"


def job(func):
    """Mark a function in an allowed module as a job callable (``@job`` above its ``def``)."""
    setattr(func, JOB_MARK, True)
    return func


def is_job(module, attr: str, func) -> bool:
    """The one rule for extra callables: public, a function defined in ``module`` itself, marked ``@job``."""
    return (
        not attr.startswith("_")
        and inspect.isfunction(func)
        and func.__module__ == module.__name__
        and getattr(func, JOB_MARK, False) is True
    )


def _allowed_modules() -> list[str]:
    from batchops import context

    return list(context.config().automation.allowed_modules)


def _module_allowed(module: str) -> bool:
    return any(module == allowed or module.startswith(allowed + ".") for allowed in _allowed_modules())


def _refuse(name: str, why: str = "") -> InputError:
    names = ", ".join(sorted(BUILTINS))
    text = (
        f"callable {name!r} is not registered{': ' + why if why else ''}. Registered: {names}; "
        "other code must live in a module listed in automation.allowed_modules and be named module:function"
    )
    return InputError(text, code=NOT_REGISTERED)


def entry(name: str) -> Entry:
    """The registry entry for ``name`` (built-in, or module:function in an allowed module)."""
    name = (name or "").strip()
    if name in BUILTINS:
        return BUILTINS[name]
    if ":" not in name:
        raise _refuse(name)
    module, _, func = name.partition(":")
    if not module or not func.isidentifier() or func.startswith("_"):
        raise _refuse(name, "use module:function with a public function name")
    if not _module_allowed(module):
        raise _refuse(name, f"module {module!r} is not in automation.allowed_modules")
    return Entry(name, name, "", (), builtin=False)


def resolve(name: str):
    """The Python function for ``name``; E_CALLABLE_NOT_REGISTERED if it is not allowed or not importable."""
    found = entry(name)
    module_name, _, func_name = found.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _refuse(name, f"module {module_name!r} cannot be imported ({exc})") from None
    func = getattr(module, func_name, None)
    if func is None or not callable(func):
        raise _refuse(name, f"{module_name} has no function {func_name!r}")
    if not found.builtin and not is_job(module, func_name, func):
        raise _refuse(
            name,
            f"{func_name!r} is not a job of {module_name} (a function defined there and marked "
            "@batchops.automation.registry.job)",
        )
    return func


def check_arguments(name: str, args: list, kwargs: dict) -> None:
    """Refuse arguments the callable cannot take (E_JOB_ARGS_INVALID) before they fail at 2 a.m."""
    func = resolve(name)
    try:
        inspect.signature(func).bind(*args, **kwargs)
    except TypeError as exc:
        raise InputError(f"arguments do not fit {name}: {exc}", code="E_JOB_ARGS_INVALID") from None
    except ValueError:  # no signature available (builtins): nothing to check
        pass


def _module_entries(module_name: str) -> list[dict]:
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - listed as an error, not raised
        return [
            {
                "name": f"{module_name}:*",
                "target": module_name,
                "builtin": False,
                "args": [],
                "description": f"cannot import: {exc.__class__.__name__}: {exc}",
            }
        ]
    out = []
    for attr, func in sorted(vars(module).items()):
        if not is_job(module, attr, func):
            continue
        doc = (inspect.getdoc(func) or "").strip().splitlines()
        args = []
        for param in inspect.signature(func).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            default = None if param.default is param.empty else param.default
            args.append({"name": param.name, "type": "", "default": default, "help": ""})
        out.append(
            {
                "name": f"{module_name}:{attr}",
                "target": f"{module_name}:{attr}",
                "builtin": False,
                "description": doc[0] if doc else "",
                "args": args,
            }
        )
    return out


def callables() -> list[dict]:
    """Every registered callable with its description and argument docs (the TUI picker uses this)."""
    out = [e.to_dict() for e in BUILTINS.values()]
    for module_name in _allowed_modules():
        out.extend(_module_entries(module_name))
    return out
