"""Result files linked from a scraped page: downloaded once each and taken in like a drop-folder file.

``run_web_scrape(download="*.csv,*.xlsx")``: every link on the page whose file name (the URL path's
last part, decoded, any case) matches one of the comma-separated globs *and* ends in a result-file
type the pipeline reads (.csv, .xlsx, .xlsm, .xlsb, .xls, .ods, .pdf) is fetched with the page's
rules - http(s) only, private addresses refused after DNS and after every redirect (unless
``automation.scrape_allow_hosts`` names them), one deadline per request (``automation.scrape_timeout``)
and a size cap (``automation.scrape_download_max_bytes``). Globs, not regular expressions: a pattern
lives in a job's arguments, which anyone who may edit jobs can write, and the stdlib ``re`` has no
time limit.

**Once each.** For every link the job remembers the URL with the SHA-256 of what it last held (and
the server's ETag/Last-Modified, so an unchanged file is not even sent again: a conditional GET gets
``304``). The same bytes at the same URL are never taken in twice; *a changed file at the same URL is
a new upload* - a school that corrects its results sheet and re-posts it under the same link wants the
corrected one published, not silently ignored. Bytes taken in before from anywhere (the drop folder,
another link) are not taken in again either: the drop folder's "each file once" memory is shared.

**Taken in like a drop-folder file.** The download is saved through the object storage interface
under the page's ``scrapes/<host>-<hash>/files/`` (named ``<sha12>-<name from the URL>``, sanitised:
no folders, no dots first, so it cannot leave the data home), then becomes an upload (trigger
``ingest``, the job's department and plan, the URL in its notes) and runs through the pipeline here;
a file the pipeline refuses is a failed upload with its incident, exactly as from the drop folder.
A download that fails (refused, too large, network) is not remembered: it is tried again next run,
and the run fails with its code once every other link is done.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from batchops import clock, context
from batchops.automation.job_context import check_deadline, log
from batchops.clock import utc_now
from batchops.errors import BatchOpsError, InputError
from batchops.fsutil import safe_stem
from batchops.jobs._common import recall, remember, remember_once, seen
from batchops.jobs.ingest import take_in
from batchops.redact import redact
from batchops.store import files
from batchops.store.objects import objects

RESULT_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".pdf")
ACCEPT = (
    "text/csv,application/pdf,application/vnd.ms-excel,application/vnd.openxmlformats-officedocument"
    ".spreadsheetml.sheet,application/vnd.oasis.opendocument.spreadsheet,*/*;q=0.5"
)


def parse_patterns(download: str | list[str] | None) -> list[str]:
    """``"*.csv, *.xlsx"`` or ``["*.csv", "*.xlsx"]`` -> lower-case globs; E_JOB_ARGS_INVALID for anything else."""
    if download is None or download == "":
        return []
    items = download.split(",") if isinstance(download, str) else download
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InputError(f'download must be globs such as "*.csv,*.xlsx", not {download!r}', code="E_JOB_ARGS_INVALID")
    return [i.strip().lower() for i in items if i.strip()]


def file_name(url: str) -> str:
    """The saved name: the URL path's last part, decoded and sanitised (``../../x.csv`` -> ``x.csv``)."""
    last = unquote(urlsplit(url).path).replace("\\", "/").rsplit("/", 1)[-1]
    return safe_stem(last) + files.safe_suffix(last)


def result_links(links: list[tuple[str, str]], base_url: str, patterns: list[str]) -> list[str]:
    """Absolute http(s) URLs of the page's links whose file name matches a pattern and is a result file."""
    out: list[str] = []
    for _text, href in links:
        if not href or href.startswith(("#", "javascript:", "mailto:", "data:")):
            continue
        url = urljoin(base_url, href).split("#", 1)[0]
        last = unquote(urlsplit(url).path).rsplit("/", 1)[-1].lower()
        if not any(fnmatchcase(last, p) for p in patterns) or not last.endswith(RESULT_SUFFIXES):
            continue
        if url not in out:
            out.append(url)
    return out


def _memory_key(url: str) -> str:
    return "scrape:url:" + hashlib.sha256(url.encode("utf-8")).hexdigest()  # fits AppState's 128 chars


