"""The processing services: reserving uploads, runs that cannot be queued, reports, recovery."""

from __future__ import annotations

import json
import os

import pytest

from batchops.errors import InputError, WorkError


def test_a_queued_upload_cannot_be_submitted_twice(app_ctx, samples_dir, monkeypatch):
    from batchops.services import processing, tasks, uploads

    monkeypatch.setattr(tasks, "enqueue_pipeline", lambda run_id, delay=None: None)  # no worker yet
    first = processing.process_file(samples_dir / "gradebook_science.csv", queue=True)
    assert first["status"] == "queued"
    with pytest.raises(InputError) as err:
        processing.submit(first["upload_id"], trigger="retry", queue=True)
    assert err.value.code == "E_UPLOAD_BUSY"
    assert [r["id"] for r in uploads.show_upload(first["upload_id"])["runs"]] == [first["run_id"]]


def test_a_run_that_cannot_be_queued_is_cancelled_and_the_upload_given_back(app_ctx, samples_dir, monkeypatch):
    from batchops.services import processing, runs, tasks, uploads

    failed = processing.process_file(samples_dir / "broken" / "missing_columns.csv")
    assert failed["status"] == "failed"

    def broken_queue(run_id, delay=None):
        raise OSError("queue.db is on a full disk")

    monkeypatch.setattr(tasks, "enqueue_pipeline", broken_queue)
    with pytest.raises(OSError):
        processing.submit(failed["upload_id"], trigger="retry", queue=True)
    upload = uploads.show_upload(failed["upload_id"])
    assert upload["status"] == "failed"  # not stuck in 'queued'
    newest = runs.show_run(upload["runs"][-1]["id"])
    assert newest["status"] == "cancelled" and newest["error_code"] == "E_QUEUE_UNAVAILABLE"


def test_queued_upload_publishes_in_immediate_mode(app_ctx, samples_dir, immediate):
    from batchops.services import processing, reports

    result = processing.process_file(samples_dir / "gradebook_science.csv", queue=True)
    data, _ = reports.report_bytes(upload_id=result["upload_id"], fmt="csv")
    assert b"Subject KPIs" in data or b"physics" in data


def test_report_of_a_failed_upload_is_a_clear_error(app_ctx, samples_dir):
    from batchops.services import processing, reports

    failed = processing.process_file(samples_dir / "broken" / "header_only.csv")
    with pytest.raises(WorkError) as err:
        reports.export(upload_id=failed["upload_id"], fmt="pdf")
    assert err.value.code == "E_REPORT_UNAVAILABLE" and "E_NO_ROWS" in err.value.message


def test_export_writes_the_stored_report(app_ctx, samples_dir, tmp_path):
    import pdfplumber

    from batchops.services import processing, reports

    done = processing.process_file(
        samples_dir / "gradebook_arts.pdf", department="Arts", plan="custom", plan_config={"instructions": "as is"}
    )
    out = reports.export(upload_id=done["upload_id"], fmt="pdf", out=str(tmp_path))
    with pdfplumber.open(out["path"]) as pdf:
        first = pdf.pages[0].extract_text()
    assert "gradebook_arts.pdf" in first


def test_a_run_whose_process_died_is_recovered(stale_run):
    from batchops.services import runs, uploads

    done = stale_run
    assert runs.recover_stale() == [done["run_id"]]
    assert runs.show_run(done["run_id"])["error_code"] == "E_WORKER_LOST"
    # E_WORKER_LOST is a known error with auto-retry: the upload is queued again, not stuck
    upload = uploads.show_upload(done["upload_id"])
    assert upload["status"] == "queued"
    assert upload["runs"][-1]["trigger"] == "retry" and upload["incidents"]


def test_process_checks_every_file_before_processing_any(run_cli, samples_dir):
    proc = run_cli("process", samples_dir / "gradebook_science.csv", "no-such-file.csv", "--json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["error E_FILE_NOT_FOUND: file not found: no-such-file.csv"]
    assert json.loads(run_cli("uploads", "list", "--json").stdout) == []


def test_process_json_reports_each_file(run_cli, samples_dir):
    proc = run_cli(
        "process",
        samples_dir / "gradebook_science.csv",
        samples_dir / "broken" / "empty.csv",
        "--department",
        "Science",
        "--json",
    )
    assert proc.returncode == 1
    ok, bad = json.loads(proc.stdout)
    assert ok["status"] == "published" and os.path.isfile(ok["reports"]["pdf"])
    assert bad["status"] == "failed" and bad["error"]["code"] == "E_EMPTY_FILE" and bad["incident_id"]
    only_bad = json.loads(run_cli("runs", "list", "--upload", bad["upload_id"], "--json").stdout)
    assert [(r["upload_id"], r["status"]) for r in only_bad] == [(bad["upload_id"], "failed")]


def test_export_to_a_folder_that_does_not_exist_yet(app_ctx, samples_dir, tmp_path):
    from batchops.services import processing, reports

    done = processing.process_file(samples_dir / "gradebook_science.csv")
    out = reports.export(upload_id=done["upload_id"], fmt="csv", out=f"{tmp_path}/new/reports/")
    assert out["path"] == str(tmp_path / "new" / "reports" / "gradebook_science_report.csv")


def test_process_table_and_force_publish_from_the_cli(run_cli, tmp_path):
    """Several tables: refused with an incident whose known error says what to do; --table N
    picks one; a doubtful table is refused until --force-publish."""
    import sys

    sys.path.insert(0, str(os.path.join(os.path.dirname(__file__), "pipeline")))
    from pipeline_helpers import make_pdf, ruled_table

    def page(pdf):
        y = ruled_table(pdf, 20, ("Student ID", "Name", "Marks"), [("S1", "Asha", "61 72"), ("S2", "Ravi", "55 40")])
        ruled_table(pdf, y + 15, ("Teacher", "Room"), [("Mrs Rao", "R1"), ("Mr Das", "R2")], (40, 30))

    path = make_pdf(tmp_path / "two.pdf", [page])
    generic = tmp_path / "generic.toml"  # tables that are not gradebooks are allowed
    generic.write_text("[pipeline]\ndefault_required_columns = []\n", encoding="utf-8")

    def process(*extra, config=generic):
        args = ("--config", str(config)) if config else ()
        return run_cli(*args, "process", path, "--plan", "custom", "--json", *extra)

    proc = process()
    many = json.loads(proc.stdout)
    assert proc.returncode == 1 and many["error"]["code"] == "E_PDF_MANY_TABLES" and many["incident_id"]
    assert "table 2: page 1, 2 rows x 2 columns, header: Teacher | Room" in many["error"]["message"]
    shown = run_cli("incidents", "show", str(many["incident_id"]), "--json").stdout
    assert "--table N" in shown  # the known error says what to do

    picked = json.loads(process("--table", "2").stdout)
    assert picked["status"] == "published" and picked["rows_out"] == 2

    doubtful = json.loads(process(config=None).stdout)  # the gradebook is picked by its required columns
    assert doubtful["error"]["code"] == "E_TABLE_LOW_CONFIDENCE"
    assert "--force-publish" in run_cli("incidents", "show", str(doubtful["incident_id"]), "--json").stdout
    forced = json.loads(process("--force-publish", config=None).stdout)
    assert forced["status"] == "published" and forced["rows_out"] == 2
