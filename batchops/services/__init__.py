"""The one API. The TUI, the CLI and the worker call these modules, nothing below them."""
