"""Triage: known-error matching, de-duplication, re-open, auto-retry, escalation, auto-resolve."""

from __future__ import annotations

from datetime import timedelta

import pytest

from batchops.clock import utc_now


def _events(incident_id):
    from batchops.services import incidents

    return incidents.show_incident(incident_id)["events"]


# --------------------------------------------------------------------------- matching


@pytest.fixture
def library(ctx):
    from batchops.services import known_errors

    ids = {}
    for name, kw in [
        ("code only", dict(error_code="E_X")),
        ("pattern only", dict(pattern=r"disk full")),
        ("code and pattern", dict(error_code="E_X", pattern=r"disk")),
        ("code in publish", dict(error_code="E_Y", step="publish")),
        ("code anywhere", dict(error_code="E_Y")),
    ]:
        ids[name] = known_errors.add_known_error(name, **kw)["id"]
    return ids


@pytest.mark.parametrize(
    "code, message, step, expected, level",
    [
        ("E_X", "disk full on /var", None, "code and pattern", "code+pattern"),
        ("E_X", "something else", None, "code only", "code"),
        ("E_Z", "the disk full again", None, "pattern only", "pattern"),
        # a catch-all code is matched on the message: the longer pattern wins the tie
        ("E_INTERNAL", "disk full", None, "pattern only", "pattern"),
        ("E_INTERNAL", "disk quota", None, "code and pattern", "pattern"),
        ("E_Y", "x", "publish", "code in publish", "code"),
        ("E_Y", "x", "validate", "code anywhere", "code"),
        ("E_Q", "nothing known", None, None, None),
    ],
)
def test_most_specific_known_error_wins(library, code, message, step, expected, level):
    from batchops.incidents import triage

    found = triage.match(code, message, step)
    if expected is None:
        assert found is None
    else:
        assert found is not None and found.known_error.name == expected
        assert found.level_name == level


def test_seeded_library_matches_pipeline_codes(ctx):
    from batchops.incidents import triage

    assert (
        triage.match("E_MISSING_COLUMNS", "Missing required column(s): student_id", "validate").known_error.name
        == "Missing required columns"
    )
    assert triage.match("E_INTERNAL", "OperationalError: database is locked").known_error.name == "Database busy"
    # code + pattern: a 404 is a fetch failure but not a transient one, so no auto-retry entry
    assert triage.match("E_FETCH_FAILED", "HTTP 404 Not Found") is None


# --------------------------------------------------------------------------- de-duplication


def test_missing_columns_twice_gives_one_incident(ctx, broken_dir):
    """The 'done when': two uploads of the same broken file -> one incident, 2 occurrences, one ticket."""
    from batchops.services import incidents, processing, tickets

    first = processing.process_file(broken_dir / "missing_columns.csv")
    second = processing.process_file(broken_dir / "missing_columns.csv")
    assert first["status"] == second["status"] == "failed"
    assert first["error"]["code"] == "E_MISSING_COLUMNS"
    assert first["upload_id"] != second["upload_id"]
    assert first["incident_id"] == second["incident_id"] is not None

    rows = incidents.list_incidents()
    assert len(rows) == 1
    inc = incidents.show_incident(rows[0]["id"])
    assert inc["occurrences"] == 2
    assert inc["state"] == "open"
    assert inc["severity"] == "high"  # copied from the seeded known error
    assert inc["known_error"]["name"] == "Missing required columns"
    assert inc["unknown_error"] is False
    assert inc["root_cause"] and inc["corrective_action"]
    assert inc["signature"] == "pipeline|-|missing_columns.csv|validate|E_MISSING_COLUMNS"
    assert [e["kind"] for e in inc["events"]] == ["open", "ticket", "occurrence"]
    assert len(inc["tickets"]) == 1 and len(tickets.list_tickets()) == 1
    assert inc["run_id"] == second["run_id"]  # the latest run, so process --json reports the incident


def test_signature_normalises_the_file_name(ctx, fail_pipeline):
    _, a = fail_pipeline("Term 1 Marks.CSV")
    _, b = fail_pipeline("term 1   marks.csv")
    _, c = fail_pipeline("term 1 marks.csv", code="E_NO_ROWS", message="no rows")
    assert a.id == b.id != c.id


def test_unknown_error_uses_config_default_and_asks_to_be_taught(ctx, fail_pipeline):
    _, inc = fail_pipeline("x.csv", code="E_SOMETHING_NEW", message="never seen", step="transform")
    assert inc.unknown_error is True
    assert inc.known_error_id is None
    assert inc.severity == ctx.incidents.default_severity == "medium"
    from batchops.services import tickets

    (ticket,) = tickets.list_tickets(incident_id=inc.id)
    assert "add a known error" in ticket["title"]


def test_known_error_can_skip_the_ticket(ctx, fail_pipeline):
    _, inc = fail_pipeline("x.csv", code="E_UNKNOWN_COLUMN", message="no column 'grade'", step="transform")
    from batchops.store.models import Ticket

    assert inc.known_error.name == "Unknown column in amendment"
    assert Ticket.select().where(Ticket.incident == inc.id).count() == 0


