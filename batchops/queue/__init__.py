"""The queue: one Huey instance built from the configuration (infrastructure, like the store).

``app`` builds Huey (SQLite ``queue.db`` in the data home, or Redis for a
``redis://`` queue URL). The task bodies and the enqueue functions the services
call live in ``services.tasks``; the consumer is the ``batchops.worker`` front door.
Nothing here imports Textual.
"""
