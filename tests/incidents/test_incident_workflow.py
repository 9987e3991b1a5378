"""The workflow state machine, tickets and known errors: services in-process, then the CLI end to end."""

from __future__ import annotations

import json

import pytest

from batchops.errors import IllegalTransition, InputError, ReadOnly


def test_allowed_actions_per_state():
    from batchops.services.incidents import allowed_actions

    assert allowed_actions({"state": "open"}) == ["assign", "retry", "resolve"]
    assert allowed_actions({"state": "assigned"}) == ["assign", "analyze", "retry", "resolve"]
    assert allowed_actions({"state": "analyzing"}) == ["assign", "analyze", "retry", "resolve"]
    assert allowed_actions({"state": "resolved"}) == ["archive"]
    assert allowed_actions({"state": "archived"}) == []


def test_workflow_records_every_change_with_actor(ctx, fail_pipeline):
    from batchops.services import incidents

    _, inc = fail_pipeline("marks.csv")
    with pytest.raises(IllegalTransition, match="incident .* is open; cannot analyze"):
        incidents.analyze(inc.id, impact="x", actor="asha")
    with pytest.raises(IllegalTransition, match="is open; cannot archive"):
        incidents.archive(inc.id)
    d = incidents.assign(inc.id, "asha", actor="ravi")
    assert d["state"] == "assigned" and d["assignee"] == "asha" and d["acknowledged_at"] is not None
    d = incidents.analyze(inc.id, impact="Science reports late", root_cause="old template", actor="asha")
    assert d["state"] == "analyzing" and d["impact"] == "Science reports late"
    d = incidents.analyze(inc.id, corrective_action="send template", actor="asha")  # stays editable
    assert d["root_cause"] == "old template" and d["corrective_action"] == "send template"
    d = incidents.assign(inc.id, "meena", actor="asha")  # re-assign keeps analyzing
    assert d["state"] == "analyzing" and d["assignee"] == "meena"
    d = incidents.comment(inc.id, "called the department", actor="meena")
    with pytest.raises(InputError):
        incidents.resolve(inc.id, "   ", actor="meena")
    d = incidents.resolve(inc.id, "new template in use", actor="meena")
    assert d["state"] == "resolved" and d["resolution"] == "new template in use"
    for action in (
        lambda: incidents.assign(inc.id, "x"),
        lambda: incidents.retry(inc.id),
        lambda: incidents.resolve(inc.id, "again"),
    ):
        with pytest.raises(IllegalTransition, match="is resolved"):
            action()
    d = incidents.archive(inc.id, actor="meena")
    assert d["state"] == "archived" and d["allowed_actions"] == []
    moves = [(e["kind"], e["actor"], e["from_state"], e["to_state"]) for e in d["events"]]
    assert moves[2:] == [
        ("assign", "ravi", "open", "assigned"),
        ("analyze", "asha", "assigned", "analyzing"),
        ("analyze", "asha", "analyzing", "analyzing"),
        ("assign", "asha", "analyzing", "analyzing"),
        ("comment", "meena", None, None),
        ("resolve", "meena", "analyzing", "resolved"),
        ("ticket", "meena", None, None),  # its open ticket resolved with it
        ("archive", "meena", "resolved", "archived"),
    ]


def test_manual_retry_requeues_the_pipeline(ctx, fail_pipeline, broken_dir):
    from batchops.services import incidents, processing
    from batchops.store.models import JobRun

    failed = processing.process_file(broken_dir / "missing_columns.csv")
    result = incidents.retry(failed["incident_id"], actor="asha", now=True)
    assert result["run"]["status"] == "failed" and result["run"]["run_id"] != failed["run_id"]
    run = JobRun.get_by_id(result["run"]["run_id"])
    assert run.trigger == "retry" and run.upload_id == failed["upload_id"]
    inc = result["incident"]
    assert inc["occurrences"] == 2
    retry_events = [e for e in inc["events"] if e["kind"] == "retry"]
    assert retry_events[0]["actor"] == "asha" and "manual retry" in retry_events[0]["message"]


def test_manual_retry_of_a_job_that_now_succeeds_resolves_it(ctx, fail_job):
    from batchops.services import incidents

    _, inc = fail_job("status-digest", "E_JOB_FAILED", "smtp hiccup")
    result = incidents.retry(inc.id, actor="asha", now=True)
    assert result["run"]["status"] == "succeeded"
    assert result["incident"]["state"] == "resolved"
    assert result["incident"]["resolution"] == f"recovered by run {result['run']['run_id']}"


