"""Outgoing messages: e-mail over SMTP and JSON webhooks, with an outbox so nothing is lost.

A message that cannot be delivered now (no SMTP configured, server down,
webhook failing) is written to ``outbox/`` as one JSON file and retried by
``flush()``. Secrets come from the environment or an owner-only file and are
never printed or stored in a message.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import smtplib
import stat
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from peewee import IntegrityError

from batchops import clock, context
from batchops.clock import utc_now
from batchops.errors import BatchOpsError, ConfigError, StorageError
from batchops.redact import redact, redact_data
from batchops.store.db import db, retry_busy
from batchops.store.models import AppState
from batchops.store.objects import objects

WEBHOOK_TIMEOUT_S = 10.0
OUTBOX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.json")
OUTBOX = "outbox"  # the storage prefix: the data home's outbox/ folder, or the shared bucket's
CLAIM_TTL = timedelta(minutes=10)  # a sender's claim on a parked message older than this is void


def smtp_password() -> str:
    smtp = context.config().smtp
    if smtp.password_file:
        path = Path(smtp.password_file).expanduser()
        try:
            mode = path.stat().st_mode
        except OSError:
            raise ConfigError(f"smtp.password_file {path} cannot be read") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"smtp.password_file {path} must be readable only by its owner (chmod 600)")
        return path.read_text(encoding="utf-8").strip()
    return os.environ.get(smtp.password_env, "") if smtp.password_env else ""


def _deliver_email(msg: dict) -> None:
    smtp = context.config().smtp
    email = EmailMessage()
    email["From"] = smtp.sender
    email["To"] = ", ".join(msg["to"])
    email["Subject"] = msg["subject"]
    email.set_content(msg["body"])
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as server:
        if smtp.starttls:
            server.starttls()
        if smtp.username:
            server.login(smtp.username, smtp_password())
        server.send_message(email)


def webhook_ref(url: str) -> str:
    """What the outbox keeps instead of a webhook URL (which may carry a token): a hash of it."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _webhook_url(msg: dict) -> str:
    """The URL to post to: given in memory on the first attempt, else the configured webhook with this ref."""
    if msg.get("_url"):
        return msg["_url"]
    for url in context.config().incidents.webhooks:
        if webhook_ref(url) == msg.get("webhook"):
            return url
    raise ConfigError(
        f"webhook {msg.get('url')} is no longer in incidents.webhooks; "
        "add it back or delete this message from the outbox"
    )


def _deliver_webhook(msg: dict) -> None:
    from batchops.http import check_url, open_url

    url = _webhook_url(msg)
    check_url(url)  # webhooks come from config: http(s) only, never file: or ftp:
    request = urllib.request.Request(
        url,
        data=json.dumps(msg["payload"], default=str).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "batchops"},
        method="POST",
    )
    with open_url(request, WEBHOOK_TIMEOUT_S) as response:  # one deadline: a slow server cannot hold a run
        if response.status >= 300:
            raise OSError(f"webhook answered HTTP {response.status}")


DELIVER = {"email": _deliver_email, "webhook": _deliver_webhook}


def _can_deliver(msg: dict) -> bool:
    return msg["kind"] != "email" or bool(context.config().smtp.host)


def _own_name(msg: dict) -> str | None:
    """The message's file name, only as a plain name of ours (never a path out of the outbox)."""
    name = msg.get("file")
    return name if isinstance(name, str) and OUTBOX_NAME.fullmatch(name) else None


def _park(msg: dict, error: str | None) -> str:
    msg["last_error"] = redact(error)
    name = _own_name(msg) or f"{utc_now():%Y%m%dT%H%M%S}-{msg['kind']}-{uuid.uuid4().hex[:8]}.json"
    msg["file"] = name
    # Secrets never reach the disk: the webhook URL stays in memory (the file names it by ref).
    stored = redact_data({k: v for k, v in msg.items() if not k.startswith("_")})
    objects().put_bytes(f"{OUTBOX}/{name}", json.dumps(stored, indent=2, default=str).encode("utf-8"))
    return objects().location(f"{OUTBOX}/{name}")


