"""Notifications against a local SMTP server (aiosmtpd) and a local HTTP server: when they go out,
when they must not, rate limiting, and the outbox when delivery fails."""

from __future__ import annotations

import json
import socket
import threading
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from batchops.clock import utc_now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    @property
    def subjects(self):
        return [m["Subject"] for m in self.messages]


@pytest.fixture
def smtp():
    """A local SMTP server; ``smtp.start()`` / ``smtp.stop()`` (started by default)."""
    from aiosmtpd.controller import Controller

    class Server:
        port = free_port()
        box = Mailbox()
        controller = None

        def start(self):
            self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port)
            self.controller.start()

        def stop(self):
            if self.controller is not None:
                self.controller.stop()
                self.controller = None

    server = Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook():
    """A local HTTP server collecting JSON posts; set ``webhook.status`` to make it fail."""
    received, state = [], {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if state["status"] == 200:
                received.append(json.loads(body))
            self.send_response(state["status"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    class Hook:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        posts = received

        @property
        def status(self):
            return state["status"]

        @status.setter
        def status(self, value):
            state["status"] = value

    yield Hook()
    server.shutdown()
    server.server_close()


def config_text(smtp_port: int, hook_url: str, **incidents) -> str:
    settings = {
        "notify_emails": ["desk@school.example"],
        "webhooks": [hook_url],
        "notify_min_severity": "high",
        "rate_limit_minutes": 30.0,
        "reopen_window_hours": 0.0,
        **incidents,
    }
    lines = ["[smtp]", 'host = "127.0.0.1"', f"port = {smtp_port}", "timeout = 5.0", "", "[incidents]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


def notices(incident_id):
    from batchops.services import incidents

    return [
        (e["kind"], e["message"])
        for e in incidents.show_incident(incident_id)["events"]
        if e["kind"].startswith("notify")
    ]


def test_alert_on_open_not_on_repeats_manual_runs_or_low_severity(configure, smtp, webhook, fail_pipeline):
    configure(config_text(smtp.port, webhook.url))
    _, inc = fail_pipeline("marks.csv", trigger="ingest")  # high (Missing required columns)
    assert smtp.box.subjects == [f"[BatchOps] HIGH incident #{inc.id} opened: {inc.title}"]
    body = smtp.box.messages[0].get_content()
    assert "Missing required columns" in body and f"batchops incidents show {inc.id}" in body
    (post,) = webhook.posts
    assert post["event"] == "opened" and post["incident_id"] == inc.id and post["severity"] == "high"
    assert post["state"] == "open" and post["known_error"]["name"] == "Missing required columns"
    assert post["links"]["upload_id"] == inc.upload_id and post["links"]["run_id"] == inc.run_id
    assert notices(inc.id)[0][0] == "notify" and "2 delivered" in notices(inc.id)[0][1]

    fail_pipeline("marks.csv", trigger="ingest")  # a repeat occurrence: silence
    _, manual = fail_pipeline("other.csv", trigger="cli")  # started by hand: silence
    _, medium = fail_pipeline("third.csv", code="E_NO_ROWS", message="no rows", trigger="ingest")
    assert len(smtp.box.messages) == 1 and len(webhook.posts) == 1
    assert "started by hand" in notices(manual.id)[0][1]
    assert "below incidents.notify_min_severity" in notices(medium.id)[0][1]


def test_manual_runs_notify_when_asked(configure, smtp, webhook, fail_pipeline):
    configure(config_text(smtp.port, webhook.url, notify_manual_runs=True))
    fail_pipeline("marks.csv", trigger="cli")
    assert len(smtp.box.messages) == 1 and len(webhook.posts) == 1


def test_rate_limit_per_signature(configure, smtp, webhook, fail_pipeline):
    from batchops.services import incidents
    from batchops.store.models import Incident

    configure(config_text(smtp.port, webhook.url))
    _, first = fail_pipeline("marks.csv", trigger="schedule")
    incidents.resolve(first.id, "fixed")
    _, second = fail_pipeline("marks.csv", trigger="schedule")  # window 0 h: a new, linked incident
    assert second.id != first.id and second.previous_id == first.id
    assert len(webhook.posts) == 1
    assert "rate limit" in notices(second.id)[-1][1]

    Incident.update(last_notified_at=utc_now() - timedelta(minutes=31)).where(Incident.id == first.id).execute()
    incidents.resolve(second.id, "fixed again")
    _, third = fail_pipeline("marks.csv", trigger="schedule")
    assert len(webhook.posts) == 2 and webhook.posts[-1]["incident_id"] == third.id
    assert webhook.posts[-1]["links"]["previous_incident_id"] == second.id


def test_recovered_notice_answers_an_alert(configure, smtp, webhook, fail_pipeline, good_csv):
    from batchops.services import processing, uploads

    configure(config_text(smtp.port, webhook.url))
    marks = uploads.create_upload(good_csv, original_name="marks.csv").id
    _, inc = fail_pipeline("marks.csv", trigger="ingest", upload_id=marks)
    ok = processing.submit(marks, trigger="cli")  # retried by hand (not by the ingest job): still answers
    assert ok["status"] == "published", ok
    assert [p["event"] for p in webhook.posts] == ["opened", "recovered"]
    assert webhook.posts[-1]["state"] == "resolved" and webhook.posts[-1]["links"]["run_id"] == ok["run_id"]
    assert smtp.box.subjects[-1] == f"[BatchOps] RECOVERED incident #{inc.id}: {inc.title}"

    # no alert went out for a manual run, so its recovery is silent too
    quiet_id = uploads.create_upload(good_csv, original_name="quiet.csv").id
    _, quiet = fail_pipeline("quiet.csv", trigger="cli", upload_id=quiet_id)
    processing.submit(quiet_id, trigger="cli")
    assert len(webhook.posts) == 2


def test_final_failed_retry_alerts_once(configure, smtp, webhook, fail_job, monkeypatch):
    from batchops.services import tasks

    configure(config_text(smtp.port, webhook.url))
    monkeypatch.setattr(tasks, "enqueue_job", lambda run_id, delay=None: None)  # the retry stays queued
    _, inc = fail_job("status-digest", "E_JOB_TIMEOUT", "ran for 601 s", trigger="schedule")
    assert inc.severity == "medium" and webhook.posts == []  # a retry is pending: no alert yet
    _, inc = fail_job("status-digest", "E_JOB_TIMEOUT", "ran for 601 s", trigger="retry", attempt=2)
    assert inc.escalated and inc.severity == "high"
    assert [p["event"] for p in webhook.posts] == ["escalated"]
    assert "escalated" in smtp.box.subjects[0]
    fail_job("status-digest", "E_JOB_TIMEOUT", "ran for 601 s", trigger="retry", attempt=3)
    assert len(webhook.posts) == 1


def test_undeliverable_notices_wait_in_the_outbox(configure, smtp, webhook, fail_pipeline):
    from batchops.services import outbox

    smtp.stop()
    webhook.status = 500
    configure(config_text(smtp.port, webhook.url))
    _, inc = fail_pipeline("marks.csv", trigger="ingest")
    parked = outbox.list_outbox()
    assert sorted(m["kind"] for m in parked) == ["email", "webhook"]
    assert all(m["last_error"] for m in parked)
    assert "2 waiting in the outbox" in notices(inc.id)[0][1]

    smtp.start()
    webhook.status = 200
    assert outbox.flush() == {"delivered": 2, "failed": 0, "waiting": 0}
    assert outbox.list_outbox() == []
    assert len(smtp.box.messages) == 1 and webhook.posts[0]["incident_id"] == inc.id
