"""Running ``batchops`` from a test: in this process (fast, the default) or as a real process.

In-process runs go through ``batchops.cli.main.run`` with the environment, cwd, stdin, stdout and
stderr swapped for the call, and the module state a process would start without (running config,
bound store, Huey instance) set aside and put back after. Real processes are for what
only a process shows: start-up imports, signals, crashes, several writers, the worker.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path


def _cli_env(home: Path, env: dict | None) -> dict:
    """The environment a CLI run sees: this process's, the test's home, plain wide output, ``env`` on top."""
    full_env = dict(os.environ)
    full_env.update({"BATCHOPS_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = str(value)
    return full_env


def _app_state() -> dict:
    """What a CLI invocation leaves in module globals: the running config, the bound store, the cached
    Huey instance and the display zone (modules not imported yet hold none)."""
    mods = sys.modules
    state = {}
    if "batchops.context" in mods:
        state["config"] = mods["batchops.context"]._config
    if "batchops.store.db" in mods:
        state["db"] = mods["batchops.store.db"].db.obj
    if "batchops.queue.app" in mods:
        state["huey"] = mods["batchops.queue.app"]._huey, mods["batchops.queue.app"]._key
    if "batchops.clock" in mods:
        state["zone"] = mods["batchops.clock"]._display_zone_name
    return state


def _restore_app_state(saved: dict) -> None:
    """Put back what ``_app_state`` saw: the test's own store, config and queue stay as they were."""
    mods = sys.modules
    if "batchops.context" in mods:
        mods["batchops.context"]._config = saved.get("config")
    if "batchops.store.db" in mods:
        db = mods["batchops.store.db"].db
        if db.obj is not None and db.obj is not saved.get("db") and not db.obj.is_closed():
            db.obj.close()  # the command's own connection
        db.initialize(saved.get("db"))
    if "batchops.queue.app" in mods:
        queue = mods["batchops.queue.app"]
        huey, key = saved.get("huey", (None, None))
        if queue._huey is not None and queue._huey is not huey:
            queue.reset()
        queue._huey, queue._key = huey, key
    if "batchops.clock" in mods and "zone" in saved:
        mods["batchops.clock"]._display_zone_name = saved["zone"]


def _fresh_process_state() -> None:
    """What a new process starts with: no running config, no store bound, no Huey instance.

    The test's own store connection and queue are left open (set aside, not closed): they come back after.
    """
    mods = sys.modules
    if "batchops.context" in mods:
        mods["batchops.context"]._config = None
    if "batchops.store.db" in mods:
        mods["batchops.store.db"].db.initialize(None)
    if "batchops.queue.app" in mods:
        mods["batchops.queue.app"]._huey = mods["batchops.queue.app"]._key = None


class _Stream(io.TextIOWrapper):
    """A captured stdout/stderr: text and ``.buffer`` like the real ones, never a terminal."""

    def __init__(self):
        super().__init__(io.BytesIO(), encoding="utf-8", errors="replace", newline="", write_through=True)

    def isatty(self) -> bool:
        return False

    def text(self) -> str:
        self.flush()
        return self.buffer.getvalue().decode("utf-8", errors="replace")


def run_cli_in_process(
    args, *, home: Path, env: dict | None = None, input: str | None = None, cwd=None
) -> subprocess.CompletedProcess:
    """``batchops ARGS`` through ``batchops.cli.main.run`` in this process, as the subprocess would see it.

    Environment, cwd, stdin, stdout and stderr are swapped for the call; module state (config,
    store, queue) starts empty like a new process and is put back after, so no
    invocation sees another's state and the test keeps its own store.
    """
    from batchops.cli.main import run

    argv = [str(a) for a in args]
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    out, err = _Stream(), _Stream()
    saved_state = _app_state()
    _fresh_process_state()
    os.environ.clear()
    os.environ.update(_cli_env(home, env))
    os.chdir(cwd or home.parent)
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(input or ""), out, err
    try:
        run(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        _restore_app_state(saved_state)
    return subprocess.CompletedProcess(["batchops", *argv], code, out.text(), err.text())


def run_cli_subprocess(
    args, *, home: Path, env: dict | None = None, input: str | None = None, cwd=None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """``python -m batchops ARGS`` in a real process (start-up, imports, signals, crashes)."""
    return subprocess.run(
        [sys.executable, "-m", "batchops", *map(str, args)],
        env=_cli_env(home, env),
        cwd=cwd or home.parent,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )
