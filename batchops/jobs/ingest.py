"""schedule_file_ingest: a drop folder (and optionally an FTP directory) feeding the pipeline.

Every regular file in the folder (not hidden, not a temporary ``~$``/``.part``/
``.tmp`` file, not modified in the last ``min_age_s`` seconds - it may still be
copying) is hashed; a SHA-256 seen before is moved to ``processed/`` without
running again. New files become uploads with the folder's department and plan
and run through the pipeline here (trigger ``ingest``); then they move to
``processed/`` or, with a ``.error.txt`` note beside them, to ``failed/``. A file an
earlier, killed ingest already took in is not taken in twice: its upload is adopted.

With ``ftp_url`` (``ftp://user@host[:port]/dir``; the password from the URL or
``BATCHOPS_FTP_PASSWORD``) new remote files are first downloaded into the
folder; a remote file already fetched (same name and size) is not fetched again.
``s3_url`` (``s3://bucket/prefix``, the ``[storage]`` endpoint and credentials) does
the same for stable objects of a bucket (same key, size and ETag: fetched once).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from batchops import clock
from batchops.jobs._common import remember_once, seen
from batchops.automation.job_context import check_deadline, log
from batchops.clock import utc_now
from batchops.errors import BatchOpsError, InputError, JobError
from batchops import context
from batchops.store import files

SKIP_PREFIXES = (".", "~$")
SKIP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".error.txt")


def _candidates(folder: Path, min_age_s: float) -> tuple[list[Path], int]:
    now = time.time()
    out, young = [], 0
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(SKIP_PREFIXES) or path.name.lower().endswith(SKIP_SUFFIXES):
            continue
        if now - path.stat().st_mtime < min_age_s:
            young += 1
            continue
        out.append(path)
    return out, young


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{utc_now():%Y%m%dT%H%M%S}-{path.name}"
    shutil.move(str(path), str(target))
    return target


def fetch_ftp(url: str, folder: Path, timeout: float = 30.0) -> list[str]:
    """Download new files from ``ftp://user@host/dir`` into ``folder``; returns their names."""
    import ftplib

    parts = urlsplit(url)
    if parts.scheme != "ftp" or not parts.hostname:
        raise InputError(f"ingest FTP URL must look like ftp://user@host/dir, not {url!r}", code="E_URL_SCHEME")
    user = unquote(parts.username or "anonymous")
    password = unquote(parts.password or os.environ.get("BATCHOPS_FTP_PASSWORD", ""))
    fetched = []
    try:
        with ftplib.FTP(timeout=timeout) as ftp:
            ftp.connect(parts.hostname, parts.port or 21)
            ftp.login(user, password)
            if parts.path and parts.path != "/":
                ftp.cwd(unquote(parts.path))
            for name in ftp.nlst():
                base = Path(name).name
                if not base or base.startswith(SKIP_PREFIXES) or base.lower().endswith(SKIP_SUFFIXES):
                    continue
                try:
                    size = ftp.size(name)
                except ftplib.error_perm:
                    continue  # a directory
                key = f"ingest:ftp:{parts.hostname}:{parts.path}:{base}:{size}"
                if seen(key):
                    continue
                check_deadline()
                partial = folder / f".{base}.part"
                with open(partial, "wb") as fh:
                    ftp.retrbinary(f"RETR {name}", fh.write)
                os.replace(partial, folder / base)
                remember_once(key, {"at": clock.iso(utc_now())})
                fetched.append(base)
    except ftplib.all_errors as exc:
        raise JobError(f"FTP {parts.hostname}: connection failed or refused: {exc}", code="E_FETCH_FAILED") from None
    return fetched


def fetch_s3(url: str, folder: Path, min_age_s: float) -> list[str]:
    """Download new objects directly under ``s3://bucket/prefix`` into ``folder``; returns their names.

    The ``[storage]`` endpoint and credentials are used. Stable objects only (last modified at least
    ``min_age_s`` ago: one being replaced waits); each (key, size, ETag) once. The copy keeps the
    object's time, so the folder's own age rule lets it through at once.
    """
    from batchops.store.objects import S3Objects

    source = S3Objects(url, context.config().storage, folder, setting="automation.ingest_s3_url")
    now, fetched = time.time(), []
    for info in source.list(""):
        name = info.key
        if "/" in name or name.startswith(SKIP_PREFIXES) or name.lower().endswith(SKIP_SUFFIXES):
            continue  # "subfolders" and temporary names, as in the drop folder
        ident = f"{source.bucket}\0{source.prefix}\0{name}\0{info.size}\0{info.etag}"
        key = "ingest:s3:" + hashlib.sha256(ident.encode("utf-8")).hexdigest()  # fits AppState's 128 chars
        if now - info.mtime < min_age_s or seen(key):
            continue
        check_deadline()
        target = source.download(name, folder / name)
        os.utime(target, (info.mtime, info.mtime))
        remember_once(key, {"at": clock.iso(utc_now())})
        fetched.append(name)
    return fetched


