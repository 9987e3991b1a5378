"""Smoke test of the single executable, run against the built file (scripts/build_binary.py):

    BATCHOPS_BINARY=dist/batchops python -m pytest -q -m binary tests/binary

Skipped unless BATCHOPS_BINARY names the file. Every command runs as on a school's server: a PATH
holding only the tools the launcher needs (so no python), no PYTHONHOME/PYTHONPATH, a working dir
outside the repo, a fresh data home. Python here is only the harness (and the TUI's pseudo-terminal).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "batchops" / "samples"
BINARY = os.environ.get("BATCHOPS_BINARY", "")
# What scripts/binary_launcher.sh runs besides sh builtins; nothing else is on PATH.
LAUNCHER_TOOLS = ("sh", "tar", "gzip", "tail", "head", "mkdir", "mv", "rm", "id", "ls")

pytestmark = [
    pytest.mark.binary,
    pytest.mark.skipif(not BINARY, reason="set BATCHOPS_BINARY=dist/batchops to smoke-test the built executable"),
]


@pytest.fixture(scope="module")
def binary() -> Path:
    path = Path(BINARY).resolve()
    assert path.is_file() and os.access(path, os.X_OK), f"BATCHOPS_BINARY={BINARY} is not an executable file"
    return path


def toolbox(folder: Path) -> Path:
    """A PATH folder with just the launcher's tools in it."""
    folder.mkdir()
    for name in LAUNCHER_TOOLS:
        found = shutil.which(name)
        assert found, f"{name} is missing on this machine"
        (folder / name).symlink_to(found)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory, binary):
    """A server-like place: a tools-only PATH, a user home for the cache, a workdir outside the repo."""
    root = tmp_path_factory.mktemp("server")
    tools = toolbox(root / "bin")
    for sub in ("user", "work"):
        (root / sub).mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "BATCHOPS_", "XDG_", "VIRTUAL_ENV", "PYTEST", "COV_"))
    }
    env.update(PATH=str(tools), HOME=str(root / "user"), NO_COLOR="1", COLUMNS="200", TERM="xterm-256color")
    assert shutil.which("python3", path=env["PATH"]) is None and shutil.which("python", path=env["PATH"]) is None
    return {"root": root, "env": env, "work": root / "work", "cache": root / "user" / ".cache" / "batchops"}


