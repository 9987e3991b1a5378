"""File names and atomic writes: standard library only, so the pure pipeline and the store share them.

* ``safe_stem(name)`` - a file-name stem that cannot leave its folder.
* ``atomic_path(final)`` - a temp path beside ``final``, renamed over it only if the block succeeds.
* ``atomic_write_bytes(final, data)`` - write, fsync (unless told not to), rename.
* ``private_file(path)`` / ``private_dir(path)`` - owner-only (0600 / 0700), created or tightened.
* ``umask_mode()`` - the mode a plain new file gets (files handed to people follow the umask).

Temp files are created 0600 (``mkstemp``) and keep that mode unless ``mode`` says otherwise:
everything in the data home holds student data.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path


def safe_stem(original_name: str, limit: int = 80) -> str:
    """A file-name stem that cannot leave its folder: no separators, controls or dots first."""
    base = re.split(r"[\\/]", original_name or "")[-1]
    base = unicodedata.normalize("NFKC", base)
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    stem = "".join(ch if (ch.isalnum() or ch in "-_ .") else "_" for ch in stem)
    stem = re.sub(r"[\s_]+", "_", stem).strip("._- ")
    return stem[:limit].rstrip("._- ") or "report"


def umask_mode() -> int:
    """0o666 less the process umask: what ``open(..., "w")`` would give a new file."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def private_dir(path: Path) -> Path:
    """Create ``path`` (0700) or take group and other access away from it."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        _tighten(path, 0o700)
    return path


def _tighten(path: Path, mode: int) -> None:
    """chmod what we own; a folder someone else owns and lets us write (an admin's shared home) stays theirs."""
    try:
        os.chmod(path, mode)
    except PermissionError:
        if os.stat(path).st_uid == os.geteuid():
            raise


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600, or make an existing one 0600 (SQLite's -wal/-shm follow it)."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600))
    except FileExistsError:  # never opened for writing: a read-only mount must still work
        if os.stat(path).st_mode & 0o077:
            _tighten(path, 0o600)
    return path


@contextmanager
def atomic_path(final: Path, mode: int | None = None):
    """Yield a temp path beside ``final``; rename over it only if the block succeeds.

    The file keeps ``mkstemp``'s 0600 unless ``mode`` is given (e.g. ``umask_mode()``).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if mode is not None:
            os.chmod(tmp_path, mode)
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(final: Path, data: bytes, fsync: bool = True, mode: int | None = None) -> Path:
    """Write ``data`` to ``final`` atomically; ``fsync`` flushes it to disk before the rename."""
    with atomic_path(final, mode) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
    return Path(final)