def test_tickets_workflow(ctx, fail_pipeline):
    from batchops.services import tickets

    _, inc = fail_pipeline("marks.csv")
    (t,) = tickets.list_tickets(incident_id=inc.id)
    assert t["state"] == "open" and t["allowed_actions"] == ["assign", "resolve"]
    t = tickets.assign(t["id"], "asha", actor="ravi")
    assert t["state"] == "assigned" and t["assignee"] == "asha"
    t = tickets.resolve(t["id"], "template sent", actor="asha")
    assert t["state"] == "resolved" and t["resolved_at"] is not None
    with pytest.raises(IllegalTransition, match="ticket .* is resolved"):
        tickets.resolve(t["id"], "again")
    extra = tickets.add(inc.id, "Update the synonyms", actor="asha", assignee="meena")
    assert extra["state"] == "assigned"
    from batchops.services import incidents

    ticket_events = [e["message"] for e in incidents.show_incident(inc.id)["events"] if e["kind"] == "ticket"]
    assert len(ticket_events) == 4


def test_read_only_refuses_changes(ctx, fail_pipeline):
    from batchops.services import incidents, known_errors, tickets

    _, inc = fail_pipeline("marks.csv")
    ctx.read_only = True
    for call in (
        lambda: incidents.assign(inc.id, "asha"),
        lambda: tickets.assign(1, "asha"),
        lambda: known_errors.add_known_error("x", error_code="E_X"),
    ):
        with pytest.raises(ReadOnly):
            call()
    assert incidents.show_incident(inc.id)["state"] == "open"


def test_known_error_crud_and_test_message(ctx, fail_pipeline):
    from batchops.services import known_errors

    fail_pipeline("a.csv", code="E_INTERNAL", message="printer on fire")
    fail_pipeline("b.csv", code="E_INTERNAL", message="Printer on fire again")
    fail_pipeline("c.csv", code="E_OTHER", message="printer fine")
    with pytest.raises(InputError) as bad:
        known_errors.add_known_error("bad", pattern="printer (")
    assert bad.value.code == "E_REGEX_INVALID"
    with pytest.raises(InputError) as broad:
        known_errors.add_known_error("broad")
    assert broad.value.code == "E_KNOWN_ERROR_TOO_BROAD"

    before = known_errors.test_message("printer on fire", code="E_INTERNAL", pattern="on fire")
    assert before["match"] is None and before["unknown"] is True
    assert before["draft"]["matches_message"] is True and before["draft"]["past_matches"] == 2

    ke = known_errors.add_known_error("Printer fire", pattern="on fire", severity="critical")
    assert ke["past_matches"] == 2
    after = known_errors.test_message("printer on fire", code="E_INTERNAL")
    assert after["match"]["id"] == ke["id"] and after["match"]["past_matches"] == 2
    with pytest.raises(InputError) as dup:
        known_errors.add_known_error("Printer fire", error_code="E_Z")
    assert dup.value.code == "E_DUPLICATE"
    edited = known_errors.edit_known_error(ke["id"], pattern="fire again")
    assert edited["pattern"] == "fire again" and edited["past_matches"] == 1
    edited = known_errors.edit_known_error(ke["id"], step="publish")  # the runs failed in validate
    assert edited["step"] == "publish" and edited["past_matches"] == 0
    assert known_errors.delete_known_error(ke["id"])["name"] == "Printer fire"


# --------------------------------------------------------------------------- the CLI, end to end


