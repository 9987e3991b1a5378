"""``batchops worker``: the Huey consumer, the scheduler tick, a heartbeat, recovery.

Started the way Huey's own Django command (``run_huey``) does it: import every
task module, build a ``ConsumerConfig``, configure the ``huey`` logger only if
nobody else did, then ``create_consumer(**config.values).run()`` - which
installs signal handlers, so this must run in the main thread (a TUI that wants
a worker starts ``batchops worker`` as a subprocess).

* Thread workers (``--workers N``, default ``queue.workers``), ``max_delay`` from
  ``queue.max_delay`` (1 s: a new task never waits 10 s after a quiet minute).
* Periodic tasks on: the one ``tick`` every minute dispatches due jobs.
  Several consumers may run; dispatch is exactly-once through the store.
* SIGTERM is the graceful signal: running tasks get ``shutdown_timeout``
  seconds to finish; what is still running then (or on SIGINT, which stops at
  once) is put back on the queue (``tasks.requeue_interrupted``).
* A heartbeat thread writes ``WorkerHeartbeat.last_seen`` every
  ``worker.heartbeat_seconds``; ``stopped_at`` is set on the way out. Runs left
  ``running`` by a dead worker, and uploads left waiting with no run, are recovered
  at start and on every tick.

Never imports Textual.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("batchops.worker")

DEFAULT_SHUTDOWN_TIMEOUT = 8.0
CLOCK_SYNC_SECONDS = 60.0  # how often the heartbeat re-reads the database server's clock
TASK_MODULES = (
    "batchops.services.tasks",
    "batchops.services.job_runs",
    "batchops.services.scheduler",
    "batchops.services.processing",
)


class Heartbeat(threading.Thread):
    """Writes this worker's WorkerHeartbeat row every few seconds (own store connection)."""

    def __init__(self, worker_id: str, workers: int, every: float):
        super().__init__(name="heartbeat", daemon=True)
        self.worker_id, self.workers, self.every = worker_id, workers, max(0.2, every)
        self.stopped = threading.Event()
        self.synced = 0.0

    def register(self) -> None:
        from batchops.services import workers
        from batchops.store.db import db

        with db.connection_context():
            workers.register(self.worker_id, self.workers)

    def beat(self, stopped: bool = False) -> None:
        import time

        from batchops.services import workers
        from batchops.store.db import db, sync_clock

        with db.connection_context():
            workers.beat(self.worker_id, stopped=stopped)
            if time.monotonic() - self.synced > CLOCK_SYNC_SECONDS:  # clocks drift: follow the server's
                sync_clock()
                self.synced = time.monotonic()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - try again next time
                log.exception("heartbeat failed")

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)
        try:
            self.beat(stopped=True)
        except Exception:  # noqa: BLE001
            log.exception("could not record the worker stop")


class DisplayZoneFormatter(logging.Formatter):
    """Log times in the display zone (clock.fmt), like every other time an operator reads."""

    def formatTime(self, record, datefmt=None) -> str:  # noqa: N802 - logging's name
        from datetime import datetime, timezone

        from batchops import clock

        return clock.fmt(datetime.fromtimestamp(record.created, timezone.utc), seconds=True)


class NamedTasks(logging.Filter):
    """Huey logs a task as 'batchops...run_pipeline: <uuid>'; say 'pipeline run 7' instead (no store
    lookup here: this runs outside a task's connection; the task bodies log the upload or job names)."""

    KINDS = {"run_pipeline": "pipeline run", "run_job": "job run", "tick": "scheduler tick", "ping": "ping"}
    REMEMBERED = 1000  # task ids seen, so a later line naming only the id says which run too

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(self.plain(a) for a in record.args)
        return True

    def plain(self, arg):
        from datetime import datetime

        from batchops import clock

        if hasattr(arg, "name") and hasattr(arg, "args") and hasattr(arg, "id"):  # a huey Task
            text = self.describe(arg)
            if len(self.seen) >= self.REMEMBERED:
                self.seen.pop(next(iter(self.seen)))
            self.seen[str(arg.id)] = text
            return text
        if isinstance(arg, datetime):  # huey's own timestamps are naive UTC
            return clock.fmt(clock.as_utc(arg), seconds=True)
        if isinstance(arg, str) and arg in self.seen:
            return self.seen[arg]
        return arg

    def describe(self, task) -> str:
        from batchops import clock

        kind = self.KINDS.get(task.name, task.name)
        args = getattr(task, "args", None) or ()
        text = f"{kind} {args[0]}" if task.name in ("run_pipeline", "run_job") and args else kind
        eta = getattr(task, "eta", None)
        return text + (f" (due {clock.fmt(eta, seconds=True)})" if eta else "")


