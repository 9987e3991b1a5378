"""Configuration: TOML, found in a fixed order, validated strictly.

Search order for the file: ``--config``, ``BATCHOPS_CONFIG``, ``./batchops.toml``,
the platform's user config dir. ``--home`` / ``BATCHOPS_HOME`` override the data
home; ``BATCHOPS_READ_ONLY=1`` forces read-only mode.

Every setting has a default here and is documented in ``batchops.toml.example``.
An unknown key or a wrong type is a one-line ``E_CONFIG`` naming key and file.
Only the standard library is imported: this runs on every ``batchops`` call.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchops.errors import ConfigError

APP_NAME = "batchops"


@dataclass
class DatabaseConfig:
    url: str = ""  # empty: sqlite file batchops.db in the data home


@dataclass
class QueueConfig:
    url: str = ""  # empty: sqlite file queue.db in the data home; or redis://...
    name: str = "batchops"  # the queue's name: installations sharing one Redis need different names
    workers: int = 2
    max_delay: float = 1.0


@dataclass
class DepartmentConfig:
    required_columns: list[str] = field(default_factory=list)


@dataclass
class PipelineConfig:
    default_required_columns: list[str] = field(default_factory=lambda: ["student_id", "name"])
    score_min: float = 0.0
    score_max: float = 100.0
    pass_mark: float = 40.0
    pdf_max_rows: int = 2000
    max_file_mb: float = 100.0
    max_rows: int = 2_000_000
    max_columns: int = 1000
    max_pdf_pages: int = 300
    max_xlsx_uncompressed_mb: float = 500.0
    max_cell_chars: int = 100_000


@dataclass
class RetentionConfig:
    successful_runs_days: int = 30
    failed_runs_days: int = 180
    archived_incidents_days: int = 365
    exports_days: int = 90
    outbox_days: int = 30
    backups_keep: int = 7


@dataclass
class SmtpConfig:
    host: str = ""  # empty: messages go to the outbox folder
    port: int = 25
    username: str = ""
    password_env: str = "BATCHOPS_SMTP_PASSWORD"
    password_file: str = ""
    sender: str = "batchops@localhost"
    starttls: bool = False
    timeout: float = 10.0


@dataclass
class IncidentsConfig:
    default_severity: str = "medium"
    reopen_window_hours: float = 72.0
    notify_min_severity: str = "high"
    notify_manual_runs: bool = False
    notify_emails: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)
    rate_limit_minutes: float = 30.0


@dataclass
class AutomationConfig:
    allowed_modules: list[str] = field(default_factory=list)
    attendance_path: str = ""
    scrape_urls: list[str] = field(default_factory=list)
    scrape_keywords: list[str] = field(default_factory=lambda: ["exam", "notice", "holiday", "result"])
    scrape_timeout: float = 10.0
    scrape_max_bytes: int = 2_000_000
    ingest_folder: str = ""
    ingest_department: str = ""
    ingest_plan: str = "transform"
    ingest_ftp_url: str = ""


@dataclass
class WorkerConfig:
    heartbeat_seconds: float = 5.0
    lost_after_seconds: float = 60.0
    requeue_lost_after_seconds: float = 120.0
    default_missed_policy: str = "once"
    max_lateness_minutes: float = 60.0


@dataclass
class Config:
    data_dir: str = ""  # empty: the platform's user data dir
    display_timezone: str = "Asia/Kolkata"
    school_name: str = "Springfield Public School"
    read_only: bool = False
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    departments: dict[str, DepartmentConfig] = field(default_factory=dict)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    incidents: IncidentsConfig = field(default_factory=IncidentsConfig)
    automation: AutomationConfig = field(default_factory=AutomationConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)

    # Where the config came from (not a setting).
    source: str = field(default="(defaults)", repr=False)

    @property
    def home(self) -> Path:
        return Path(self.data_dir)

    def required_columns(self, department: str | None) -> list[str]:
        """Department's required columns (case-insensitive name) or the default set."""
        if department:
            for name, dept in self.departments.items():
                if name.lower() == department.lower() and dept.required_columns:
                    return list(dept.required_columns)
        return list(self.pipeline.default_required_columns)


