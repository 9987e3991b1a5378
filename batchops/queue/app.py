"""Build the Huey instance from the configuration.

* ``queue.url`` empty (default): ``SqliteHuey`` on ``<data home>/queue.db``, a
  file of its own so Huey's exclusive write locks never touch the store.
  ``sqlite:///path/queue.db`` names another file.
* ``queue.url = "redis://…"``: ``PriorityRedisHuey`` (needs ``batchops[redis]``):
  plain ``RedisHuey`` refuses task priorities, and the tick has one.
  ``queue.name`` is its key prefix, so installations can share a Redis.
* ``BATCHOPS_QUEUE_IMMEDIATE=1``: immediate mode for unit tests - a task runs
  inside ``enqueue`` in the caller's thread; delayed tasks never run there.

The instance is cached per (data home, queue URL, mode) so a test that switches
data homes gets a fresh queue.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from batchops.errors import ConfigError

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
DEFAULT_TICK_SECONDS = 60

_lock = threading.Lock()
_huey = None
_key = None


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def immediate_mode() -> bool:
    return _flag("BATCHOPS_QUEUE_IMMEDIATE")


def tick_seconds() -> int:
    """How often the scheduler tick runs: every minute; BATCHOPS_TICK_SECONDS (1-60) for tests."""
    raw = os.environ.get("BATCHOPS_TICK_SECONDS", "").strip()
    if not raw:
        return DEFAULT_TICK_SECONDS
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"BATCHOPS_TICK_SECONDS must be a whole number of seconds, not {raw!r}") from None
    if not 1 <= value <= 60:
        raise ConfigError("BATCHOPS_TICK_SECONDS must be between 1 and 60")
    return value


def is_redis(url: str) -> bool:
    return url.startswith(REDIS_SCHEMES)


def describe(cfg) -> str:
    from batchops.config import redact_url

    url = cfg.queue.url
    return redact_url(url) if url else f"sqlite:{Path(cfg.data_dir) / 'queue.db'}"


def _sqlite_path(cfg) -> Path:
    url = cfg.queue.url
    if not url:
        return Path(cfg.data_dir) / "queue.db"
    path = url[len("sqlite:") :]
    while path.startswith("//"):
        path = path[1:]
    return Path(path).expanduser()


def build(cfg, immediate: bool | None = None):
    """A new Huey instance for ``cfg`` (no tasks: ``services.tasks.huey()`` registers them)."""
    from huey import SqliteHuey

    from batchops.fsutil import private_file

    immediate = immediate_mode() if immediate is None else immediate
    url = cfg.queue.url
    name = cfg.queue.name
    if is_redis(url):
        try:
            import redis
        except ImportError:
            raise ConfigError(
                'queue.url names Redis but its driver is not installed: pip install "batchops[redis]"',
                code="E_QUEUE_DRIVER_MISSING",
            ) from None
        from huey import PriorityRedisHuey

        try:
            # a server that does not answer is an error in seconds, not a hang
            pool = redis.ConnectionPool.from_url(url, socket_connect_timeout=5)
        except ValueError as exc:  # redis-py's URL parser
            raise ConfigError(f"queue.url {describe(cfg)} is not a valid Redis URL: {exc}") from None
        huey = PriorityRedisHuey(name, connection_pool=pool, immediate=immediate, utc=True)
    elif not url or url.startswith("sqlite:"):
        path = _sqlite_path(cfg)
        if not immediate and not cfg.read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
            private_file(path)  # queued work names uploads and jobs: owner only, like the store
        huey = SqliteHuey(name, filename=str(path), immediate=immediate, utc=True, timeout=10)
    else:
        raise ConfigError(f"queue.url must be empty, sqlite:///path or redis://..., not {describe(cfg)!r}")

    return huey


def unavailable(exc: BaseException):
    """A coded error when ``exc`` says the queue server cannot be reached, else None."""
    from batchops.errors import WorkError

    if not any(
        cls.__module__.startswith("redis") and cls.__name__ in ("ConnectionError", "TimeoutError")
        for cls in type(exc).__mro__
    ):
        return None
    from batchops import context

    return WorkError(f"the queue at {describe(context.config())} cannot be reached: {exc}", code="E_QUEUE_UNAVAILABLE")


def get_huey():
    """The Huey instance for the running configuration (built once per data home)."""
    global _huey, _key
    from batchops import context

    cfg = context.config()
    key = (cfg.data_dir, cfg.queue.url, cfg.queue.name, immediate_mode())
    with _lock:
        if _huey is None or _key != key:
            old = _huey
            _huey, _key = build(cfg), key
            if old is not None:
                try:
                    old.storage.close()
                except Exception:  # noqa: BLE001 - an old handle failing to close is harmless
                    pass
        return _huey


def reset() -> None:
    """Forget the cached instance (tests, restore)."""
    global _huey, _key
    with _lock:
        if _huey is not None:
            try:
                _huey.storage.close()
            except Exception:  # noqa: BLE001
                pass
        _huey, _key = None, None


def queue_depth() -> dict:
    """Tasks waiting to run now (pending) and waiting for their time (scheduled: delayed retries)."""
    from batchops import context

    cfg = context.config()
    sqlite = not cfg.queue.url or cfg.queue.url.startswith("sqlite:")
    if sqlite and not immediate_mode() and not _sqlite_path(cfg).exists():
        return {"pending": 0, "scheduled": 0}  # nothing was ever queued: don't create queue.db to say so
    huey = get_huey()
    return {"pending": huey.pending_count(), "scheduled": huey.scheduled_count()}
