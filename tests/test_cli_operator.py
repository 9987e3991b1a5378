"""What an operator (or a script) sees from the CLI: payload checks, plans that change nothing, tables at 80 columns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "batchops" / "samples"


@pytest.mark.parametrize(
    "args",
    [
        ["--plan", "append"],
        ["--plan", "append", "--records", ""],
        ["--plan", "append", "--records", "[]"],
        ["--plan", "delete"],
        ["--plan", "delete", "--rules", "[]"],
    ],
)
def test_an_empty_append_or_delete_payload_is_an_input_error(run_cli, args):
    res = run_cli("process", SAMPLES / "gradebook_science.csv", *args)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith("error E_PLAN_INVALID:")
    assert run_cli("uploads", "list", "--json").stdout.strip() == "[]"  # nothing taken in


def test_a_delete_that_matches_nothing_is_published_with_warnings(run_cli):
    res = run_cli("process", SAMPLES / "gradebook_science.csv", "--plan", "delete", "--where", "student_id=NOPE")
    assert res.returncode == 0, res.stderr
    assert "published with warnings" in res.stdout
    assert "warning E_RULE_NO_MATCH: Delete rule 1 (student_id=NOPE) matched no rows." in res.stdout
    listed = run_cli("uploads", "list").stdout
    assert "published with warnings" in listed
    data = json.loads(run_cli("uploads", "list", "--json").stdout)[0]
    assert data["status"] == "published" and data["status_label"] == "published with warnings"


def test_strict_makes_a_plan_that_changed_nothing_a_failure(run_cli):
    res = run_cli(
        "process",
        SAMPLES / "gradebook_science.csv",
        "--plan",
        "delete",
        "--where",
        "student_id=NOPE",
        "--strict",
        "--json",
    )
    assert res.returncode == 1
    out = json.loads(res.stdout)
    assert out["status"] == "failed" and out["error"]["code"] == "E_PLAN_NO_EFFECT"
    assert out["reports"] == {"csv": None, "pdf": None} and out["incident_id"]
    # a rule that matches is fine under --strict
    ok = run_cli(
        "process",
        SAMPLES / "gradebook_science.csv",
        "--plan",
        "delete",
        "--where",
        "student_id=SCI-2026-0001",
        "--strict",
        "--json",
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["rows_out"] == 39


def test_a_mistyped_where_column_is_refused_before_queueing(run_cli, home):
    res = run_cli(
        "process", SAMPLES / "gradebook_science.csv", "--plan", "delete", "--where", "studnt_id=S001", "--queue"
    )
    assert res.returncode == 2
    assert res.stderr.startswith(
        "error E_UNKNOWN_COLUMN: gradebook_science.csv has no column 'studnt_id'; its columns are: student_id, name,"
    )
    assert run_cli("uploads", "list", "--json").stdout.strip() == "[]"
    assert run_cli("incidents", "list", "--json").stdout.strip() == "[]"
    # the original header and synonyms are accepted, as the run accepts them
    ok = run_cli(
        "process",
        SAMPLES / "gradebook_science.csv",
        "--plan",
        "delete",
        "--where",
        "Student ID=SCI-2026-0001",
        "--json",
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["rows_out"] == 39


def test_the_readme_delete_example_matches_a_row_of_the_bundled_sample(run_cli):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    line = next(ln for ln in readme.splitlines() if "--plan delete --where" in ln)
    name, where = re.search(r"process (\S+) --plan delete --where (\S+)", line).groups()
    res = run_cli("process", SAMPLES / name, "--plan", "delete", "--where", where, "--strict", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert out["warnings"] == [] and out["rows_out"] == out["rows_in"] - 1


def run_in_terminal(home: Path, *args, columns: int = 80) -> str:
    """The CLI's stdout in a real pseudo-terminal ``columns`` wide (piped output ignores the width)."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update({"BATCHOPS_HOME": str(home), "NO_COLOR": "1", "TERM": "xterm", "PYTHONIOENCODING": "utf-8"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchops", *map(str, args)],
        stdout=slave,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # styles and cursor codes


def _first_column(text: str) -> list[str]:
    return [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]