def _send(msg: dict) -> dict:
    if not _can_deliver(msg):
        path = _park(msg, "no SMTP server configured")
        return {"delivered": False, "outbox": path, "error": msg["last_error"]}
    msg["attempts"] = msg.get("attempts", 0) + 1
    try:
        DELIVER[msg["kind"]](msg)
    except (OSError, smtplib.SMTPException, urllib.error.URLError, BatchOpsError) as exc:
        path = _park(msg, f"{exc.__class__.__name__}: {exc}")
        return {"delivered": False, "outbox": path, "error": msg["last_error"]}
    if _own_name(msg):
        objects().delete(f"{OUTBOX}/{msg['file']}")
    return {"delivered": True, "outbox": None, "error": None}


def send_email(to: list[str] | str, subject: str, body: str, *, tag: str = "") -> dict:
    recipients = [to] if isinstance(to, str) else list(to)
    return _send(
        {
            "kind": "email",
            "to": recipients,
            "subject": subject,
            "body": body,
            "tag": tag,
            "created_at": clock.iso(utc_now()),
        }
    )


def post_webhook(url: str, payload: dict, *, tag: str = "") -> dict:
    return _send(
        {
            "kind": "webhook",
            "url": redact(url),
            "webhook": webhook_ref(url),
            "_url": url,
            "payload": payload,
            "tag": tag,
            "created_at": clock.iso(utc_now()),
        }
    )


def list_outbox() -> list[dict]:
    """The waiting messages; each one's ``file`` is where it was found, whatever its content says."""
    out = []
    store = objects()
    for info in store.list(OUTBOX):
        name = info.key[len(OUTBOX) + 1 :]
        if not OUTBOX_NAME.fullmatch(name):  # only our own plain names: never a path out of the outbox
            continue
        try:
            msg = json.loads(store.get_bytes(info.key).decode("utf-8"))
        except (StorageError, UnicodeDecodeError, json.JSONDecodeError):
            continue  # sent by another machine meanwhile, or not a message
        if not isinstance(msg, dict) or msg.get("kind") not in DELIVER:
            continue
        msg["file"] = name
        if msg["kind"] == "webhook" and "webhook" not in msg and isinstance(msg.get("url"), str):
            msg["webhook"] = webhook_ref(msg["url"])  # a message parked before URLs were kept by ref
        out.append(redact_data(msg))
    return out


def flush() -> dict:
    """Retry every parked message that can be delivered now."""
    context.require_writable()
    delivered = failed = waiting = 0
    for msg in list_outbox():
        if not _can_deliver(msg):
            waiting += 1
            continue
        if not claim(msg["file"]):
            continue  # another worker (or machine, with shared storage) is sending it
        try:
            if not objects().exists(f"{OUTBOX}/{msg['file']}"):
                continue  # sent meanwhile by the worker that held it before us
            if _send(msg)["delivered"]:
                delivered += 1
            else:
                failed += 1
        finally:
            release(msg["file"])
    return {"delivered": delivered, "failed": failed, "waiting": waiting}


@retry_busy
def claim(name: str) -> bool:
    """One sender per parked message across workers: a row in the shared store (stale after CLAIM_TTL,
    so a sender killed mid-send does not hold the message for ever)."""
    key, now = f"outbox:sending:{name}"[:128], utc_now()
    with db.atomic():
        AppState.delete().where((AppState.key == key) & (AppState.updated_at < now - CLAIM_TTL)).execute()
        try:
            with db.atomic():
                AppState.insert(key=key, value={"pid": os.getpid()}, updated_at=now).execute()
        except IntegrityError:
            return False
    return True


@retry_busy
def release(name: str) -> None:
    with db.atomic():
        AppState.delete().where(AppState.key == f"outbox:sending:{name}"[:128]).execute()
