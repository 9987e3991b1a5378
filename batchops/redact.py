"""One redaction for every piece of text that leaves the process.

Error messages, run logs, incidents, notifications, the outbox and the CLI all
pass text through ``redact()`` (standard library only: it runs in ``errors``).
It hides

* the user-info of any ``scheme://user:password@host`` URL, even when the
  password holds the characters URL parsers split on (``#``, ``/``, ``?``, ``@``)
  or was never percent-encoded: ``ftps://desk:***@host/dir``; a lone user-info
  (``https://TOKEN@host``) could be a token and becomes ``***@``;
* the value of any secret-looking ``key=value`` (``password``, ``token``,
  ``secret``, ``api_key``, ``signature`` …), in a query string, a fragment or
  free text: ``?password=***&page=2``.

Redaction is one-way and idempotent; it never shortens the rest of the text.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://<everything up to whitespace or a double quote>; the user-info is decided below.
# A ' may sit in a password, so it does not end the URL (the user-info ends at the last @).
_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://)(?P<rest>[^\s\"<>`]+)")
# key=value pairs: a bounded key that starts a word (linear on any text), judged by its last part
_KEY_VALUE = re.compile(
    r"(?<![A-Za-z0-9_.%-])(?P<key>[A-Za-z0-9_.-]{1,64})(?P<sep>=|%3[Dd])"
    r"(?P<value>[^\s&;#'\"<>`,)]+)"
)
_SECRET_KEY = re.compile(
    r"(?:^|[_.-])(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|auth|authorization|credentials?|sig|signature|session(?:id)?|key)$",
    re.IGNORECASE,
)


def _mask_value(m: re.Match) -> str:
    if m["value"] == MASK or not _SECRET_KEY.search(m["key"]):
        return m[0]
    return f"{m['key']}{m['sep']}{MASK}"


def _userinfo(rest: str) -> str:
    """``rest`` (what follows ``scheme://``) with its user-info masked."""
    at = rest.rfind("@")
    if at <= 0:
        return rest
    info, tail = rest[:at], rest[at:]
    if ":" in info:
        user = info.split(":", 1)[0]
        if any(c in user for c in "/?#"):
            return rest  # "host/path?x=a@b": an @ in the path or query, no user-info
        return f"{user}:{MASK}{tail}"
    if any(c in info for c in "/?#"):
        return rest
    return f"{MASK}{tail}"


def redact_url(url: str) -> str:
    """A URL fit to print: user-info and secret query values masked."""
    return redact(url)


def redact(text):
    """``text`` with every URL user-info and secret ``key=value`` masked; non-strings pass through."""
    if not isinstance(text, str) or not text:
        return text
    if "://" in text:
        text = _URL.sub(lambda m: m["scheme"] + _userinfo(m["rest"]), text)
    if "=" in text or "%3D" in text or "%3d" in text:
        text = _KEY_VALUE.sub(_mask_value, text)
    return text


def redact_data(value):
    """``redact`` applied to every string in a JSON-like structure (dict keys are left alone)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value
