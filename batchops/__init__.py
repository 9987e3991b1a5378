"""BatchOps: an incident-resilient batch control room for school IT desks.

Kept import-free on purpose: ``batchops --help`` must stay instant.
"""

__version__ = "0.1.0"
