"""The running configuration and store, set once by whichever front door starts.

``configure()`` loads the config, binds the store and sets the display zone;
services read ``config()``. Tests call ``configure(home=tmp)`` to isolate
themselves in a temporary data home.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from batchops import clock
from batchops.config import Config, load_config
from batchops.errors import ReadOnly

_config: Config | None = None


def configure(config_path: str | os.PathLike | None = None, home: str | os.PathLike | None = None,
              cfg: Config | None = None, read_only: bool | None = None) -> Config:
    global _config
    from batchops.store import open_store

    cfg = cfg or load_config(config_path, home)
    if read_only is not None:
        cfg.read_only = cfg.read_only or read_only
    clock.set_display_zone(cfg.display_timezone)
    _config = cfg
    open_store(cfg)
    return cfg


def config() -> Config:
    if _config is None:
        return configure()
    return _config


def home() -> Path:
    return Path(config().data_dir)


def require_writable() -> None:
    """Every mutating service calls this first."""
    if config().read_only:
        raise ReadOnly("BatchOps is in read-only mode (--read-only or BATCHOPS_READ_ONLY); nothing was changed")


def actor(name: str | None = None) -> str:
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:
        return "operator"