_NOT_SETTINGS = {"source"}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        return "a list of " + _type_name(typing.get_args(tp)[0]) + "s"
    if origin is dict:
        return "a table"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(value: Any, tp: Any, key: str, source: str) -> Any:
    def bad() -> ConfigError:
        return ConfigError(f"{key} in {source} must be {_type_name(tp)}, not {value!r}")

    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise bad()
        return _build(tp, value, key, source)
    if origin is list:
        if not isinstance(value, list):
            raise bad()
        (item_tp,) = typing.get_args(tp)
        return [_coerce(v, item_tp, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise bad()
        _, val_tp = typing.get_args(tp)
        return {str(k): _coerce(v, val_tp, f"{key}.{k}", source) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad()
        return value
    raise bad()


def _build(cls: type, data: dict, prefix: str, source: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)} - _NOT_SETTINGS
    kwargs = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else key
        if key not in known:
            raise ConfigError(f"unknown setting {full!r} in {source}")
        kwargs[key] = _coerce(value, hints[key], full, source)
    return cls(**kwargs)


# The servers a machine talks to can come from its environment (one config file for every machine,
# each machine's secrets and addresses in its service manager).
SERVER_ENV = {
    "BATCHOPS_DATABASE_URL": ("database", "url"),
    "BATCHOPS_QUEUE_URL": ("queue", "url"),
    "BATCHOPS_QUEUE_NAME": ("queue", "name"),
}


def _apply_server_env(cfg: Config) -> None:
    for var, (section, key) in SERVER_ENV.items():
        value = os.environ.get(var)
        if value is not None and value.strip():
            setattr(getattr(cfg, section), key, value.strip())


def _validate(cfg: Config) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(cfg.display_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"display_timezone in {cfg.source} is not a known time zone: {cfg.display_timezone!r}"
        ) from None
    severities = ("low", "medium", "high", "critical")
    for key in ("default_severity", "notify_min_severity"):
        if getattr(cfg.incidents, key) not in severities:
            raise ConfigError(f"incidents.{key} in {cfg.source} must be one of {', '.join(severities)}")
    if cfg.worker.default_missed_policy not in ("skip", "once", "all"):
        raise ConfigError(f"worker.default_missed_policy in {cfg.source} must be skip, once or all")
    if not cfg.queue.name or not all(c.isalnum() or c in "._-" for c in cfg.queue.name):
        raise ConfigError(f"queue.name in {cfg.source} must be letters, digits, '.', '_' or '-', "
                          f"not {cfg.queue.name!r}")
    p = cfg.pipeline
    if p.score_min >= p.score_max:
        raise ConfigError(f"pipeline.score_min must be below pipeline.score_max in {cfg.source}")


def redact_url(url: str) -> str:
    """A database/queue URL fit to print: any password replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except ValueError:
        return "(unparsable URL)"


def user_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME)) / "batchops.toml"


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME))


def find_config_file(explicit: str | os.PathLike | None = None) -> Path | None:
    """The config file in search order, or None for built-in defaults."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    env = os.environ.get("BATCHOPS_CONFIG")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file not found: {path} (from BATCHOPS_CONFIG)")
        return path
    for candidate in (Path.cwd() / "batchops.toml", user_config_path()):
        if candidate.is_file():
            return candidate
    return None


def parse_config(text: str, source: str = "(string)") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    cfg = _build(Config, data, "", source)
    cfg.source = source
    return cfg


def load_config(path: str | os.PathLike | None = None, home: str | os.PathLike | None = None) -> Config:
    """Load, validate and resolve the configuration."""
    found = find_config_file(path)
    if found is None:
        cfg = Config()
    else:
        try:
            text = found.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {found}: {exc}") from None
        cfg = parse_config(text, str(found))
    home = home or os.environ.get("BATCHOPS_HOME") or cfg.data_dir
    cfg.data_dir = str(Path(home).expanduser().resolve()) if home else str(default_data_dir())
    if os.environ.get("BATCHOPS_READ_ONLY", "").lower() in ("1", "true", "yes", "on"):
        cfg.read_only = True
    _apply_server_env(cfg)
    _validate(cfg)
    return cfg
