"""Lay out a one-shot command's PDF reports in a second process, made ready while the run works.

``batchops process`` on a small file spent ~0.4 s of its ~1.1 s importing fpdf2 (fontTools, PIL,
cryptography) and parsing the two report fonts: work that does not depend on the file. On a
machine with a second core, a helper forked at start-up does it while this process imports pandas,
opens the store and reads the file; the run then hands over the report's text and gets the PDF back.

The helper runs ``report_pdf.lay_out`` on that text (it never imports pandas), so the bytes are the
ones this process would make. When there is no helper (no fork, one core, threads already running,
a big input) or it fails in any way, the caller lays the PDF out itself, and a real error is raised
there, with its traceback under --debug. Only the program's entry point starts it
(``cli.main.main``): the worker and tests never fork.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import threading
from typing import Any

_LENGTH = struct.Struct("<Q")
HELPER_MAX_INPUT = 16 * 1024 * 1024  # a run holds ~7x its input: here the helper adds under a third


class _Helper:
    def __init__(self, pid: int, requests, replies) -> None:
        self.pid, self.requests, self.replies = pid, requests, replies


_helper: _Helper | None = None


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def start(inputs: list[str]) -> bool:
    """Fork the helper; False (and nothing started) where it would not pay or is not safe.

    Linux only (fork after start-up is safe there; macOS frameworks are not), from a process that
    has one thread (a fork copies locks held by others), with a second core to run on, and for
    ``inputs`` (the command's words; those naming files count) under ``HELPER_MAX_INPUT`` bytes in
    all: the helper holds ~70 MB (fpdf2 imports numpy, fontTools, PIL and cryptography), which a
    small run does not notice and a district-sized file should not pay on top of its frames.
    """
    global _helper
    if _helper is not None or sys.platform != "linux" or threading.active_count() > 1 or _usable_cores() < 2:
        return False
    if _input_bytes(inputs) >= HELPER_MAX_INPUT:
        return False
    fds: list[int] = []
    try:
        fds += os.pipe()
        fds += os.pipe()
        pid = os.fork()
    except OSError:  # out of descriptors, or the OS refused a process (EAGAIN under load): no helper
        for fd in fds:
            os.close(fd)
        return False
    req_r, req_w, rep_r, rep_w = fds
    if pid == 0:  # the helper: never returns
        os.close(req_w)
        os.close(rep_r)
        _serve(req_r, rep_w)
    os.close(req_r)
    os.close(rep_w)
    _helper = _Helper(pid, os.fdopen(req_w, "wb"), os.fdopen(rep_r, "rb"))
    return True


def _input_bytes(words: list[str]) -> int:
    total = 0
    for word in words:
        try:
            total += os.stat(word).st_size
        except (OSError, ValueError):  # an option, a value, a file that is not there (the run says so)
            pass
    return total


def render(doc, missing: list[str]) -> bytes | None:
    """The helper's PDF of ``doc`` (a ``report_pdf.ReportText``; characters it could not draw are
    added to ``missing``), or None: then the caller lays it out."""
    helper = _helper
    if helper is None:
        return None
    try:
        _send(helper.requests, doc)
        reply = _receive(helper.replies)
    except (OSError, EOFError, pickle.PickleError, AttributeError, TypeError):
        reply = None  # text that does not pickle, or a helper that died: lay it out here
    if reply is None or reply[0] != "ok":
        stop()
        return None
    missing.extend(reply[2])
    return reply[1]


def stop() -> None:
    """End the helper, whatever it is doing (nothing of it outlives the command)."""
    global _helper
    helper, _helper = _helper, None
    if helper is None:
        return
    for stream in (helper.requests, helper.replies):
        try:
            stream.close()
        except OSError:
            pass
    try:
        os.kill(helper.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(helper.pid, 0)


def _serve(requests_fd: int, replies_fd: int) -> None:
    """The helper's life: warm up, then one PDF per report text until the parent closes the pipe."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; EOF ends us
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # nothing of ours reaches the operator: a failure is re-run in the parent
        os.dup2(devnull, 2)
        from batchops.pipeline import report_pdf

        report_pdf.warm_up()
        with os.fdopen(requests_fd, "rb") as requests, os.fdopen(replies_fd, "wb") as replies:
            while True:
                try:
                    doc = _receive(requests)
                except EOFError:
                    break
                missing: list[str] = []
                try:
                    reply: tuple[str, Any, Any] = ("ok", report_pdf.lay_out(doc, missing), missing)
                except Exception:
                    reply = ("failed", None, None)
                _send(replies, reply)
    except BaseException:
        code = 1
    finally:
        os._exit(code)  # no atexit, no buffers of the parent flushed twice


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream):
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)
