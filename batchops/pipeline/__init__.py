"""The pure pipeline: a file goes in, DataFrames and plain result objects come out.

Importing this package (or ``batchops.pipeline.settings``) must stay cheap: pandas,
pdfplumber and fpdf2 are imported by the modules that need them, never here.
The entry point is ``batchops.pipeline.runner.run_pipeline``.
"""
