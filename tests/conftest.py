"""Shared fixtures: an isolated data home, the configured app, the samples, the CLI.

No test may touch the operator's real data home or config: a session-wide guard
points BATCHOPS_HOME and the XDG dirs at a temp folder, and ``home`` gives each
test its own. Add feature-specific fixtures in your own test files.

``--backend server`` (or BATCHOPS_TEST_BACKEND=server) runs the tests against real
PostgreSQL, Redis and S3 (moto's server): one fresh database, queue name and bucket prefix
per test (see serverlib.py, s3lib.py);
``@pytest.mark.sqlite_only`` tests skip there, ``@pytest.mark.servers`` tests skip
without the servers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import serverlib
from cli_runner import run_cli_in_process, run_cli_subprocess
from ftp_server import ftp_server  # noqa: F401  (fixture: a real FTP server on loopback)
from s3lib import s3, s3_backend_bucket, s3_server, storage_env  # noqa: F401  (fixtures: a real S3 API server)

REPO = Path(__file__).resolve().parents[1]
ISOLATED_ENV = (
    "BATCHOPS_HOME",
    "BATCHOPS_CONFIG",
    "BATCHOPS_READ_ONLY",
    "BATCHOPS_DATABASE_URL",
    "BATCHOPS_QUEUE_URL",
    "BATCHOPS_QUEUE_NAME",
    "BATCHOPS_STORAGE_URL",
    "BATCHOPS_STORAGE_ENDPOINT_URL",
    "BATCHOPS_STORAGE_REGION",
    "BATCHOPS_STORAGE_ACCESS_KEY_ID",
    "BATCHOPS_S3_SECRET_KEY",
)


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=("sqlite", "server"),
        default=os.environ.get("BATCHOPS_TEST_BACKEND", "sqlite") or "sqlite",
        help="sqlite (default) or server: PostgreSQL + Redis from BATCHOPS_TEST_DATABASE_URL "
        "and BATCHOPS_TEST_QUEUE_URL and a moto S3 server, a fresh database, queue name "
        "and bucket prefix per test",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: about the SQLite files themselves; skipped on --backend server")
    config.addinivalue_line(
        "markers", "server_only: about PostgreSQL, Redis or S3 themselves; runs on --backend server"
    )
    config.addinivalue_line(
        "markers",
        "servers: needs PostgreSQL and Redis (BATCHOPS_TEST_DATABASE_URL, "
        "BATCHOPS_TEST_QUEUE_URL); skipped without them",
    )
    if config.getoption("backend") == "server" and not serverlib.available():
        raise pytest.UsageError(
            "--backend server needs BATCHOPS_TEST_DATABASE_URL and BATCHOPS_TEST_QUEUE_URL "
            "(source .ci/servers.sh DIR starts both)"
        )
    if config.getoption("backend") == "server":
        import importlib.util

        if not (importlib.util.find_spec("boto3") and importlib.util.find_spec("moto")):
            raise pytest.UsageError('--backend server needs boto3 and moto[server] (pip install ".[test]")')


def pytest_collection_modifyitems(config, items):
    on_servers = config.getoption("backend") == "server"
    for item in items:
        if on_servers and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="SQLite only"))
        if not on_servers and item.get_closest_marker("server_only"):
            item.add_marker(pytest.mark.skip(reason="runs on --backend server"))
        if item.get_closest_marker("servers") and not serverlib.available():
            item.add_marker(pytest.mark.skip(reason="needs BATCHOPS_TEST_DATABASE_URL and BATCHOPS_TEST_QUEUE_URL"))


@pytest.fixture(autouse=True)
def _backend(request, monkeypatch):
    """On --backend server: this test's own PostgreSQL database, Redis queue name and S3 prefix.

    A test that sets up its own bucket (the ``s3`` fixture) keeps its [storage] settings.
    """
    if request.config.getoption("backend") != "server" or request.node.get_closest_marker("servers"):
        yield
        return
    import uuid

    serverlib.driver("psycopg2"), serverlib.driver("redis")  # before a test can hide them
    url = serverlib.create_database()
    queue_name = f"bo_{uuid.uuid4().hex[:12]}"
    env = serverlib.env_for(url, queue_name)
    if "s3" not in request.fixturenames:
        endpoint, bucket = request.getfixturevalue("s3_backend_bucket")
        env.update(storage_env(endpoint, f"s3://{bucket}/{queue_name}"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield
    from batchops.queue import app as queue_app
    from batchops.store.db import db

    queue_app.reset()
    if db.obj is not None and not db.obj.is_closed():
        db.obj.close()
    serverlib.drop_database(url)
    serverlib.flush_queue(queue_name)


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
    for key in ISOLATED_ENV[1:]:  # the server backend sets its own per test
        os.environ.pop(key, None)
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


@pytest.fixture
def stale_run(app_ctx, samples_dir) -> dict:
    """A published run turned into one a SIGKILLed CLI left behind: 'running' under a pid that no longer
    exists, its upload 'processing'. The ``process_file`` result (``run_id``, ``upload_id``)."""
    from batchops.services import processing, runs
    from batchops.store.models import JobRun, Upload

    done = processing.process_file(samples_dir / "gradebook_science.csv")
    JobRun.update(status="running", worker_id=f"{runs.worker_id().rsplit(':', 1)[0]}:999999", pid=999999).where(
        JobRun.id == done["run_id"]
    ).execute()
    Upload.update(status="processing").where(Upload.id == done["upload_id"]).execute()
    return done


@pytest.fixture
def immediate(monkeypatch):
    """The queue runs each task inside enqueue (no worker), on a Huey instance built for this test."""
    from batchops.queue import app

    monkeypatch.setenv("BATCHOPS_QUEUE_IMMEDIATE", "1")
    app.reset()
    yield
    app.reset()


@pytest.fixture
def run_cli(home, request):
    """run_cli("jobs", "list", "--json") -> CompletedProcess (text, captured), on the test's home.

    In-process (``batchops.cli.main.run``): the same exit code, stdout and stderr as the real
    command, without a Python start-up per call. Keyword arguments: ``env`` (extra variables;
    a None value removes one), ``input`` (stdin text), ``cwd`` (default: the test's tmp dir),
    ``timeout`` (accepted for the subprocess twin; pytest-timeout bounds an in-process call).
    Use ``run_cli_proc`` for what only a real process shows.
    """

    def run(*args, env: dict | None = None, input: str | None = None, cwd=None, timeout: float = 120):
        return run_cli_in_process(args, home=home, env=env, input=input, cwd=cwd)

    if request.config.getoption("backend") == "server":  # the server suite runs the real command, as it was proven

        def run(*args, env: dict | None = None, input: str | None = None, cwd=None, timeout: float = 120):  # noqa: F811
            return run_cli_subprocess(args, home=home, env=env, input=input, cwd=cwd, timeout=timeout)

    return run


@pytest.fixture
def run_cli_proc(home):
    """run_cli_proc(...) -> CompletedProcess of a real ``python -m batchops`` process (same arguments as run_cli)."""

    def run(*args, env: dict | None = None, input: str | None = None, cwd=None, timeout: float = 120):
        return run_cli_subprocess(args, home=home, env=env, input=input, cwd=cwd, timeout=timeout)

    return run
