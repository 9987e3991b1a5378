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
class StorageConfig:
    url: str = ""  # empty: files in the data home; or s3://bucket/prefix (pip install "batchops[s3]")
    endpoint_url: str = ""  # MinIO or another S3 server, e.g. http://minio.lan:9000; empty: AWS
    region: str = ""
    access_key_id: str = ""  # empty: the AWS chain (AWS_ACCESS_KEY_ID, ~/.aws, instance role)
    secret_key_env: str = "BATCHOPS_S3_SECRET_KEY"
    secret_key_file: str = ""
    timeout: float = 10.0


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
    ocr: str = "auto"  # scans: never | auto (pages without a text layer) | always
    ocr_min_confidence: float = 70.0
    ocr_max_doubtful_share: float = 0.0  # any doubtful ID/mark cell refuses the scan; raise to publish with findings


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
    path_roots: list[str] = field(default_factory=list)
    attendance_path: str = ""
    scrape_urls: list[str] = field(default_factory=list)
    scrape_keywords: list[str] = field(default_factory=lambda: ["exam", "notice", "holiday", "result"])
    scrape_timeout: float = 10.0
    scrape_max_bytes: int = 2_000_000
    scrape_allow_hosts: list[str] = field(default_factory=list)
    scrape_download_max_bytes: int = 20_000_000  # a result file a scrape downloads (download=...)
    ingest_folder: str = ""
    ingest_department: str = ""
    ingest_plan: str = "transform"
    ingest_ftp_url: str = ""
    ingest_quiet_seconds: float = 10.0
    ingest_s3_url: str = ""  # s3://bucket/prefix, read with the [storage] endpoint and credentials


@dataclass
class WorkerConfig:
    heartbeat_seconds: float = 5.0
    lost_after_seconds: float = 60.0
    requeue_lost_after_seconds: float = 120.0
    default_missed_policy: str = "once"
    max_lateness_minutes: float = 60.0


@dataclass
class ReportConfig:
    title: str = ""  # the PDF's title; empty: "<department> — <what the plan made>, <date>"


