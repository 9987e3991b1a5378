"""The six built-in job callables, one module each (registered in ``automation.registry``).

Each takes keyword arguments that default to the ``[automation]`` settings,
returns a small JSON-able summary (stored on the run), logs through
``automation.job_context.log`` and raises a ``BatchOpsError`` with a code when it fails.
"""
