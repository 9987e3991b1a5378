"""Text fit for a terminal: control characters shown, never obeyed.

File names, column headers and error messages come from uploaded files; an
ESC sequence in one would move the cursor, retitle the window or hide lines
when printed raw. Every piece of human output (CLI tables, records, messages;
TUI cells) goes through ``safe_text``: C0/C1 controls (but tab and newline) and
the bidi overrides that reorder what a line appears to say become visible
escapes such as ``\\x1b``. JSON output needs nothing: ``json`` escapes controls.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _show(m: re.Match) -> str:
    code = ord(m[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str, newlines: bool = True) -> str:
    """``text`` with every control character escaped (newlines kept unless ``newlines`` is False)."""
    if not isinstance(text, str):
        text = str(text)
    text = _UNSAFE.sub(_show, text)
    return text if newlines else text.replace("\n", "\\n")