def schedule_file_ingest(folder: str | None = None, department: str | None = None, plan: str | None = None,
                         ftp_url: str | None = None, min_age_s: float = 2.0, s3_url: str | None = None) -> dict:
    from batchops.services import processing, uploads

    cfg = context.config().automation
    source = folder or cfg.ingest_folder
    if not source:
        raise InputError("no drop folder: set automation.ingest_folder or pass folder", code="E_CONFIG")
    drop = Path(source).expanduser()
    if not drop.is_dir():
        raise InputError(f"drop folder not found: {drop}", code="E_FILE_NOT_FOUND")
    department = department or cfg.ingest_department or None
    plan = plan or cfg.ingest_plan or "transform"
    summary: dict[str, Any] = {"folder": str(drop), "fetched": [], "published": [], "failed": [], "duplicates": [], "waiting": 0}
    ftp_url = ftp_url if ftp_url is not None else cfg.ingest_ftp_url
    if ftp_url:
        summary["fetched"] = fetch_ftp(ftp_url, drop)
        if summary["fetched"]:
            log(f"fetched {len(summary['fetched'])} file(s) from FTP")
    s3_url = s3_url if s3_url is not None else cfg.ingest_s3_url
    if s3_url:
        from_s3 = fetch_s3(s3_url, drop, min_age_s)
        summary["fetched"] += from_s3
        if from_s3:
            log(f"fetched {len(from_s3)} file(s) from {s3_url}")
    candidates, summary["waiting"] = _candidates(drop, min_age_s)
    for path in candidates:
        check_deadline()
        sha = files.sha256_file(path)
        key = f"ingest:seen:{sha}"
        if seen(key):
            moved = _move(path, drop / "processed")
            summary["duplicates"].append(path.name)
            log(f"{path.name}: seen before (sha256 {sha[:12]}), moved to {moved.parent.name}/ without processing")
            continue
        earlier = uploads.ingested_before(sha, path.name)
        if earlier is not None and earlier.status not in ("published", "failed"):
            summary["waiting"] += 1
            log(f"{path.name}: taken in already as upload {earlier.id}, still {earlier.status}; next run")
            continue
        if earlier is not None:  # an ingest killed before it could remember this file
            result = {"status": earlier.status, "upload_id": earlier.id, "rows_out": earlier.rows_out,
                      "error": {"code": earlier.error_code, "message": earlier.error_message}}
        else:
            try:
                result = processing.process_file(path, department=department, plan=plan, trigger="ingest",
                                                 original_name=path.name)
            except BatchOpsError as exc:
                result = {"status": "failed", "upload_id": None, "error": exc.to_dict()}
        remember_once(key, {"file": path.name, "upload_id": result.get("upload_id"), "at": clock.iso(utc_now())})
        if result["status"] == "published":
            _move(path, drop / "processed")
            summary["published"].append({"file": path.name, "upload_id": result["upload_id"],
                                         "rows": result.get("rows_out")})
            log(f"{path.name}: published as upload {result['upload_id']} ({result.get('rows_out')} rows)")
        else:
            moved = _move(path, drop / "failed")
            error = result.get("error") or {}
            files.atomic_write_text(moved.with_name(moved.name + ".error.txt"),
                                    f"{error.get('code')}: {error.get('message')}\n"
                                    f"upload {result.get('upload_id')}, {clock.fmt(utc_now())}\n")
            summary["failed"].append({"file": path.name, "upload_id": result.get("upload_id"), "error": error})
            log(f"{path.name}: failed {error.get('code')}: {error.get('message')}")
    if summary["waiting"]:
        log(f"{summary['waiting']} file(s) still being written; next run")
    log(f"{len(summary['published'])} published, {len(summary['failed'])} failed, "
        f"{len(summary['duplicates'])} duplicate(s)")
    return summary
