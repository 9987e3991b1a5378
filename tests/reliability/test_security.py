"""Security: registered callables only, formula-safe exports, names never paths,
http(s)-only scraping with time and size caps, read-only mode, secrets never printed."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import corpus
import pytest
from reliability_helpers import assert_clean_stderr, batchops_here, json_out

SECRET = "Sup3r-S3cret-SMTP-pw!"


# ---------------------------------------------------------------- registered callables only


def test_jobs_refuse_unregistered_callables_at_add_edit_and_run(rhome, tmp_path):
    for target in ("os:system", "subprocess:call", "batchops.store.files:remove_tree", "builtins:eval"):
        r = batchops_here(
            rhome,
            "jobs",
            "add",
            "--name",
            "evil",
            "--callable",
            target,
            "--cron",
            "* * * * *",
            "--args",
            '["touch PWNED"]',
        )
        assert r.returncode == 2 and "E_CALLABLE_NOT_REGISTERED" in r.stderr, r.stderr
    job = json_out(
        batchops_here(
            rhome,
            "jobs",
            "add",
            "--name",
            "ok",
            "--callable",
            "purge_old_records",
            "--cron",
            "0 3 * * *",
            "--kwargs",
            '{"dry_run": true}',
            "--json",
        )
    )
    r = batchops_here(rhome, "jobs", "edit", job["id"], "--callable", "os:system")
    assert r.returncode == 2 and "E_CALLABLE_NOT_REGISTERED" in r.stderr
    # someone edits the store behind our back: the run refuses, nothing executes
    with sqlite3.connect(rhome / "batchops.db") as conn:
        conn.execute("UPDATE job SET callable = 'os:system', args = '[\"touch PWNED\"]' WHERE id = ?", (job["id"],))
    for how in (("--now",), ()):
        r = batchops_here(rhome, "jobs", "trigger", job["id"], *how, cwd=tmp_path)
        assert r.returncode == 2 and "E_CALLABLE_NOT_REGISTERED" in r.stderr, r.stderr
    assert not list(tmp_path.rglob("PWNED"))


def test_a_queued_run_of_a_tampered_job_is_refused_by_the_runner(app_ctx, tmp_path, monkeypatch):
    from batchops.services import job_runs, jobs, runs
    from batchops.store.models import Job, JobRun

    monkeypatch.chdir(tmp_path)
    job = jobs.add_job("later", "purge_old_records", "0 3 * * *", kwargs={"dry_run": True})
    run = runs.create_run("job", job=Job.get_by_id(job["id"]), trigger="schedule")
    Job.update(callable="os:system", args=["touch PWNED"], kwargs={}).where(Job.id == job["id"]).execute()
    job_runs.execute(run.id)
    done = JobRun.get_by_id(run.id)
    assert done.status == "failed" and done.error_code == "E_CALLABLE_NOT_REGISTERED"
    assert not list(tmp_path.rglob("PWNED"))


# ---------------------------------------------------------------- exports neutralise formulas


def test_published_csv_neutralises_every_formula_cell(rhome, tmp_path):
    src = corpus.write(corpus.get("formula_cells"), tmp_path)
    res = json_out(batchops_here(rhome, "process", "--json", "--plan", "custom", "--instructions", "x", "--", src))
    assert res["status"] == "published"
    rows = list(csv.reader(io.StringIO(Path(res["reports"]["csv"]).read_text(encoding="utf-8"))))
    cells = [c for row in rows for c in row]
    risky = [c for c in cells if c[:1] in "=+-@\t\r" and c]
    for cell in risky:
        try:
            float(cell)
        except ValueError:
            pytest.fail(f"formula cell published as is: {cell!r}")
    assert '\'=HYPERLINK("http://x","y")' in cells and "'@SUM(A1)" in cells and "-3" in cells


# ---------------------------------------------------------------- original names are data, never paths


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.csv",
        "/etc/passwd",
        "..",
        ".",
        "..\\..\\windows\\win.ini.csv",
        "a/../../b.csv",
        ".hidden.csv",
        "CON.csv",
        "x\x00y.csv",
        "$(touch PWNED).csv",
        "—" * 300 + ".csv",
    ],
)
def test_original_names_are_stored_but_never_used_as_paths(app_ctx, tmp_path, monkeypatch, name):
    from batchops.services import processing
    from batchops.store.models import Upload

    monkeypatch.chdir(tmp_path)
    src = tmp_path / "in.csv"
    src.write_text(corpus.gradebook(5))
    before = {p for p in tmp_path.parent.rglob("*")}
    res = processing.process_file(src, original_name=name, plan="custom", plan_config={"instructions": "x"})
    assert res["status"] == "published", res
    assert Upload.get_by_id(res["upload_id"]).original_name == name
    home = Path(app_ctx.data_dir).resolve()
    exports = home / "exports" / str(res["upload_id"])
    for path in res["reports"].values():
        p = Path(path).resolve()
        assert p.parent == exports and p.is_file(), p
        assert "/" not in p.name and not p.name.startswith(".") and len(p.name.encode()) < 255
    created = {p for p in tmp_path.parent.rglob("*")} - before
    assert all(home in p.resolve().parents or p.resolve() == home for p in created), created
    assert not list(tmp_path.parent.rglob("PWNED"))


# ---------------------------------------------------------------- run_web_scrape: http(s) only, capped


class _Server:
    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif self.path == "/to-ftp":
            self.send_response(301)
            self.send_header("Location", "ftp://127.0.0.1/notices")
            self.end_headers()
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"<p>exam notice</p>" * 4096)
            except OSError:
                pass
        elif self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        else:
            body = b"<title>Notices</title><a href='/exam'>Exam notice</a>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.fixture
def web():
    server = _Server(_Handler)
    yield server
    server.close()


def test_scrape_refuses_non_http_urls_and_redirects_and_caps_size_and_time(app_ctx, web):
    from batchops.errors import BatchOpsError
    from batchops.http import HostAllowList
    from batchops.jobs import scrape

    loopback = HostAllowList(["127.0.0.1"])  # the test server; private targets are refused by default

    for url in (
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "data:text/html,<a>x</a>",
        "gopher://x/",
        "javascript:alert(1)",
        "http:///etc/passwd",
        "//example.com/x",
        f"{web.url}/to-file",
        f"{web.url}/to-ftp",
    ):
        with pytest.raises(BatchOpsError) as exc:
            scrape.fetch(url, timeout=2, max_bytes=100_000, allow=loopback)
        assert exc.value.code == "E_URL_SCHEME", (url, exc.value)
    with pytest.raises(BatchOpsError) as exc:
        scrape.fetch(f"{web.url}/huge", timeout=5, max_bytes=100_000, allow=loopback)
    assert exc.value.code == "E_SCRAPE_TOO_LARGE"
    t0 = time.monotonic()
    with pytest.raises(BatchOpsError) as exc:
        scrape.fetch(f"{web.url}/drip", timeout=1.0, max_bytes=100_000, allow=loopback)
    assert exc.value.code == "E_FETCH_FAILED" and time.monotonic() - t0 < 3.5
    final, text = scrape.fetch(f"{web.url}/ok", timeout=2, max_bytes=100_000, allow=loopback)
    assert "Exam notice" in text


def test_scrape_job_with_file_url_fails_with_code_and_reads_nothing(rhome):
    job = json_out(
        batchops_here(
            rhome,
            "jobs",
            "add",
            "--name",
            "scrape-evil",
            "--callable",
            "run_web_scrape",
            "--cron",
            "0 0 * * *",
            "--kwargs",
            '{"urls": ["file:///etc/passwd"]}',
            "--json",
        )
    )
    r = batchops_here(rhome, "jobs", "trigger", job["id"], "--now", "--json")
    assert r.returncode == 1
    run = json_out(r)
    assert run["status"] == "failed" and run["error_code"] == "E_URL_SCHEME"
    for p in rhome.rglob("*"):
        if p.is_file() and p.suffix in (".json", ".html", ".txt"):
            assert "root:" not in p.read_text(errors="replace")


# ---------------------------------------------------------------- read-only mode

MUTATING = [
    ("demo",),
    ("process", "{ok}"),
    ("process", "--queue", "{ok}"),
    ("worker",),
    ("restore", "{backup}", "--force", "--yes"),
    ("restore", "{backup}"),
    ("uploads", "retry", "2"),
    ("uploads", "delete", "1"),
    ("uploads", "delete", "1", "--yes"),
    ("jobs", "add", "--name", "x", "--callable", "purge_old_records", "--cron", "* * * * *"),
    ("jobs", "edit", "1", "--cron", "0 1 * * *"),
    ("jobs", "delete", "1"),
    ("jobs", "pause", "2"),
    ("jobs", "resume", "1"),
    ("jobs", "trigger", "2"),
    ("jobs", "trigger", "2", "--now"),
    ("known-errors", "add", "--name", "x", "--code", "E_X"),
    ("known-errors", "edit", "1", "--severity", "low"),
    ("known-errors", "delete", "1"),
    ("incidents", "assign", "1", "--to", "bob"),
    ("incidents", "analyze", "1", "--impact", "x"),
    ("incidents", "retry", "1"),
    ("incidents", "resolve", "1", "--report", "x"),
    ("incidents", "archive", "1"),
    ("incidents", "comment", "1", "hello"),
    ("tickets", "add", "1", "--title", "t"),
    ("tickets", "assign", "1", "--to", "bob"),
    ("tickets", "resolve", "1", "--resolution", "x"),
    ("outbox", "flush"),
]
READING = [
    ("uploads", "list", "--json"),
    ("uploads", "show", "1", "--json"),
    ("runs", "list", "--json"),
    ("incidents", "list", "--json"),
    ("jobs", "list", "--json"),
    ("tickets", "list", "--json"),
    ("dashboard", "--json"),
    ("known-errors", "test", "file is empty"),
]


def _snapshot(home: Path) -> tuple:
    conn = sqlite3.connect(f"file:{home / 'batchops.db'}?mode=ro", uri=True)
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    tree = sorted(
        (str(p.relative_to(home)), p.stat().st_size)
        for p in home.rglob("*")
        if p.is_file() and not p.name.endswith(("-wal", "-shm")) and "backups" not in p.parts
    )
    return dump, tree


def test_read_only_refuses_every_mutating_command_and_changes_nothing(rhome, tmp_path):
    ok = tmp_path / "ok.csv"
    ok.write_text(corpus.gradebook(5))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    assert batchops_here(rhome, "process", "--json", "--", ok, bad).returncode == 1  # upload 1 ok, 2 failed + incident
    backup = json_out(batchops_here(rhome, "backup", "--json"))["path"]
    before = _snapshot(rhome)
    for i, cmd in enumerate(MUTATING):
        args = [a.format(ok=ok, backup=backup) for a in cmd]
        if i % 2:
            r = batchops_here(rhome, *args, env={"BATCHOPS_READ_ONLY": "1"}, timeout=60)
        else:
            r = batchops_here(rhome, "--read-only", *args, timeout=60)
        assert r.returncode == 2 and "E_READ_ONLY" in r.stderr, f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr}"
        assert_clean_stderr(r.stderr)
    for cmd in READING:
        r = batchops_here(rhome, "--read-only", *cmd)
        assert r.returncode == 0, f"{' '.join(cmd)}: {r.stderr}"
    assert _snapshot(rhome) == before


# ---------------------------------------------------------------- secrets never printed


@pytest.fixture
def smtp_server():
    """A local SMTP server that requires AUTH LOGIN/PLAIN as desk / SECRET (no TLS: loopback only)."""
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Box:
        def __init__(self):
            self.messages, self.logins = [], []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.messages.append(envelope.content)
            return "250 OK"

    box = Box()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"desk" and auth_data.password == SECRET.encode()
        box.logins.append(ok)
        return AuthResult(success=ok)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False)
    controller.start()
    box.port = port
    yield box
    controller.stop()


def test_smtp_password_never_printed_or_stored(tmp_path, smtp_server):
    home = tmp_path / "home"
    home.mkdir()
    cfg = tmp_path / "batchops.toml"
    base = (
        '[smtp]\nhost = "127.0.0.1"\nport = {port}\nusername = "desk"\ntimeout = 5.0\n{extra}'
        '[incidents]\nnotify_emails = ["it@example.org"]\nnotify_min_severity = "low"\n'
        "notify_manual_runs = true\n"
    )
    cfg.write_text(base.format(port=9, extra=""))  # nothing listens on 9: messages wait in the outbox
    env = {"BATCHOPS_CONFIG": cfg, "BATCHOPS_SMTP_PASSWORD": SECRET}
    outputs = []

    def run(*args, debug=False):
        r = batchops_here(home, *(("--debug",) if debug else ()), *args, env=env, timeout=60)
        outputs.append(r.stdout + r.stderr)
        return r

    assert run("init").returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    run("process", "--json", "--", bad)  # an incident -> a notification -> SMTP refused -> outbox
    digest = [j for j in json_out(run("jobs", "list", "--json")) if j["callable"] == "send_system_status_digest"][0]
    run("jobs", "trigger", digest["id"], "--now", "--json")
    run("outbox", "list", "--json")
    run("outbox", "flush", debug=True)
    assert list((home / "outbox").glob("*")), "nothing reached the outbox: the test did not exercise SMTP"

    cfg.write_text(base.format(port=smtp_server.port, extra=""))  # now a real server that wants the password
    flushed = json_out(run("outbox", "flush", "--json"))
    assert flushed["delivered"] >= 2 and smtp_server.logins and all(smtp_server.logins), (flushed, smtp_server.logins)
    run("jobs", "trigger", digest["id"], "--now", debug=True)
    for args in (
        ("health", "--json"),
        ("dashboard", "--json"),
        ("metrics",),
        ("jobs", "show", digest["id"], "--json"),
        ("incidents", "list", "--json"),
        ("runs", "list", "--json"),
    ):
        run(*args)
    run("health", debug=True)
    for text in outputs:
        assert SECRET not in text
    for p in home.rglob("*"):
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes(), p
    assert not any(SECRET.encode() in m for m in smtp_server.messages)

    # a password file anyone can read is refused, and its content is not echoed
    pw = tmp_path / "smtp.pw"
    pw.write_text(SECRET)
    os.chmod(pw, 0o644)
    cfg.write_text(base.format(port=smtp_server.port, extra=f'password_file = "{pw}"\n'))
    r = run("jobs", "trigger", digest["id"], "--now", "--json")
    text = r.stdout + r.stderr + "".join(p.read_text(errors="replace") for p in (home / "outbox").glob("*"))
    assert "600" in text and "E_CONFIG" in text, text[-2000:]
    assert SECRET not in text
    os.chmod(pw, 0o600)
    flushed = json_out(run("outbox", "flush", "--json"))
    assert flushed["failed"] == 0 and flushed["waiting"] == 0, flushed
