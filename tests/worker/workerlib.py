"""Helpers shared by the worker tests (a module, not conftest: conftest names collide across test folders)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BASE_SETTINGS = {
    # the test servers listen on loopback, which scraping refuses unless allowed
    "automation": {"allowed_modules": ["worker_helpers"], "scrape_allow_hosts": ["127.0.0.1"]},
    "worker": {"heartbeat_seconds": 0.5, "lost_after_seconds": 10.0},
}


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def merge(base: dict, extra: dict) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in extra.items():
        if isinstance(value, dict):
            out.setdefault(key, {}).update(value)
        else:
            out[key] = value
    return out


def write_config(path: Path, settings: dict) -> Path:
    lines = []
    for key, value in settings.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in settings.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def worker_env(home: Path, config_path: Path | None = None, **extra) -> dict:
    env = dict(os.environ)
    env.pop("BATCHOPS_QUEUE_IMMEDIATE", None)
    env.update(
        {
            "BATCHOPS_HOME": str(home),
            "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)]),
            "NO_COLOR": "1",
            "COLUMNS": "200",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if config_path is not None:
        env["BATCHOPS_CONFIG"] = str(config_path)
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


class WorkerProcess:
    def __init__(self, home: Path, env: dict, log_path: Path, *args: str):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "batchops", "worker", *args],
            env=env,
            cwd=str(home.parent),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.text()}")
            if "Huey consumer started" in self.text():
                return
            time.sleep(0.1)
        raise AssertionError(f"worker did not start in {timeout} s:\n{self.text()}")

    def stop(self, sig=None, timeout: float = 15) -> float:
        import signal as _signal

        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig or _signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return time.monotonic() - started


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
