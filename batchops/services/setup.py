"""Start-up for every front door: the running config, then the store it names."""

from __future__ import annotations

import os

from batchops import context
from batchops.config import Config


def configure(
    config_path: str | os.PathLike | None = None,
    home: str | os.PathLike | None = None,
    cfg: Config | None = None,
    read_only: bool | None = None,
) -> Config:
    """Load the config (``context.load``) and open its store: schema current, seeds in."""
    from batchops.store import open_store

    cfg = context.load(config_path, home, cfg, read_only)
    open_store(cfg)
    return cfg
