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


def reset_app_state() -> None:
    """Forget what one CLI invocation left in module globals, as a fresh process would not have it.

    The running config (``context``), the bound store (closed and unbound), the cached Huey
    instance and the CLI's global options. Modules not imported yet hold nothing to forget.
    """
    for name, reset in (("batchops.context", "reset"), ("batchops.queue.app", "reset")):
        module = sys.modules.get(name)
        if module is not None:
            getattr(module, reset)()
    db_module = sys.modules.get("batchops.store.db")
    if db_module is not None and db_module.db.obj is not None:
        if not db_module.db.obj.is_closed():
            db_module.db.obj.close()
        db_module.db.initialize(None)
    output = sys.modules.get("batchops.cli.output")
    if output is not None and isinstance(getattr(output, "state", None), dict):
        output.state.clear()
        output.state.update({"json": False, "debug": False})


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

    Environment, cwd, stdin, stdout and stderr are swapped for the call and restored after;
    module state is reset before and after, so no invocation sees another's config or store.
    """
    from batchops.cli.main import run

    argv = [str(a) for a in args]
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    out, err = _Stream(), _Stream()
    reset_app_state()
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
        reset_app_state()
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

    yield run
    reset_app_state()


@pytest.fixture
def run_cli_proc(home):
    """run_cli_proc(...) -> CompletedProcess of a real ``python -m batchops`` process (same arguments as run_cli)."""

    def run(*args, env: dict | None = None, input: str | None = None, cwd=None, timeout: float = 120):
        return run_cli_subprocess(args, home=home, env=env, input=input, cwd=cwd, timeout=timeout)

    return run
