"""schedule_file_ingest: a drop folder (and optionally an FTP directory) feeding the pipeline.

Every regular file directly in the folder (not hidden, not a temporary
``~$``/``.part``/``.tmp`` file; never a symlink or a file with other hard links)
that has been quiet for ``automation.ingest_quiet_seconds`` (or ``min_age_s``)
and shows the same size and mtime on two looks - it may still be copying - is
copied into the data home (opened without following links) and hashed; a
SHA-256 seen before is moved to ``processed/`` without running again. New files
become uploads with the folder's department and plan and run through the
pipeline here (trigger ``ingest``); then they move to ``processed/`` or, with a
``.error.txt`` note beside them, to ``failed/`` - unless they changed meanwhile,
then they stay for the next run.
A file an earlier, killed ingest already took in is not taken in twice: its upload is adopted.

With ``ftp_url`` (``ftp[s]://user@host[:port]/dir``; the password from the URL
or ``BATCHOPS_FTP_PASSWORD``) new remote files are first downloaded into the
folder, under a free name (a local file is never overwritten); a remote file
already fetched (same name and size) is not fetched again.
``s3_url`` (``s3://bucket/prefix``, the ``[storage]`` endpoint and credentials) does
the same for stable objects of a bucket (same key, size and ETag: fetched once).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from batchops import clock, context
from batchops.automation.job_context import check_deadline, log
from batchops.clock import utc_now
from batchops.errors import BatchOpsError, InputError, JobError
from batchops.http import check_userinfo
from batchops.jobs._common import allowed_path, remember_once, seen
from batchops.redact import redact
from batchops.store import files

SKIP_PREFIXES = (".", "~$")
SKIP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".error.txt")
LOOK_GAP_S = 2.0  # the second look at the folder comes this long after the first (at most)
FTP_SCHEMES = {"ftp": 21, "ftps": 21}


def _look(folder: Path) -> dict[str, tuple[int, int]]:
    """{name: (size, mtime_ns)} of the regular files directly in ``folder`` that may be ingested.

    Symlinks are skipped (a link to /etc/passwd or to a private file is not the operator's to
    publish), and so are files with other hard links: a drop folder holds copies, not aliases.
    """
    out = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith(SKIP_PREFIXES) or name.lower().endswith(SKIP_SUFFIXES):
                continue
            try:
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_nlink > 1:
                log(f"{name}: skipped, it has {st.st_nlink} hard links (copy the file in instead)")
                continue
            out[name] = (st.st_size, st.st_mtime_ns)
    return out


def _candidates(folder: Path, quiet_s: float) -> tuple[list[tuple[Path, tuple[int, int]]], int]:
    """Files unchanged for ``quiet_s`` seconds and across two looks: (ready, number still being written).

    A writer that pauses mid-file leaves an old mtime; the second look, a moment later, catches
    one that carries on. Size and mtime must both be the same.
    """
    first = _look(folder)
    quiet_ns = int(quiet_s * 1e9)
    now_ns = time.time_ns()
    settled = {n: v for n, v in first.items() if now_ns - v[1] >= quiet_ns}
    if settled and quiet_s > 0:
        time.sleep(min(quiet_s, LOOK_GAP_S))
        second = _look(folder)
        settled = {n: v for n, v in settled.items() if second.get(n) == v}
    return [(folder / name, settled[name]) for name in sorted(settled)], len(first) - len(settled)


def _stage(path: Path, seen_as: tuple[int, int], staging: Path) -> Path | None:
    """Copy ``path`` into the data home, never through a symlink; None if it changed since the looks.

    What is processed is this copy, so a file swapped for a link after the look is not followed.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as src:
        st = os.fstat(src.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1 or (st.st_size, st.st_mtime_ns) != seen_as:
            return None
        staging.mkdir(parents=True, exist_ok=True)
        fd_out, copy = tempfile.mkstemp(prefix="ingest-", suffix=files.safe_suffix(path.name), dir=staging)
        with os.fdopen(fd_out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
    return Path(copy)


def _unchanged(path: Path, seen_as: tuple[int, int]) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and (st.st_size, st.st_mtime_ns) == seen_as


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists() or target.is_symlink():
        target = folder / f"{utc_now():%Y%m%dT%H%M%S%f}-{path.name}"
    shutil.move(str(path), str(target))
    return target


def _claim_name(folder: Path, base: str) -> Path:
    """A name in ``folder`` no file has: ``base``, else ``stem-1.ext``, ``stem-2.ext`` …"""
    stem, dot, ext = base.rpartition(".") if "." in base.strip(".") else (base, "", "")
    n = 0
    while True:
        name = base if n == 0 else f"{stem}-{n}{dot}{ext}"
        target = folder / name
        if not target.exists() and not target.is_symlink():
            return target
        n += 1


def _place(partial: str, folder: Path, base: str) -> Path:
    """Give the finished download a free name; a link never replaces a file that appeared meanwhile."""
    while True:
        target = _claim_name(folder, base)
        try:
            os.link(partial, target)
            return target
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: rename (the name was free a moment ago)
            os.rename(partial, target)
            return target


def fetch_ftp(url: str, folder: Path, timeout: float = 30.0) -> list[str]:
    """Download new files from ``ftp[s]://user@host/dir`` into ``folder``; returns the names written.

    A local file with the same name is never overwritten: the download gets a free name
    (``report-1.csv``). ``ftps`` is explicit FTP over TLS, data channel protected too.
    """
    import ftplib

    parts = urlsplit(check_userinfo(url))
    if parts.scheme not in FTP_SCHEMES or not parts.hostname:
        raise InputError(
            f"ingest FTP URL must look like ftp://user@host/dir or ftps://user@host/dir, not {url!r}",
            code="E_URL_SCHEME",
        )
    user = unquote(parts.username or "anonymous")
    password = unquote(parts.password or os.environ.get("BATCHOPS_FTP_PASSWORD", ""))
    fetched = []
    try:
        with (ftplib.FTP_TLS if parts.scheme == "ftps" else ftplib.FTP)(timeout=timeout) as ftp:
            ftp.connect(parts.hostname, parts.port or FTP_SCHEMES[parts.scheme])
            ftp.login(user, password)
            if isinstance(ftp, ftplib.FTP_TLS):  # ftps
                ftp.prot_p()
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
                fd, partial = tempfile.mkstemp(prefix=".ftp-", suffix=".part", dir=folder)
                try:
                    with os.fdopen(fd, "wb") as fh:
                        ftp.retrbinary(f"RETR {name}", fh.write)
                    target = _place(partial, folder, base)
                finally:
                    if os.path.lexists(partial):
                        os.unlink(partial)
                remember_once(key, {"at": clock.iso(utc_now())})
                fetched.append(target.name)
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


def schedule_file_ingest(
    folder: str | None = None,
    department: str | None = None,
    plan: str | None = None,
    ftp_url: str | None = None,
    min_age_s: float | None = None,
    s3_url: str | None = None,
) -> dict:
    cfg = context.config().automation
    source = folder or cfg.ingest_folder
    if not source:
        raise InputError("no drop folder: set automation.ingest_folder or pass folder", code="E_CONFIG")
    drop = allowed_path(source, "drop folder", cfg.ingest_folder) if folder else Path(source).expanduser()
    if not drop.is_dir():
        raise InputError(f"drop folder not found: {drop}", code="E_FILE_NOT_FOUND")
    department = department or cfg.ingest_department or None
    plan = plan or cfg.ingest_plan or "transform"
    summary: dict[str, Any] = {
        "folder": str(drop),
        "fetched": [],
        "published": [],
        "failed": [],
        "duplicates": [],
        "waiting": 0,
    }
    ftp_url = ftp_url if ftp_url is not None else cfg.ingest_ftp_url
    if ftp_url:
        summary["fetched"] = fetch_ftp(ftp_url, drop)
        if summary["fetched"]:
            log(f"fetched {len(summary['fetched'])} file(s) from FTP")
    quiet = cfg.ingest_quiet_seconds if min_age_s is None else min_age_s
    s3_url = s3_url if s3_url is not None else cfg.ingest_s3_url
    if s3_url:
        from_s3 = fetch_s3(s3_url, drop, quiet)
        summary["fetched"] += from_s3
        if from_s3:
            log(f"fetched {len(from_s3)} file(s) from {redact(s3_url)}")
    candidates, summary["waiting"] = _candidates(drop, quiet)
    staging = context.home() / "tmp" / "ingest"
    for path, seen_as in candidates:
        check_deadline()
        staged = _stage(path, seen_as, staging)
        if staged is None:
            summary["waiting"] += 1
            continue
        try:
            _ingest_one(path, staged, seen_as, drop, department, plan, summary)
        finally:
            staged.unlink(missing_ok=True)
    if summary["waiting"]:
        log(f"{summary['waiting']} file(s) still being written; next run")
    log(
        f"{len(summary['published'])} published, {len(summary['failed'])} failed, "
        f"{len(summary['duplicates'])} duplicate(s)"
    )
    return summary


def take_in(staged: Path, earlier, name: str, department, plan, notes: str = "") -> dict:
    """The upload of the bytes in ``staged``: ``earlier`` (the one a run killed before it could
    remember taking them in made, from ``uploads.ingested_before``), else a new pipeline run."""
    from batchops.services import processing

    if earlier is not None:
        return {
            "status": earlier.status,
            "upload_id": earlier.id,
            "rows_out": earlier.rows_out,
            "error": {"code": earlier.error_code, "message": earlier.error_message},
        }
    try:
        return processing.process_file(
            staged, department=department, plan=plan, trigger="ingest", original_name=name, notes=notes
        )
    except BatchOpsError as exc:
        return {"status": "failed", "upload_id": None, "error": exc.to_dict()}


def _ingest_one(
    path: Path, staged: Path, seen_as: tuple[int, int], drop: Path, department, plan, summary: dict
) -> None:
    from batchops.services import uploads

    sha = files.sha256_file(staged)
    key = f"ingest:seen:{sha}"
    if seen(key):
        if _unchanged(path, seen_as):
            done = _move(path, drop / "processed")
            summary["duplicates"].append(path.name)
            log(f"{path.name}: seen before (sha256 {sha[:12]}), moved to {done.parent.name}/ without processing")
        return
    earlier = uploads.ingested_before(sha, path.name)
    if earlier is not None and earlier.status not in ("published", "failed"):
        summary["waiting"] += 1
        log(f"{path.name}: taken in already as upload {earlier.id}, still {earlier.status}; next run")
        return
    result = take_in(staged, earlier, path.name, department, plan)
    remember_once(key, {"file": path.name, "upload_id": result.get("upload_id"), "at": clock.iso(utc_now())})
    # A file written to while it was processed is left where it is: its new content is new work.
    where = "processed" if result["status"] == "published" else "failed"
    moved = _move(path, drop / where) if _unchanged(path, seen_as) else None
    if result["status"] == "published":
        summary["published"].append(
            {"file": path.name, "upload_id": result["upload_id"], "rows": result.get("rows_out")}
        )
        log(f"{path.name}: published as upload {result['upload_id']} ({result.get('rows_out')} rows)")
    else:
        error = result.get("error") or {}
        if moved is not None:
            files.atomic_write_text(
                moved.with_name(moved.name + ".error.txt"),
                f"{error.get('code')}: {error.get('message')}\n"
                f"upload {result.get('upload_id')}, {clock.fmt(utc_now())}\n",
            )
        summary["failed"].append({"file": path.name, "upload_id": result.get("upload_id"), "error": error})
        log(f"{path.name}: failed {error.get('code')}: {error.get('message')}")
    if moved is None:
        log(f"{path.name}: changed while it was processed; left in place for the next run")
