"""Shared fixtures: an isolated data home, the configured app, the samples, the CLI.

No test may touch the operator's real data home or config: a session-wide guard
points BATCHOPS_HOME and the XDG dirs at a temp folder, and ``home`` gives each
test its own. Add feature-specific fixtures in your own test files.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ISOLATED_ENV = ("BATCHOPS_HOME", "BATCHOPS_CONFIG", "BATCHOPS_READ_ONLY")


@pytest.fixture(scope="session", autouse=True)
def _never_the_real_home(tmp_path_factory):
    """Safety net for tests that forget ``home``: nothing resolves to the user's dirs.

    Session-scoped (not per test) so hypothesis' function-scoped-fixture check stays quiet.
    """
    base = tmp_path_factory.mktemp("session-home")
    saved = {k: os.environ.get(k) for k in (*ISOLATED_ENV, "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    os.environ["BATCHOPS_HOME"] = str(base / "home")
    os.environ["XDG_CONFIG_HOME"] = str(base / "xdg-config")
    os.environ["XDG_DATA_HOME"] = str(base / "xdg-data")
    os.environ.pop("BATCHOPS_CONFIG", None)
    os.environ.pop("BATCHOPS_READ_ONLY", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh data home for this test (BATCHOPS_HOME); cwd is tmp_path, so no ./batchops.toml leaks in."""
    data = tmp_path / "home"
    data.mkdir()
    monkeypatch.setenv("BATCHOPS_HOME", str(data))
    monkeypatch.delenv("BATCHOPS_CONFIG", raising=False)
    monkeypatch.delenv("BATCHOPS_READ_ONLY", raising=False)
    # the user config dir too (load_config's last search step)
    monkeypatch.setattr("batchops.config.user_config_path", lambda: tmp_path / "user-config" / "batchops.toml")
    monkeypatch.chdir(tmp_path)
    return data


@pytest.fixture
def app_ctx(home):
    """The app configured on ``home``: store bound, schema current, seeds in. Yields the Config."""
    from batchops import context
    from batchops.services.setup import configure
    from batchops.store.db import db

    cfg = configure(home=home)
    yield cfg
    if db.obj is not None and not db.obj.is_closed():
        db.obj.close()
    context.reset()


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The sample files: BATCHOPS_SAMPLES, else ../shared/samples, else the copy bundled in the package."""
    env = os.environ.get("BATCHOPS_SAMPLES")
    candidates = [Path(env)] if env else [REPO.parent / "shared" / "samples", REPO / "batchops" / "samples"]
    for path in candidates:
        if (path / "expected.json").is_file():
            return path
    pytest.skip(f"sample files not found at {', '.join(map(str, candidates))} (set BATCHOPS_SAMPLES)")


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
    Huey instance, the display zone and the CLI's global options (modules not imported yet hold none)."""
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
    if "batchops.cli.output" in mods:
        state["output"] = dict(mods["batchops.cli.output"].state)
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
    if "batchops.cli.output" in mods:
        state = mods["batchops.cli.output"].state
        state.clear()
        state.update(saved.get("output") or {"json": False, "debug": False})


def _fresh_process_state() -> None:
    """What a new process starts with: no running config, no store bound, no Huey instance, no global options.

    The test's own store connection and queue are left open (set aside, not closed): they come back after.
    """
    mods = sys.modules
    if "batchops.context" in mods:
        mods["batchops.context"]._config = None
    if "batchops.store.db" in mods:
        mods["batchops.store.db"].db.initialize(None)
    if "batchops.queue.app" in mods:
        mods["batchops.queue.app"]._huey = mods["batchops.queue.app"]._key = None
    if "batchops.cli.output" in mods:
        mods["batchops.cli.output"].state.clear()
        mods["batchops.cli.output"].state.update({"json": False, "debug": False})


class _Stream(io.TextIOWrapper):
    """A captured stdout/stderr: text and ``.buffer`` like the real ones, never a terminal."""

    def __init__(self):
        super().__init__(io.BytesIO(), encoding="utf-8", errors="replace", newline="", write_through=True)

    def isatty(self) -> bool:
        return False

    def text(self) -> str:
        self.flush()
        return self.buffer.getvalue().decode("utf-8", errors="replace")


def run_cli_in_process(args, *, home: Path, env: dict | None = None, input: str | None = None,
                       cwd=None) -> subprocess.CompletedProcess:
    """``batchops ARGS`` through ``batchops.cli.main.run`` in this process, as the subprocess would see it.

    Environment, cwd, stdin, stdout and stderr are swapped for the call; module state (config,
    store, queue, CLI options) starts empty like a new process and is put back after, so no
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


def run_cli_subprocess(args, *, home: Path, env: dict | None = None, input: str | None = None, cwd=None,
                       timeout: float = 120) -> subprocess.CompletedProcess:
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


@pytest.fixture
def run_cli(home):
    """run_cli("jobs", "list", "--json") -> CompletedProcess (text, captured), on the test's home.

    In-process (``batchops.cli.main.run``): the same exit code, stdout and stderr as the real
    command, without a Python start-up per call. Keyword arguments: ``env`` (extra variables;
    a None value removes one), ``input`` (stdin text), ``cwd`` (default: the test's tmp dir),
    ``timeout`` (accepted for the subprocess twin; pytest-timeout bounds an in-process call).
    Use ``run_cli_proc`` for what only a real process shows.
    """

    def run(*args, env: dict | None = None, input: str | None = None, cwd=None, timeout: float = 120):
        return run_cli_in_process(args, home=home, env=env, input=input, cwd=cwd)

    return run


@pytest.fixture
def run_cli_proc(home):
    """run_cli_proc(...) -> CompletedProcess of a real ``python -m batchops`` process (same arguments as run_cli)."""

    def run(*args, env: dict | None = None, input: str | None = None, cwd=None, timeout: float = 120):
        return run_cli_subprocess(args, home=home, env=env, input=input, cwd=cwd, timeout=timeout)

    return run