def _json(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_cli_whole_workflow(run_cli, broken_dir, good_csv):
    """Fail the broken sample twice, then walk the incident through every state from the CLI."""
    missing = broken_dir / "missing_columns.csv"
    for _ in range(2):
        proc = run_cli("process", missing, "--json")
        assert proc.returncode == 1, proc.stderr
    (row,) = _json(run_cli("incidents", "list", "--json"))
    iid = str(row["id"])
    assert row["occurrences"] == 2 and row["severity"] == "high" and row["known_error_name"]
    shown = _json(run_cli("incidents", "show", iid, "--json"))
    assert len(shown["tickets"]) == 1 and shown["events"][0]["kind"] == "open"
    assert _json(run_cli("incidents", "list", "--state", "open", "--severity", "high", "--json"))[0]["id"] == row["id"]
    assert _json(run_cli("incidents", "list", "--state", "resolved", "--json")) == []

    illegal = run_cli("incidents", "analyze", iid, "--impact", "x")
    assert illegal.returncode == 2
    assert illegal.stderr.strip().splitlines() == [
        f"error E_ILLEGAL_TRANSITION: incident {iid} is open; cannot analyze it "
        "(analyze is allowed from assigned, analyzing); assign it first"
    ]
    assert run_cli("incidents", "archive", iid).returncode == 2
    bad_id = run_cli("incidents", "show", "999")
    assert bad_id.returncode == 2 and bad_id.stderr.startswith("error E_NOT_FOUND:")
    bad_filter = run_cli("incidents", "list", "--state", "sleeping")
    assert bad_filter.returncode == 2

    d = _json(run_cli("incidents", "assign", iid, "--to", "asha", "--as", "ravi", "--json"))
    assert d["state"] == "assigned" and d["events"][-1]["actor"] == "ravi"
    d = _json(
        run_cli(
            "incidents",
            "analyze",
            iid,
            "--impact",
            "late reports",
            "--root-cause",
            "old template",
            "--corrective-action",
            "send the template",
            "--as",
            "asha",
            "--json",
        )
    )
    assert (d["state"], d["impact"], d["root_cause"]) == ("analyzing", "late reports", "old template")
    retry = run_cli("incidents", "retry", iid, "--now", "--as", "asha", "--json")
    assert retry.returncode == 1  # the file is still broken: the work failed
    assert json.loads(retry.stdout)["incident"]["occurrences"] == 3
    d = _json(run_cli("incidents", "resolve", iid, "--report", "department re-exported", "--as", "asha", "--json"))
    assert d["state"] == "resolved"
    assert run_cli("incidents", "retry", iid).returncode == 2
    d = _json(run_cli("incidents", "archive", iid, "--json"))
    assert d["state"] == "archived"
    again = run_cli("incidents", "assign", iid, "--to", "x")
    assert again.returncode == 2 and "is archived" in again.stderr
    plain = run_cli("incidents", "show", iid)
    assert plain.returncode == 0 and "Timeline" in plain.stdout and "department re-exported" in plain.stdout

    (ticket,) = _json(run_cli("tickets", "list", "--json"))
    tid = str(ticket["id"])
    assert ticket["state"] == "resolved"  # tickets follow their incident
    assert ticket["resolution"] == "incident resolved: department re-exported"
    assert run_cli("tickets", "resolve", tid, "--resolution", "again").returncode == 2

    # known errors: test with past-match counts; invalid regex -> exit 2
    t = _json(
        run_cli(
            "known-errors", "test", "Missing required column(s): student_id", "--code", "E_MISSING_COLUMNS", "--json"
        )
    )
    assert t["match"]["name"] == "Missing required columns" and t["match"]["past_matches"] == 3
    bad = run_cli("known-errors", "add", "--name", "bad", "--pattern", "(unclosed")
    assert bad.returncode == 2 and bad.stderr.startswith("error E_REGEX_INVALID:")
    added = _json(
        run_cli(
            "known-errors",
            "add",
            "--name",
            "Student id missing",
            "--code",
            "E_MISSING_COLUMNS",
            "--pattern",
            "student_id",
            "--severity",
            "critical",
            "--json",
        )
    )
    assert added["past_matches"] == 3
    t = _json(
        run_cli(
            "known-errors", "test", "Missing required column(s): student_id", "--code", "E_MISSING_COLUMNS", "--json"
        )
    )
    assert t["match"]["id"] == added["id"] and t["match"]["level"] == "code+pattern"
    edited = _json(run_cli("known-errors", "edit", str(added["id"]), "--severity", "low", "--json"))
    assert edited["severity"] == "low" and edited["pattern"] == "student_id"
    assert run_cli("known-errors", "edit", str(added["id"]), "--pattern", "[").returncode == 2
    assert run_cli("known-errors", "delete", str(added["id"]), "--yes").returncode == 0
    assert run_cli("known-errors", "show", str(added["id"])).returncode == 2


def test_tickets_follow_their_incident(ctx, fail_pipeline):
    from batchops.services import incidents, tickets

    _, inc = fail_pipeline("marks.csv")
    tickets.add(inc.id, "Call the department head", actor="asha")
    done = tickets.add(inc.id, "Already handled", actor="asha")
    tickets.resolve(done["id"], "handled by phone", actor="asha")
    incidents.resolve(inc.id, "new template sent", actor="ravi")
    states = {t["title"]: (t["state"], t["resolution"]) for t in tickets.list_tickets(incident_id=inc.id)}
    assert all(state == "resolved" for state, _ in states.values())
    assert states["Already handled"][1] == "handled by phone"  # its own resolution is kept
    assert states["Call the department head"][1] == "incident resolved: new template sent"
    events = [e["message"] for e in incidents.show_incident(inc.id)["events"] if e["kind"] == "ticket"]
    assert sum("resolved with the incident" in m for m in events) == 2  # the seeded ticket and the open one


def test_archiving_resolves_tickets_added_after_the_resolve(ctx, fail_pipeline):
    from batchops.services import incidents, tickets

    _, inc = fail_pipeline("marks.csv")
    incidents.resolve(inc.id, "fixed", actor="ravi")
    late = tickets.add(inc.id, "Write it up", actor="ravi")
    incidents.archive(inc.id, actor="ravi")
    assert tickets.show_ticket(late["id"])["state"] == "resolved"


def test_a_different_upload_of_the_same_file_does_not_recover_a_failed_one(ctx, fail_pipeline, good_csv):
    from batchops.services import incidents, processing

    _, inc = fail_pipeline("good.csv")
    assert inc.state == "open"
    processing.process_file(good_csv)  # a new upload named good.csv publishes
    assert incidents.show_incident(inc.id)["state"] == "open"
