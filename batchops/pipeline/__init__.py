"""The pure pipeline: a file goes in, DataFrames and plain result objects come out.

Importing this package (or ``batchops.pipeline.settings``) must stay cheap: pandas,
pdfplumber and fpdf2 are imported by the modules that need them, never here.
The public entry points are re-exported lazily::

    from batchops.pipeline import run_pipeline, PipelineRequest, PLANS
"""

from __future__ import annotations

_LAZY = {
    "PipelineRequest": "batchops.pipeline.runner",
    "PipelineResult": "batchops.pipeline.runner",
    "StepRecord": "batchops.pipeline.runner",
    "run_pipeline": "batchops.pipeline.runner",
    "STEPS": "batchops.pipeline.runner",
    "PLANS": "batchops.pipeline.plans",
    "validate_plan_config": "batchops.pipeline.plans",
    "PipelineSettings": "batchops.pipeline.settings",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'batchops.pipeline' has no attribute {name!r}")
