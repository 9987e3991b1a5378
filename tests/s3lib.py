"""A real S3 API server for tests: moto's standalone server on loopback (never mocks).

``s3_server`` (session) starts it on a free port; ``s3`` gives a test a fresh bucket. Both skip
when boto3 / ``moto[server]`` are not installed (``pip install -e ".[test]"``). ``storage_settings``
is the ``[storage]`` table that points BatchOps at a bucket there. The fixtures are imported
into conftest.py, so every test folder can use them. On ``--backend server`` every other test
stores its files under its own prefix of ``s3_backend_bucket`` (``storage_env``, set by conftest).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

SECRET_ENV = "BATCHOPS_TEST_S3_SECRET"  # the storage secret travels in the environment, never the config


def storage_settings(endpoint: str, url: str) -> dict:
    """The ``[storage]`` settings for ``url`` (s3://bucket/prefix) on the test server."""
    return {
        "url": url,
        "endpoint_url": endpoint,
        "access_key_id": "testing",
        "secret_key_env": SECRET_ENV,
        "timeout": 3.0,
    }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A moto S3 server on a free loopback port for the whole session; yields its endpoint URL."""
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server", reason="moto[server] not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    script = Path(sys.executable).with_name("moto_server")
    cmd = [str(script)] if script.exists() else [sys.executable, "-c", "from moto.server import main; main()"]
    with open(log, "wb") as out:
        proc = subprocess.Popen([*cmd, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
    yield endpoint
    proc.terminate()
    proc.wait(timeout=10)


def client_for(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A fresh bucket on the server; yields (endpoint, bucket, boto3 client)."""
    monkeypatch.setenv(SECRET_ENV, "testing")
    client = client_for(s3_server)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return s3_server, bucket, client


@pytest.fixture(scope="session")
def s3_backend_bucket(s3_server):
    """The one bucket of ``--backend server``: each test gets its own prefix in it (see ``storage_env``)."""
    bucket = f"backend-{uuid.uuid4().hex[:12]}"
    client_for(s3_server).create_bucket(Bucket=bucket)
    return s3_server, bucket


def storage_env(endpoint: str, url: str) -> dict[str, str]:
    """The environment that points every BatchOps process of a test (CLI, worker) at ``url`` on the server."""
    return {
        "BATCHOPS_STORAGE_URL": url,
        "BATCHOPS_STORAGE_ENDPOINT_URL": endpoint,
        "BATCHOPS_STORAGE_ACCESS_KEY_ID": "testing",
        "BATCHOPS_S3_SECRET_KEY": "testing",
    }


def keys(client, bucket: str, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