def _download(url: str, before: dict | None, staging: Path) -> tuple[Path, dict] | None:
    """The file at ``url`` in a temp file under ``staging`` with its validators; None: unchanged (304)."""
    from batchops.jobs.scrape import get, page_allow_list

    cfg = context.config().automation
    conditional = {}
    if before and before.get("etag"):
        conditional["If-None-Match"] = before["etag"]
    if before and before.get("last_modified"):
        conditional["If-Modified-Since"] = before["last_modified"]
    staging.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="scrape-", suffix=".part", dir=staging)
    try:
        with os.fdopen(fd, "wb") as fh:
            answer = get(
                url,
                cfg.scrape_timeout,
                cfg.scrape_download_max_bytes,
                page_allow_list(),
                fh.write,
                accept=ACCEPT,
                headers=conditional,
                setting="automation.scrape_download_max_bytes",
            )
    except BaseException:
        os.unlink(tmp)
        raise
    if answer is None:
        os.unlink(tmp)
        return None
    _final, headers = answer
    return Path(tmp), {"etag": headers.get("ETag") or "", "last_modified": headers.get("Last-Modified") or ""}


# what happened to each linked file, in the order the run's summary counts them
OUTCOMES = ("published", "failed", "unchanged", "duplicates", "waiting", "errors")


def take_files(
    links: list[tuple[str, str]], base_url: str, folder: str, patterns: list[str], department: str | None, plan: str
) -> tuple[dict[str, Any], list[BatchOpsError]]:
    """Download and take in the page's new result files: (what happened to each, by outcome; download errors).

    ``folder`` is the page's storage prefix (``scrapes/<host>-<hash>``). Download failures are
    returned (the caller fails the run with them once every page is done), never raised.
    """
    out: dict[str, Any] = {k: [] for k in OUTCOMES}
    errors: list[BatchOpsError] = []
    staging = context.home() / "tmp" / "scrape"
    wanted = result_links(links, base_url, patterns)
    log(f"{redact(base_url)}: {len(wanted)} result file link(s) match {', '.join(patterns)}")
    for url in wanted:
        check_deadline()
        key = _memory_key(url)
        before = recall(key)
        try:
            fetched = _download(url, before, staging)
        except BatchOpsError as exc:
            errors.append(exc)
            out["errors"].append({"url": redact(url), "error": exc.to_dict()})
            log(f"  {redact(url)}: {exc.code}: {exc.message}")
            continue
        if fetched is None:
            out["unchanged"].append(redact(url))
            continue
        tmp, validators = fetched
        try:
            _one(url, tmp, validators, before, key, folder, department, plan, out)
        finally:
            tmp.unlink(missing_ok=True)
    return out, errors


def _one(
    url: str, tmp: Path, validators: dict, before: dict | None, key: str, folder: str, department, plan, out: dict
) -> None:
    sha = files.sha256_file(tmp)
    name = file_name(url)
    memory = {"url": redact(url), "sha256": sha, **validators, "at": clock.iso(utc_now())}
    if before and before.get("sha256") == sha:
        remember(key, {**before, **memory})
        out["unchanged"].append(redact(url))
        return
    content_key = f"ingest:seen:{sha}"  # the drop folder's memory: these bytes were taken in before
    if seen(content_key):
        remember(key, memory)
        out["duplicates"].append(redact(url))
        log(f"  {name}: taken in before (sha256 {sha[:12]}), not again")
        return
    from batchops.services import uploads

    objects().put_file(f"{folder}/files/{sha[:12]}-{name}", tmp)
    earlier = uploads.ingested_before(sha, name)
    result = take_in(tmp, earlier, name, department, plan, notes=f"downloaded from {redact(url)}")
    if result["status"] not in ("published", "failed"):  # an earlier run's upload, still being processed
        out["waiting"].append(redact(url))
        log(f"  {name}: taken in already as upload {result['upload_id']}, still {result['status']}; next run")
        return
    remember_once(
        content_key,
        {"file": name, "url": redact(url), "upload_id": result.get("upload_id"), "at": clock.iso(utc_now())},
    )
    remember(key, {**memory, "upload_id": result.get("upload_id")})
    item = {"file": name, "url": redact(url), "upload_id": result.get("upload_id")}
    if result["status"] == "published":
        out["published"].append({**item, "rows": result.get("rows_out")})
        log(f"  {name}: published as upload {result['upload_id']} ({result.get('rows_out')} rows)")
    else:
        error = result.get("error") or {}
        out["failed"].append({**item, "error": error})
        log(f"  {name}: failed {error.get('code')}: {error.get('message')}")
