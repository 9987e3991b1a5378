"""The control room: a Textual front door over ``batchops.services``.

Nothing in here imports models, SQL or pandas: every read and write goes
through a service, in a thread worker, and comes back as a message.
"""
