"""Files in the data home: the content-addressed originals and atomic writes.

Original file names are kept as data, never used as paths: blobs are named by
their SHA-256, exports by a sanitised stem inside ``exports/<upload_id>/``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from batchops.errors import InputError
from batchops.fsutil import atomic_path, atomic_write_bytes, safe_stem, umask_mode  # noqa: F401 - shared with the pipeline

CHUNK = 1024 * 1024


def safe_join(root: Path, *parts: str) -> Path:
    """root/parts, refusing anything that would land outside root."""
    root = Path(root).resolve()
    target = root.joinpath(*parts).resolve()
    if target != root and root not in target.parents:
        raise InputError(f"path escapes the data home: {'/'.join(parts)}", code="E_PATH_ESCAPE")
    return target


def safe_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""


def atomic_write_text(final: Path, text: str) -> Path:
    return atomic_write_bytes(final, text.encode("utf-8"))


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def store_original(home: Path, source: Path, original_name: str, max_bytes: int | None = None) -> tuple[str, str, int]:
    """Copy ``source`` into files/ab/<sha256><ext>; returns (sha256, path relative to home, size).

    The kernel copies the file (``shutil.copyfile``: copy_file_range/sendfile, no
    trip through Python buffers), then the copy itself is hashed, so the name always
    describes exactly the bytes stored even if the source changes meanwhile. For a
    46 MB file: ~50 ms against ~135 ms for the read/hash/write loop. Identical
    content is stored once.

    A source larger than ``max_bytes`` is stored only up to ``max_bytes + 1`` bytes:
    enough for the pipeline to refuse it (E_FILE_TOO_LARGE) and to tell its format,
    without copying a 50 GB mistake into the data home.
    """
    files = Path(home) / "files"
    files.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".incoming.", dir=files)
    os.close(fd)
    try:
        if max_bytes is not None and os.stat(source).st_size > max_bytes:
            with open(source, "rb") as src, open(tmp, "wb") as dst:
                left = max_bytes + 1
                while left and (chunk := src.read(min(CHUNK, left))):
                    dst.write(chunk)
                    left -= len(chunk)
        else:
            shutil.copyfile(source, tmp)
        with open(tmp, "rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
            size = os.fstat(fh.fileno()).st_size
        rel = f"files/{sha[:2]}/{sha}{safe_suffix(original_name)}"
        final = Path(home) / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            os.unlink(tmp)
        else:
            os.replace(tmp, final)
        return sha, rel, size
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
