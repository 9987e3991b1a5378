"""Operations an IT desk needs on existing records: edit an upload before a retry, edit and delete tickets,
open a manual incident; an upload keeps linking to its incidents whatever became of them."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "batchops" / "samples"


def test_uploads_edit_changes_plan_department_and_notes_for_the_retry(run_cli):
    first = json.loads(run_cli("process", SAMPLES / "gradebook_science.csv", "--json").stdout)
    ident = str(first["upload_id"])
    assert first["rows_out"] == 40
    bad = run_cli("uploads", "edit", ident, "--plan", "delete", "--where", "student_idx=S1")
    assert bad.returncode == 2 and bad.stderr.startswith("error E_UNKNOWN_COLUMN:") and "student_id" in bad.stderr
    assert json.loads(run_cli("uploads", "show", ident, "--json").stdout)["plan"] == "transform"  # untouched
    ok = run_cli(
        "uploads",
        "edit",
        ident,
        "--plan",
        "delete",
        "--where",
        "student_id=SCI-2026-0001",
        "--department",
        "Science",
        "--notes",
        "drop the withdrawn student",
    )
    assert ok.returncode == 0, ok.stderr
    assert "uploads retry" in ok.stdout + ok.stderr  # info lines go to stderr
    retried = json.loads(run_cli("uploads", "retry", ident, "--now", "--json").stdout)
    assert retried["status"] == "published"
    shown = json.loads(run_cli("uploads", "show", ident, "--json").stdout)
    assert shown["rows_out"] == 39 and shown["plan_config"] == {"rules": [{"student_id": "SCI-2026-0001"}]}
    assert "drop the withdrawn student" in run_cli("uploads", "list").stdout
    nothing = run_cli("uploads", "edit", ident)
    assert nothing.returncode == 2 and "E_NOTHING_TO_CHANGE" in nothing.stderr


def test_tickets_edit_and_delete_leave_a_note_on_the_timeline(run_cli):
    failed = json.loads(run_cli("process", SAMPLES / "broken" / "missing_columns.csv", "--json").stdout)
    incident = str(failed["incident_id"])
    ticket = json.loads(run_cli("tickets", "list", "--incident", incident, "--json").stdout)[0]
    edited = json.loads(
        run_cli(
            "tickets", "edit", str(ticket["id"]), "--title", "Ask Science for template v2", "--to", "ravi", "--json"
        ).stdout
    )
    assert edited["title"] == "Ask Science for template v2" and edited["state"] == "assigned"
    assert run_cli("tickets", "delete", str(ticket["id"])).returncode != 0  # asks; no tty, no --yes: not deleted
    assert run_cli("tickets", "show", str(ticket["id"])).returncode == 0
    gone = run_cli("tickets", "delete", str(ticket["id"]), "--yes")
    assert gone.returncode == 0, gone.stderr
    assert run_cli("tickets", "show", str(ticket["id"])).returncode == 2
    events = [e["message"] for e in json.loads(run_cli("incidents", "show", incident, "--json").stdout)["events"]]
    assert any("edited: title: Ask Science for template v2; assigned to ravi" in m for m in events)
    assert any(m.startswith(f"ticket {ticket['id']} deleted") for m in events)


def test_incidents_open_makes_a_manual_incident_that_works_like_any(run_cli):
    res = run_cli(
        "incidents",
        "open",
        "Printer in room 4 jams on report cards",
        "--severity",
        "low",
        "--description",
        "seen at 9am",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    opened = json.loads(res.stdout)
    assert opened["state"] == "open" and opened["severity"] == "low" and opened["upload"] is None
    assert run_cli("incidents", "assign", str(opened["id"]), "--to", "ravi").returncode == 0
    assert run_cli("incidents", "resolve", str(opened["id"]), "--report", "new toner").returncode == 0
    assert run_cli("incidents", "open", "x", "--severity", "huge").returncode == 2


def test_an_upload_links_to_its_incident_after_it_recurred_elsewhere_and_was_resolved(app_ctx, samples_dir):
    from batchops.services import incidents, processing, uploads

    first = processing.process_file(samples_dir / "broken" / "missing_columns.csv")
    second = processing.process_file(samples_dir / "broken" / "missing_columns.csv")
    assert first["incident_id"] == second["incident_id"]  # one incident, seen twice
    incidents.resolve(first["incident_id"], "template fixed", actor="operator")
    incidents.archive(first["incident_id"], actor="operator")
    for upload in (first["upload_id"], second["upload_id"]):
        linked = uploads.show_upload(upload)["incidents"]
        assert [(i["id"], i["state"]) for i in linked] == [(first["incident_id"], "archived")]