@dataclass
class Config:
    data_dir: str = ""  # empty: the platform's user data dir
    display_timezone: str = "Asia/Kolkata"
    school_name: str = "Springfield Public School"
    read_only: bool = False
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    departments: dict[str, DepartmentConfig] = field(default_factory=dict)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    incidents: IncidentsConfig = field(default_factory=IncidentsConfig)
    automation: AutomationConfig = field(default_factory=AutomationConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    # Where the config came from (not a setting).
    source: str = field(default="(defaults)", repr=False)

    @property
    def home(self) -> Path:
        return Path(self.data_dir)

    def required_columns(self, department: str | None) -> list[str]:
        """Department's required columns (case-insensitive name; an empty list means none) or the default set."""
        if department:
            for name, dept in self.departments.items():
                if name.lower() == department.lower():
                    return list(dept.required_columns)
        return list(self.pipeline.default_required_columns)


_NOT_SETTINGS = {"source"}

# Ranges of the numeric settings: key -> (lowest, highest, lowest excluded?). A value outside
# would not be a setting but a bug: negative retention deletes today's runs, a zero heartbeat
# spins, a 1e300-hour window overflows. Every float must also be finite.
DAY_LIMIT = 36_500
RANGES: dict[str, tuple[float, float, bool]] = {
    "queue.workers": (1, 256, False),
    "queue.max_delay": (0, 3600, True),
    "pipeline.pdf_max_rows": (1, 10_000_000, False),
    "pipeline.max_file_mb": (0, 1_000_000, True),
    "pipeline.max_rows": (1, 1_000_000_000, False),
    "pipeline.max_columns": (1, 100_000, False),
    "pipeline.max_pdf_pages": (1, 100_000, False),
    "pipeline.max_xlsx_uncompressed_mb": (0, 1_000_000, True),
    "pipeline.max_cell_chars": (1, 100_000_000, False),
    "retention.successful_runs_days": (1, DAY_LIMIT, False),
    "retention.failed_runs_days": (1, DAY_LIMIT, False),
    "retention.archived_incidents_days": (1, DAY_LIMIT, False),
    "retention.exports_days": (1, DAY_LIMIT, False),
    "retention.outbox_days": (1, DAY_LIMIT, False),
    "retention.backups_keep": (1, 10_000, False),
    "smtp.port": (1, 65535, False),
    "smtp.timeout": (0, 3600, True),
    "incidents.reopen_window_hours": (0, 24 * DAY_LIMIT, False),
    "incidents.rate_limit_minutes": (0, 60 * 24 * DAY_LIMIT, False),
    "automation.scrape_timeout": (0, 3600, True),
    "automation.scrape_max_bytes": (1, 1_000_000_000, False),
    "automation.scrape_download_max_bytes": (1, 10_000_000_000, False),
    "automation.ingest_quiet_seconds": (0, 86_400, False),
    "worker.heartbeat_seconds": (0.1, 3600, False),
    "worker.lost_after_seconds": (1, 86_400 * 7, False),
    "worker.requeue_lost_after_seconds": (1, 86_400 * 7, False),
    "worker.max_lateness_minutes": (0, 60 * 24 * 7, False),
}


def _check_ranges(cfg: "Config") -> None:
    import math

    for key, (low, high, open_low) in RANGES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key} in {cfg.source} must be a finite number, not {value!r}")
        if value < low or value > high or (open_low and value == low):
            lowest = f"above {low:g}" if open_low else f"{low:g}"
            raise ConfigError(f"{key} in {cfg.source} must be between {lowest} and {high:g}, not {value!r}")
    for key in ("score_min", "score_max", "pass_mark"):
        value = getattr(cfg.pipeline, key)
        if not math.isfinite(value):
            raise ConfigError(f"pipeline.{key} in {cfg.source} must be a finite number, not {value!r}")
    if cfg.worker.lost_after_seconds <= cfg.worker.heartbeat_seconds:
        raise ConfigError(
            f"worker.lost_after_seconds in {cfg.source} must be longer than "
            f"worker.heartbeat_seconds ({cfg.worker.heartbeat_seconds:g})"
        )


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
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
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
    "BATCHOPS_STORAGE_URL": ("storage", "url"),
    "BATCHOPS_STORAGE_ENDPOINT_URL": ("storage", "endpoint_url"),
    "BATCHOPS_STORAGE_REGION": ("storage", "region"),
    "BATCHOPS_STORAGE_ACCESS_KEY_ID": ("storage", "access_key_id"),
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
    _check_ranges(cfg)
    if not cfg.queue.name or not all(c.isalnum() or c in "._-" for c in cfg.queue.name):
        raise ConfigError(
            f"queue.name in {cfg.source} must be letters, digits, '.', '_' or '-', not {cfg.queue.name!r}"
        )
    p = cfg.pipeline
    if p.score_min >= p.score_max:
        raise ConfigError(f"pipeline.score_min must be below pipeline.score_max in {cfg.source}")
    from_env = os.environ.get("BATCHOPS_STORAGE_URL", "").strip()
    for key, url, source in (
        ("storage.url", cfg.storage.url, "BATCHOPS_STORAGE_URL" if from_env else cfg.source),
        ("automation.ingest_s3_url", cfg.automation.ingest_s3_url, cfg.source),
    ):
        if url and (not url.startswith("s3://") or len(url) <= len("s3://")):
            raise ConfigError(f"{key} in {source} must look like s3://bucket/prefix, not {url!r}")
    if p.ocr not in ("never", "auto", "always"):
        raise ConfigError(f"pipeline.ocr in {cfg.source} must be never, auto or always")


def redact_url(url: str) -> str:
    """A database/queue URL fit to print (see ``batchops.redact``)."""
    from batchops.redact import redact

    return redact(url)


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