def test_job_failures_deduplicate_by_job_and_code(ctx, fail_job):
    _, a = fail_job("status-digest", "E_JOB_FAILED", "boom 1")
    _, b = fail_job("status-digest", "E_JOB_FAILED", "boom 2")
    _, c = fail_job("daily-backup", "E_JOB_FAILED", "boom")
    assert a.id == b.id != c.id
    assert a.signature == "job|status-digest|E_JOB_FAILED"
    from batchops.store.models import Incident

    assert Incident.get_by_id(a.id).occurrences == 2


def test_triage_never_raises(ctx, fail_pipeline, monkeypatch, caplog):
    from batchops.incidents import triage

    def broken(*a, **k):
        raise RuntimeError("triage bug")

    monkeypatch.setattr(triage, "_record_failure", broken)
    monkeypatch.setattr(triage, "_resolve_recovered", broken)
    run, inc = fail_pipeline("x.csv")
    assert inc is None and run.status == "failed"
    assert triage.on_success(run) == []
    assert "triage failed" in caplog.text


# --------------------------------------------------------------------------- re-open / recurrence


def test_recurrence_within_window_reopens_then_later_opens_a_linked_incident(ctx, fail_pipeline):
    from batchops.services import incidents
    from batchops.store.models import Incident, Ticket

    _, inc = fail_pipeline("marks.csv")
    incidents.resolve(inc.id, "template fixed", actor="asha")

    _, again = fail_pipeline("marks.csv")
    assert again.id == inc.id
    shown = incidents.show_incident(inc.id)
    assert shown["state"] == "open" and shown["occurrences"] == 2 and shown["resolved_at"] is None
    reopen = shown["events"][-1]
    assert reopen["kind"] == "reopen" and reopen["from_state"] == "resolved" and "re-opened" in reopen["message"]
    assert Ticket.select().where(Ticket.incident == inc.id).count() == 1  # no new ticket on re-open

    incidents.resolve(inc.id, "fixed again", actor="asha")
    hours = ctx.incidents.reopen_window_hours + 1
    Incident.update(resolved_at=utc_now() - timedelta(hours=hours)).where(Incident.id == inc.id).execute()
    _, later = fail_pipeline("marks.csv")
    assert later.id != inc.id
    assert later.previous_id == inc.id
    assert Incident.get_by_id(inc.id).state == "resolved"
    assert "recurrence of incident" in _events(later.id)[0]["message"]
    assert incidents.show_incident(inc.id)["followup_ids"] == [later.id]
    assert Ticket.select().where(Ticket.incident == later.id).count() == 1


def test_archived_incident_is_not_reopened(ctx, fail_pipeline):
    from batchops.services import incidents

    _, inc = fail_pipeline("marks.csv")
    incidents.resolve(inc.id, "done")
    incidents.archive(inc.id)
    _, again = fail_pipeline("marks.csv")
    assert again.id != inc.id and again.previous_id == inc.id


# --------------------------------------------------------------------------- auto-retry / escalation


def test_auto_retry_is_scheduled_then_escalates_on_the_final_failure(ctx, fail_pipeline):
    """E_DB_LOCKED: auto-retry 3 times, 30 s apart (seeded). Immediate mode never runs delayed tasks,
    so each retry run is left queued; we fail it by hand the way the worker would."""
    from batchops.store.models import Incident, JobRun

    run, inc = fail_pipeline(
        "marks.csv", code="E_DB_LOCKED", message="database is locked", step="publish", trigger="schedule"
    )
    assert inc.severity == "low" and inc.retry_max == 3 and inc.retry_count == 1
    for attempt in (2, 3, 4):
        retry = JobRun.select().where((JobRun.upload == run.upload_id) & (JobRun.id > run.id)).get()
        assert retry.trigger == "retry" and retry.status == "queued" and retry.attempt == attempt
        run, inc = fail_pipeline(
            "marks.csv",
            code="E_DB_LOCKED",
            message="database is locked",
            step="publish",
            trigger="retry",
            upload_id=run.upload_id,
            attempt=attempt,
        )
        # the hand-made run stands in for the queued one; drop the queued duplicate
        JobRun.delete().where(JobRun.id == retry.id).execute()
    inc = Incident.get_by_id(inc.id)
    assert inc.retry_count == 3 and inc.occurrences == 4
    assert inc.escalated is True and inc.severity == "medium"  # one step up from low
    kinds = [e["kind"] for e in _events(inc.id)]
    assert kinds.count("auto-retry") == 3 and kinds.count("escalate") == 1
    escalate = [e for e in _events(inc.id) if e["kind"] == "escalate"][0]
    assert "low -> medium" in escalate["message"]
    assert JobRun.select().where((JobRun.upload == run.upload_id) & (JobRun.id > run.id)).count() == 0