def test_ids_state_and_severity_never_shrink_at_80_columns(run_cli, home):
    long_name = SAMPLES / "broken" / "missing_columns.csv"
    for _ in range(2):
        run_cli("process", long_name, "--department", "Science", "--notes", "a long note " * 8)
    for args, header in (
        (("incidents", "list"), ("id", "state", "severity")),
        (("uploads", "list"), ("id", "status")),
        (("runs", "list"), ("id", "status", "upload")),
        (("jobs", "list"), ("id", "state", "next run")),
    ):
        text = run_in_terminal(home, *args)
        lines = text.splitlines()
        assert all(len(line) <= 80 for line in lines), text
        head = next(line for line in lines if line.startswith("┃"))
        headers = [h.strip() for h in head.strip("┃").split("┃")]
        assert set(header) <= set(headers), text
        for name in header[1:]:  # states and severities shown whole, never "fai…"
            col = headers.index(name)
            values = [line.split("│")[col + 1].strip() for line in lines if line.startswith("│")]
            assert all(v and "…" not in v for v in values), text
        ids = _first_column(text)
        assert ids and all(i.isdigit() for i in ids), text
    text = run_in_terminal(home, "incidents", "list")
    assert " high " in text and "open" in text


def test_queueing_without_a_worker_says_so_with_the_command(run_cli, home):
    res = run_cli("process", SAMPLES / "gradebook_science.csv", "--queue")
    assert res.returncode == 0 and res.stdout.startswith("queued ")
    assert (
        f"warning: no worker is running, so queued work waits until one starts: batchops --home {home} worker"
        in res.stderr
    )


def test_global_options_work_after_the_subcommand(run_cli, tmp_path):
    other = tmp_path / "other-home"
    res = run_cli("init", "--home", str(other))
    assert res.returncode == 0, res.stderr
    assert (other / "batchops.db").is_file()
    listed = run_cli("jobs", "list", "--home", str(other), "--json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) >= 6
    refused = run_cli("jobs", "pause", "1", f"--home={other}", "--read-only")
    assert refused.returncode == 2 and "E_READ_ONLY" in refused.stderr


def test_hoisting_keeps_values_and_stops_at_double_dash():
    from batchops.cli.main import hoist_global_options

    assert hoist_global_options(["uploads", "list", "--home", "/h", "--json"]) == [
        "--home",
        "/h",
        "uploads",
        "list",
        "--json",
    ]
    assert hoist_global_options(["process", "--", "--debug"]) == ["process", "--", "--debug"]


def test_known_errors_test_reads_a_pasted_incident_line(run_cli):
    pasted = run_cli("known-errors", "test", "E_MISSING_COLUMNS: Missing required column(s): student_id", "--json")
    out = json.loads(pasted.stdout)
    assert out["code"] == "E_MISSING_COLUMNS" and out["code_from_message"]
    assert out["match"]["name"] == "Missing required columns"
    human = run_cli("known-errors", "test", "database is locked")
    assert "triage would match known error" in human.stderr and "'Database busy'" in human.stderr
    assert "it could be E_DB_LOCKED" in human.stderr
    assert "best match on 0" not in human.stderr and "none of the 0 past failed runs" in human.stderr


def test_outbox_flush_does_not_blame_smtp_when_it_is_configured(run_cli, home):
    (home.parent / "batchops.toml").write_text('[smtp]\nhost = "127.0.0.1"\nport = 2525\n', encoding="utf-8")
    res = run_cli("outbox", "flush")
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "0 delivered, 0 failed, 0 waiting"


def test_sizes_and_durations_read_like_a_person_wrote_them(run_cli):
    from batchops.clock import fmt_duration, fmt_size

    assert [fmt_duration(s) for s in (0.25, 12, 600, 3900, 90000)] == [
        "250 ms",
        "12.0 s",
        "10 min",
        "1 h 5 min",
        "1 d 1 h",
    ]
    assert [fmt_size(n) for n in (1, 900, 12595, 5 * 1024**2)] == ["1 byte", "900 bytes", "12.3 KB", "5.0 MB"]
    shown = run_cli("jobs", "show", "status-digest").stdout
    assert re.search(r"^timeout\s+10 min\s*$", shown, re.M) and "0:10:00" not in shown and "timeout s" not in shown


@pytest.mark.parametrize(
    "args",
    [
        ["process", "--help"],
        ["jobs", "next", "--help"],
        ["report", "export", "--help"],
        ["incidents", "assign", "--help"],
    ],
)
def test_help_shows_readable_metavars(run_cli, args):
    res = run_cli(*args)
    assert res.returncode == 0
    for bad in ("<str>", "<int>", "<float>", "list[str]", "{", "}"):
        assert bad not in res.stdout, (bad, res.stdout)
    if args[0] == "process":
        assert "Usage: batchops process [OPTIONS] FILE..." in res.stdout and "--where COL=VALUE" in res.stdout
    if args[:2] == ["jobs", "next"]:
        assert "[OPTIONS] JOB" in res.stdout and "-n N" in res.stdout
