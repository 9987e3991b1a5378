"""The running configuration: the data home, read-only mode, the acting user.

The base of every layer: it imports only the config loader and the clock, so the
store, the pipeline and the services can all ask for ``config()``. A front door
calls ``batchops.services.setup.configure()``, which loads the config here and
then opens the store.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from batchops import clock
from batchops.config import Config, load_config
from batchops.errors import ReadOnly

_config: Config | None = None


def load(
    config_path: str | os.PathLike | None = None,
    home: str | os.PathLike | None = None,
    cfg: Config | None = None,
    read_only: bool | None = None,
) -> Config:
    """Make ``cfg`` (or the config found from the path/home) the running one."""
    global _config
    cfg = cfg or load_config(config_path, home)
    if read_only is not None:
        cfg.read_only = cfg.read_only or read_only
    clock.set_display_zone(cfg.display_timezone)
    _config = cfg
    return cfg


def reset() -> None:
    """Forget the running config (tests that switch data homes)."""
    global _config
    _config = None


def config() -> Config:
    return _config if _config is not None else load()


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