def test_job_retry_run_is_written_with_the_decision_and_queued_with_its_backoff(ctx, fail_job, monkeypatch):
    from batchops.services import tasks
    from batchops.store.models import JobRun

    calls = []
    monkeypatch.setattr(tasks, "enqueue_job", lambda run_id, delay=None: calls.append((run_id, delay)))
    run, inc = fail_job("status-digest", "E_JOB_TIMEOUT", "took too long")
    assert inc.retry_max == 1 and inc.retry_count == 1
    retry = JobRun.get((JobRun.job == run.job_id) & (JobRun.id > run.id))
    assert retry.trigger == "retry" and retry.attempt == 2 and retry.status == "queued"
    assert calls == [(retry.id, 300)]


def test_retry_that_cannot_be_queued_is_written_on_the_timeline(ctx, fail_job, monkeypatch):
    from batchops.services import tasks
    from batchops.store.models import JobRun

    def down(*a, **k):
        raise RuntimeError("queue down")

    monkeypatch.setattr(tasks, "enqueue_job", down)
    run, inc = fail_job("status-digest", "E_JOB_TIMEOUT", "took too long")
    assert "could not be queued" in _events(inc.id)[-1]["message"]
    assert JobRun.get((JobRun.job == run.job_id) & (JobRun.id > run.id)).status == "cancelled"


def test_a_retry_announced_on_the_timeline_exists_even_if_the_process_dies_before_queueing_it(
    ctx, fail_pipeline, monkeypatch
):
    """Triage used to commit "auto-retry scheduled" and only then create the retry's run: a kill in
    between left a promise nothing kept. The run is written with the decision; requeue_lost queues it."""
    from batchops.services import processing, runs
    from batchops.store.models import JobRun, Upload

    def killed(*a, **k):
        raise KeyboardInterrupt  # the process dies right after triage's commit

    monkeypatch.setattr(processing, "queue_reserved", killed)
    with pytest.raises(KeyboardInterrupt):
        fail_pipeline("marks.csv", code="E_DB_LOCKED", message="database is locked", step="publish")
    run = JobRun.select().order_by(JobRun.id).first()
    retry = JobRun.get((JobRun.upload == run.upload_id) & (JobRun.id > run.id))
    assert retry.trigger == "retry" and retry.attempt == 2 and retry.status == "queued"
    assert Upload.get_by_id(run.upload_id).status == "queued"
    assert runs.queued_without_task(-1, lambda: []) == {retry.id: "pipeline"}  # what requeue_lost queues


# --------------------------------------------------------------------------- auto-resolve


def test_successful_rerun_auto_resolves(ctx, broken_dir, good_csv, fail_pipeline):
    """A retry of the failed upload that succeeds resolves its incident (another upload would not)."""
    from batchops.services import incidents, processing, uploads

    upload_id = uploads.create_upload(good_csv, original_name="missing_columns.csv").id
    _, failed = fail_pipeline("missing_columns.csv", upload_id=upload_id)  # e.g. the store was locked
    other = processing.process_file(broken_dir / "empty.csv")
    ok = processing.submit(upload_id, trigger="retry", queue=False)
    assert ok["status"] == "published", ok
    inc = incidents.show_incident(failed.id)
    assert inc["state"] == "resolved"
    assert inc["resolution"] == f"recovered by run {ok['run_id']}"
    resolve = next(e for e in inc["events"] if e["kind"] == "resolve")
    assert resolve["run_id"] == ok["run_id"] and inc["events"][-1]["kind"] == "ticket"  # its ticket closed too
    # a different file's incident stays open
    assert incidents.show_incident(other["incident_id"])["state"] == "open"


def test_concurrent_failures_of_one_file_open_one_incident(ctx, fail_pipeline):
    """Four workers failing the same file at once: the IMMEDIATE transaction serialises find-or-create."""
    import threading

    from batchops.store.db import db
    from batchops.store.models import Incident, Ticket

    errors, barrier = [], threading.Barrier(4)

    def worker():
        try:
            with db.connection_context():
                barrier.wait(timeout=10)
                fail_pipeline("shared.csv", trigger="schedule")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    (inc,) = Incident.select()
    assert inc.occurrences == 4
    assert Ticket.select().count() == 1


def test_same_name_in_another_department_does_not_recover_the_incident(app_ctx, samples_dir, tmp_path):
    """Science publishing its own marks.csv says nothing about Arts' broken marks.csv."""
    from batchops.services import incidents, processing

    broken = tmp_path / "arts" / "marks.csv"
    broken.parent.mkdir()
    broken.write_bytes((samples_dir / "broken" / "missing_columns.csv").read_bytes())
    good = tmp_path / "science" / "marks.csv"
    good.parent.mkdir()
    good.write_bytes((samples_dir / "gradebook_science.csv").read_bytes())

    failed = processing.process_file(broken, department="Arts")
    assert failed["status"] == "failed" and failed["incident_id"]
    assert processing.process_file(good, department="Science")["status"] == "published"
    assert incidents.show_incident(failed["incident_id"])["state"] == "open"