def run(binary, server, *args, home=None, timeout=120, env=None, **kw) -> subprocess.CompletedProcess:
    full_env = dict(server["env"], **(env or {}))
    if home is not None:
        full_env["BATCHOPS_HOME"] = str(home)
    return subprocess.run(
        [str(binary), *args],
        env=full_env,
        cwd=server["work"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
        **kw,
    )


def ok_json(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def data_home(tmp_path) -> Path:
    return tmp_path / "data"


def unpacked(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir()) if cache.is_dir() else []


# -- start-up, cache ---------------------------------------------------------------------------------


def test_version_names_the_build_and_the_first_start_unpacks_once(binary, server):
    first = run(binary, server, "--version")
    assert first.returncode == 0, first.stderr
    assert re.fullmatch(
        r"batchops \S+ \(single executable: commit [0-9a-f]{7,}(-dirty)?, built \S+Z\)\n", first.stdout
    ), first.stdout
    [bundle] = unpacked(server["cache"])  # ~/.cache/batchops/<version>-<hash>, nothing else (no temp dirs)
    assert re.fullmatch(r"\S+-[0-9a-f]{16}", bundle.name)
    marker = (bundle / ".bundle").stat().st_mtime_ns
    again = run(binary, server, "--version")
    assert again.stdout == first.stdout
    assert unpacked(server["cache"]) == [bundle] and (bundle / ".bundle").stat().st_mtime_ns == marker


def test_help(binary, server):
    proc = run(binary, server, "--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("process", "worker", "tui", "metrics", "health"):
        assert command in proc.stdout


def test_two_copies_starting_at_once_share_one_unpack(binary, server, tmp_path):
    cache = tmp_path / "cache"
    env = dict(server["env"], BATCHOPS_CACHE_DIR=str(cache))
    procs = [
        subprocess.Popen(
            [str(binary), "--version"],
            env=env,
            cwd=server["work"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert len({out for out, _ in outs}) == 1
    [bundle] = unpacked(cache)  # the losers' temp dirs are gone
    assert not [p for p in bundle.iterdir() if p.name.startswith(".unpack")]


def test_a_damaged_unpack_is_replaced(binary, server, tmp_path):
    cache = tmp_path / "cache"
    env = {"BATCHOPS_CACHE_DIR": str(cache)}
    assert run(binary, server, "--version", env=env).returncode == 0
    [bundle] = unpacked(cache)
    (bundle / "_internal" / "base_library.zip").unlink()  # as a temp-dir cleaner would
    proc = run(binary, server, "--version", env=env)
    assert proc.returncode == 0, proc.stderr
    assert unpacked(cache) == [bundle] and (bundle / "_internal" / "base_library.zip").is_file()


def test_a_truncated_copy_refuses_to_start(binary, server, tmp_path):
    cut = tmp_path / "batchops"
    with open(binary, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(binary.stat().st_size - 1_000_000))  # a copy that stopped short
    cut.chmod(0o755)
    cache = tmp_path / "cache"
    proc = subprocess.run(
        [str(cut), "--version"],
        env=dict(server["env"], BATCHOPS_CACHE_DIR=str(cache)),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=server["work"],
        check=False,
    )
    assert proc.returncode != 0
    assert "could not unpack" in proc.stderr
    assert unpacked(cache) == []  # nothing half-unpacked is left to be trusted later


@pytest.fixture
def open_dir():
    """A temp dir other users can reach (pytest's own are 0700): for running as an ordinary user."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="batchops-smoke-"))
    path.chmod(0o755)
    yield path
    for sub in [path, *path.rglob("*")]:
        if sub.is_dir() and not sub.is_symlink():
            sub.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


def test_read_only_install_falls_back_to_a_private_temp_cache(binary, server, open_dir):
    """Binary in a root-owned read-only dir, a user whose cache dir cannot be written: unpacks under $TMPDIR."""
    install, tmpdir, data = open_dir / "opt", open_dir / "tmp", open_dir / "data"
    for path in (install, tmpdir, data):
        path.mkdir()
    shutil.copy2(binary, install / "batchops")
    (install / "batchops").chmod(0o555)
    install.chmod(0o555)
    env = dict(server["env"], TMPDIR=str(tmpdir), BATCHOPS_HOME=str(data))
    if os.geteuid() == 0:  # root writes anywhere: run as an ordinary user, as the binary's users are
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.skip("running as root without setpriv: cannot test as an ordinary user")
        if any(not os.stat(p).st_mode & stat.S_IXOTH for p in open_dir.parents):
            pytest.skip(f"{open_dir.parent} is not reachable for an ordinary user")
        tmpdir.chmod(0o1777)
        data.chmod(0o777)
        env["PATH"] = str(toolbox(open_dir / "bin"))  # the module's toolbox sits in a 0700 pytest dir
        prefix, uid = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"], 65534
        env["HOME"] = "/nonexistent"
    else:
        ro_home = open_dir / "home"
        (ro_home / ".cache").mkdir(parents=True)
        (ro_home / ".cache").chmod(0o555)
        prefix, uid = [], os.geteuid()
        env["HOME"] = str(ro_home)
    for args in (["--version"], ["jobs", "list", "--json"]):
        proc = subprocess.run(
            [*prefix, str(install / "batchops"), *args],
            env=env,
            cwd=tmpdir,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
    fallback = tmpdir / f"batchops-{uid}"
    assert stat.S_IMODE(fallback.stat().st_mode) == 0o700 and fallback.stat().st_uid == uid
    assert len(unpacked(fallback)) == 1
    assert sorted(p.name for p in install.iterdir()) == ["batchops"]
    if prefix:  # README: root unpacks ahead of time into a shared dir that users can only read
        shared = open_dir / "shared-cache"
        root_env = dict(env, BATCHOPS_CACHE_DIR=str(shared))
        assert (
            subprocess.run(
                [str(install / "batchops"), "--version"],
                env=root_env,
                cwd=tmpdir,
                capture_output=True,
                timeout=180,
                check=False,
            ).returncode
            == 0
        )
        listing = sorted(str(p) for p in shared.rglob("*"))
        proc = subprocess.run(
            [*prefix, str(install / "batchops"), "jobs", "list", "--json"],
            env=root_env,
            cwd=tmpdir,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert sorted(str(p) for p in shared.rglob("*")) == listing


# -- the commands -------------------------------------------------------------------------------------


def test_demo_on_a_fresh_home(binary, server, data_home):
    results = ok_json(run(binary, server, "demo", "--json", home=data_home, timeout=300))
    statuses = [r["status"] for r in results]
    assert statuses.count("failed") == 1 and statuses.count("published") == len(results) - 1
    assert [r["error"]["code"] for r in results if r["status"] == "failed"] == ["E_MISSING_COLUMNS"]


@pytest.mark.parametrize(
    "sample, department",
    [
        ("gradebook_science.csv", "Science"),
        ("roster_commerce.xlsx", "Commerce"),
        ("gradebook_arts.pdf", "Arts"),
    ],
)
def test_process_one_file_of_each_kind(binary, server, data_home, tmp_path, sample, department):
    src = tmp_path / sample
    shutil.copy2(SAMPLES / sample, src)
    result = ok_json(
        run(binary, server, "process", str(src), "--department", department, "--json", home=data_home, timeout=300)
    )
    assert result["status"] == "published", result
    csv_report, pdf_report = Path(result["reports"]["csv"]), Path(result["reports"]["pdf"])
    assert csv_report.read_text(encoding="utf-8").strip()
    assert pdf_report.read_bytes().startswith(b"%PDF")


def test_health_json_and_metrics(binary, server, data_home):
    assert run(binary, server, "init", home=data_home).returncode == 0
    proc = run(binary, server, "health", "--json", home=data_home)
    assert proc.returncode in (0, 1), proc.stderr  # 1: scheduled jobs but no worker, on a fresh home
    assert {"healthy", "checks"} <= set(json.loads(proc.stdout))
    metrics = run(binary, server, "metrics", home=data_home)
    assert metrics.returncode == 0, metrics.stderr
    assert re.search(r"^batchops_\w+", metrics.stdout, re.MULTILINE)


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry.name))
    return kids


def test_worker_publishes_a_queued_file_and_stops_on_sigterm(binary, server, data_home, tmp_path):
    src = tmp_path / "gradebook_science.csv"
    shutil.copy2(SAMPLES / "gradebook_science.csv", src)
    assert run(binary, server, "init", home=data_home).returncode == 0
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [str(binary), "worker"],
            env=dict(server["env"], BATCHOPS_HOME=str(data_home)),
            cwd=server["work"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            _publish_queued_then_sigterm(binary, server, data_home, src, worker, tmp_path / "worker.log")
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)


def _publish_queued_then_sigterm(binary, server, data_home, src, worker, log_path):
    queued = ok_json(
        run(binary, server, "process", str(src), "--department", "Science", "--queue", "--json", home=data_home)
    )
    assert queued["status"] == "queued"
    deadline = time.monotonic() + 120
    while True:
        upload = ok_json(run(binary, server, "uploads", "show", str(queued["upload_id"]), "--json", home=data_home))
        if upload["status"] == "published" or time.monotonic() > deadline or worker.poll() is not None:
            break
        time.sleep(0.5)
    assert upload["status"] == "published", log_path.read_text()
    # the launcher exec'd the program: the pid we started *is* BatchOps, no shell in between
    assert Path(f"/proc/{worker.pid}/exe").resolve().is_relative_to(server["cache"])
    kids = _children(worker.pid)
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    code = worker.wait(timeout=30)
    assert time.monotonic() - started < 15, "SIGTERM took too long to stop the worker"
    assert code == 0, log_path.read_text()
    time.sleep(0.2)
    assert not [k for k in kids if Path(f"/proc/{k}").exists()], "the worker left children behind"


def test_tui_starts_under_a_terminal_quits_with_q_and_restores_it(binary, server, data_home):
    import fcntl
    import pty
    import select
    import struct
    import termios

    assert run(binary, server, "init", home=data_home).returncode == 0
    master, slave = pty.openpty()  # the slave stays open here too: its modes are read after the TUI exits
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 110, 0, 0))
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen(
        [str(binary), "tui"],
        env=dict(server["env"], BATCHOPS_HOME=str(data_home)),
        cwd=server["work"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    screen, stop = bytearray(), threading.Event()

    def pump():  # keep reading so the TUI never blocks on a full terminal
        while not stop.is_set():
            if select.select([master], [], [], 0.1)[0]:
                screen.extend(os.read(master, 65536))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 90
        while b"Dashboard" not in screen and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert b"Dashboard" in screen, screen[-2000:].decode(errors="replace")
        time.sleep(1.0)
        running = termios.tcgetattr(slave)
        os.write(master, b"q")
        assert proc.wait(timeout=30) == 0, screen[-2000:].decode(errors="replace")
        time.sleep(0.3)
        after = termios.tcgetattr(slave)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        stop.set()
        reader.join(5)
        os.close(master)
        os.close(slave)
    text = bytes(screen)
    assert running[3] & termios.ICANON == 0  # it really had the terminal in raw mode...
    assert after == before  # ...and gave every mode (echo, icanon, ...) back
    assert text.rfind(b"\x1b[?1049l") > text.rfind(b"\x1b[?1049h") >= 0  # and left the alternate screen