def _setup_logging(config) -> None:
    huey_logger = logging.getLogger("huey")
    if not huey_logger.handlers:  # like run_huey: never duplicate a handler someone configured
        config.setup_logger(huey_logger)
    ours = logging.getLogger("batchops")
    if not ours.handlers:
        config.setup_logger(ours)
    for logger in (huey_logger, ours):
        for handler in logger.handlers:  # handler filters see every record, the children's too
            if type(handler.formatter) is logging.Formatter:  # the consumer's own: same layout, our zone
                handler.setFormatter(DisplayZoneFormatter(handler.formatter._fmt))
            if not any(isinstance(f, NamedTasks) for f in handler.filters):
                handler.addFilter(NamedTasks())
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):  # after naming: the final text
                handler.addFilter(RedactingFilter())


class RedactingFilter(logging.Filter):
    """Log lines leave the process too: URL passwords and tokens are masked (batchops.redact)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from batchops.redact import redact

        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's own error to report
            return True
        record.msg, record.args = redact(message), None
        return True


def make_consumer(huey, config, tick: int):
    """``huey.create_consumer(**config.values)``; with a test tick interval, a Scheduler subclass for it."""
    if tick == 60:
        return huey.create_consumer(**config.values)
    from huey.consumer import Consumer, Scheduler

    scheduler_class = type("TickScheduler", (Scheduler,), {"periodic_task_seconds": tick})
    consumer_class = type("BatchOpsConsumer", (Consumer,), {"scheduler_class": scheduler_class})
    return consumer_class(huey, **config.values)


def run(
    workers: int | None = None,
    shutdown_timeout: float | None = None,
    periodic: bool = True,
    verbose: bool | None = None,
) -> int:
    """Run the consumer until a signal stops it; returns the process exit code."""
    import importlib

    from huey.consumer_options import ConsumerConfig

    from batchops import context
    from batchops.errors import ConfigError
    from batchops.queue import app
    from batchops.services import runs, tasks
    from batchops.store.db import db

    cfg = context.config()
    context.require_writable()
    if app.immediate_mode():
        raise ConfigError("BATCHOPS_QUEUE_IMMEDIATE is set: a worker needs the real queue (unset it)")
    workers = int(workers or cfg.queue.workers or 1)
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    for module in TASK_MODULES:  # like run_huey's autodiscover: every task module before the consumer
        importlib.import_module(module)
    huey = tasks.huey()
    tick = app.tick_seconds()
    config = ConsumerConfig(
        workers=workers,
        worker_type="thread",
        max_delay=float(cfg.queue.max_delay),
        periodic=periodic,
        graceful_signal="TERM",
        shutdown_timeout=DEFAULT_SHUTDOWN_TIMEOUT if shutdown_timeout is None else float(shutdown_timeout),
        verbose=verbose,
        check_worker_health=True,
    )
    config.validate()
    _setup_logging(config)

    consumer = make_consumer(huey, config, tick)
    worker_id = runs.worker_id()
    heartbeat = Heartbeat(worker_id, workers, cfg.worker.heartbeat_seconds)
    heartbeat.register()
    with db.connection_context():
        recovered = runs.recover_stale()
        tasks.recover_orphans()
    if recovered:
        log.warning("recovered %d run(s) left running by a worker that died: %s", len(recovered), recovered)
    heartbeat.start()
    log.info(
        "worker %s: %d thread(s), queue %s, tick every %ss, store %s",
        worker_id,
        workers,
        app.describe(cfg),
        tick,
        cfg.data_dir,
    )
    try:
        consumer.run()
    finally:
        heartbeat.stop()
        try:
            huey.storage.close()
        except Exception:  # noqa: BLE001
            pass
        log.info("worker %s stopped", worker_id)
    return 0
