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
  ``running`` by a dead worker are recovered at start and on every tick.

Never imports Textual.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("batchops.worker")

DEFAULT_SHUTDOWN_TIMEOUT = 8.0
CLOCK_SYNC_SECONDS = 60.0  # how often the heartbeat re-reads the database server's clock
TASK_MODULES = ("batchops.services.tasks", "batchops.services.job_runs", "batchops.services.scheduler",
                "batchops.services.processing")


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


def _setup_logging(config) -> None:
    huey_logger = logging.getLogger("huey")
    if not huey_logger.handlers:  # like run_huey: never duplicate a handler someone configured
        config.setup_logger(huey_logger)
    ours = logging.getLogger("batchops")
    if not ours.handlers:
        config.setup_logger(ours)


def make_consumer(huey, config, tick: int):
    """``huey.create_consumer(**config.values)``; with a test tick interval, a Scheduler subclass for it."""
    if tick == 60:
        return huey.create_consumer(**config.values)
    from huey.consumer import Consumer, Scheduler

    scheduler_class = type("TickScheduler", (Scheduler,), {"periodic_task_seconds": tick})
    consumer_class = type("BatchOpsConsumer", (Consumer,), {"scheduler_class": scheduler_class})
    return consumer_class(huey, **config.values)


def run(workers: int | None = None, shutdown_timeout: float | None = None, periodic: bool = True,
        verbose: bool | None = None) -> int:
    """Run the consumer until a signal stops it; returns the process exit code."""
    import importlib

    from huey.consumer_options import ConsumerConfig

    from batchops.errors import ConfigError
    from batchops.queue import app
    from batchops import context
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
        workers=workers, worker_type="thread", max_delay=float(cfg.queue.max_delay), periodic=periodic,
        graceful_signal="TERM",
        shutdown_timeout=DEFAULT_SHUTDOWN_TIMEOUT if shutdown_timeout is None else float(shutdown_timeout),
        verbose=verbose, check_worker_health=True,
    )
    config.validate()
    _setup_logging(config)

    consumer = make_consumer(huey, config, tick)
    worker_id = runs.worker_id()
    heartbeat = Heartbeat(worker_id, workers, cfg.worker.heartbeat_seconds)
    heartbeat.register()
    with db.connection_context():
        recovered = runs.recover_stale()
    if recovered:
        log.warning("recovered %d run(s) left running by a worker that died: %s", len(recovered), recovered)
    heartbeat.start()
    log.info("worker %s: %d thread(s), queue %s, tick every %ss, store %s", worker_id, workers,
             app.describe(cfg), tick, cfg.data_dir)
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
