"""The running app as ``BatchOpsApp``: Textual types ``widget.app`` as a plain ``App``."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from batchops.tui.app import BatchOpsApp


def batchops_app(app: object) -> BatchOpsApp:
    """``self.app`` with BatchOps' own actions (``action_area``, ``open_item``, ``report``) typed."""
    return cast("BatchOpsApp", app)
