"""The queue: one Huey instance built from the configuration, the tasks, the consumer.

``app`` builds Huey (SQLite ``queue.db`` in the data home, or Redis for a
``redis://`` queue URL); ``tasks`` holds the task bodies and the two enqueue
functions the services call; ``worker`` runs the consumer (``batchops worker``).
Nothing here imports Textual.
"""
