"""File names and atomic writes: standard library only, so the pure pipeline and the store share them.

* ``safe_stem(name)`` - a file-name stem that cannot leave its folder.
* ``atomic_path(final)`` - a temp path beside ``final``, renamed over it only if the block succeeds.
* ``atomic_write_bytes(final, data)`` - write, fsync (unless told not to), rename.
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


@contextmanager
def atomic_path(final: Path):
    """Yield a temp path beside ``final``; rename over it only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(final: Path, data: bytes, fsync: bool = True) -> Path:
    """Write ``data`` to ``final`` atomically; ``fsync`` flushes it to disk before the rename."""
    with atomic_path(final) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
    return Path(final)
