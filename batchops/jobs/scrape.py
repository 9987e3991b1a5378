"""run_web_scrape: fetch notice pages, extract the notices, report what changed.

Only ``http``/``https`` URLs are fetched (``file:``, ``ftp:`` … are refused with
``E_URL_SCHEME``, redirects included), never a private, loopback or link-local
address unless ``automation.scrape_allow_hosts`` names it (``E_URL_FORBIDDEN``,
checked after DNS and after every redirect), with one deadline per page and a size cap
(``automation.scrape_timeout``, ``automation.scrape_max_bytes``). A notice is a
link (``<a href>``) whose text or target mentions one of the keywords. Each
page's notices are stored as ``scrapes/<host>-<hash>/latest.json`` (plus a
timestamped copy) and compared with the previous snapshot: the result lists
what is new and what disappeared. Any failed page fails the run
(``E_FETCH_FAILED`` for network trouble) after every other page is done.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from batchops import clock, context
from batchops.automation.job_context import check_deadline, log
from batchops.clock import utc_now
from batchops.errors import BatchOpsError, InputError, JobError, StorageError
from batchops.http import HostAllowList, check_url, open_url
from batchops.redact import redact
from batchops.store.objects import objects

KEEP_SNAPSHOTS = 30


class NoticeParser(HTMLParser):
    """Collects (text, href) for every link, and the page title."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.title = ""
        self._href: str | None = None
        self._text: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((" ".join("".join(self._text).split()), self._href))
            self._href = None
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)
        if self._in_title:
            self.title += data


def get(
    url: str,
    timeout: float,
    max_bytes: int,
    allow: HostAllowList | None,
    write,
    *,
    accept: str = "text/html,*/*;q=0.5",
    headers: dict | None = None,
    setting: str = "automation.scrape_max_bytes",
):
    """GET ``url``, handing the body to ``write`` in chunks; (final URL, response headers), or None for 304.

    ``timeout`` is one deadline for the whole request (redirects, headers, body); private targets
    are refused unless ``allow`` names them; more than ``max_bytes`` is E_SCRAPE_TOO_LARGE, named by
    ``setting``. E_URL_SCHEME / E_URL_FORBIDDEN / E_FETCH_FAILED as for a page.
    """
    check_url(url)
    request = urllib.request.Request(
        url, headers={"User-Agent": "BatchOps notice scraper", "Accept": accept, **(headers or {})}
    )
    try:
        with open_url(request, timeout, allow) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise JobError(
                    f"{url} is {int(length):,} bytes, over {setting} ({max_bytes:,})", code="E_SCRAPE_TOO_LARGE"
                )
            size = 0
            while size <= max_bytes:
                chunk = response.read1(min(65536, max_bytes + 1 - size))
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise JobError(f"{url} is larger than {setting} ({max_bytes:,} bytes)", code="E_SCRAPE_TOO_LARGE")
                write(chunk)
            return response.geturl(), response.headers
    except BatchOpsError:
        raise
    except urllib.error.HTTPError as exc:
        if exc.code == 304 and headers:  # a conditional request: nothing changed since we last looked
            return None
        raise JobError(f"{url} answered HTTP {exc.code} {exc.reason}", code="E_FETCH_FAILED") from None
    except urllib.error.URLError as exc:
        raise JobError(f"cannot fetch {url}: connection failed ({exc.reason})", code="E_FETCH_FAILED") from None
    except (TimeoutError, OSError) as exc:
        text = "timed out" if isinstance(exc, TimeoutError) else f"connection error ({exc})"
        raise JobError(f"cannot fetch {url}: {text}", code="E_FETCH_FAILED") from None


def page_allow_list() -> HostAllowList:
    return HostAllowList(context.config().automation.scrape_allow_hosts)


def fetch(url: str, timeout: float, max_bytes: int, allow: HostAllowList | None = None) -> tuple[str, str]:
    """(final URL, decoded text) of a page; errors as ``get``.

    Private targets are refused unless ``allow`` (default automation.scrape_allow_hosts) names them.
    """
    chunks: list[bytes] = []
    final, headers = get(url, timeout, max_bytes, allow if allow is not None else page_allow_list(), chunks.append)
    data = b"".join(chunks)
    charset = headers.get_content_charset() or "utf-8"
    try:
        text = data.decode(charset, errors="replace")
    except LookupError:
        text = data.decode("utf-8", errors="replace")
    return final, text


def parse_page(html: str) -> NoticeParser:
    parser = NoticeParser()
    parser.feed(html)
    parser.close()
    return parser


def extract_notices(parser: NoticeParser, base_url: str, keywords: list[str]) -> tuple[str, list[dict]]:
    words = [k.lower() for k in keywords if k.strip()]
    seen = set()
    notices = []
    for text, href in parser.links:
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        link = urljoin(base_url, href)
        haystack = f"{text} {href}".lower()
        if words and not any(w in haystack for w in words):
            continue
        key = (text, link)
        if key in seen:
            continue
        seen.add(key)
        notices.append({"title": text or link, "url": link})
    return " ".join(parser.title.split()), notices


def _snapshot_prefix(url: str) -> str:
    parts = urlsplit(url)
    host = re.sub(r"[^A-Za-z0-9.-]+", "_", parts.hostname or "host")
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    return f"scrapes/{host}-{digest}"


def _previous(store, key: str) -> dict | None:
    try:
        return json.loads(store.get_bytes(key).decode("utf-8"))
    except StorageError as exc:
        if exc.code == "E_OBJECT_MISSING":
            return None
        raise
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _compare(previous: list[dict], current: list[dict]) -> tuple[list[dict], list[dict]]:
    def key(n):
        return (n["title"], n["url"])

    before = {key(n) for n in previous}
    after = {key(n) for n in current}
    return [n for n in current if key(n) not in before], [n for n in previous if key(n) not in after]


def scrape_one(
    url: str,
    keywords: list[str],
    timeout: float,
    max_bytes: int,
    download: tuple[list[str], str | None, str] | None = None,
) -> tuple[dict, list[BatchOpsError]]:
    """The page's notices compared with its last snapshot; with ``download`` (patterns, department,
    plan), its result files taken in too. Returns (result, download errors)."""
    final, html = fetch(url, timeout, max_bytes)
    page = parse_page(html)
    title, notices = extract_notices(page, final, keywords)
    store, folder = objects(), _snapshot_prefix(url)
    latest = f"{folder}/latest.json"
    previous = _previous(store, latest)
    new, removed = _compare(previous["notices"] if previous else [], notices)
    now = utc_now()
    snapshot = {
        "url": redact(url),
        "final_url": redact(final),
        "title": title,
        "fetched_at": clock.iso(now),
        "keywords": keywords,
        "notices": notices,
    }
    text = json.dumps(snapshot, indent=2, ensure_ascii=False).encode("utf-8")
    store.put_bytes(f"{folder}/{now:%Y%m%dT%H%M%SZ}.json", text)
    store.put_bytes(latest, text)
    # the timestamped snapshots directly in the folder (files/ beside them holds downloads, never rotated here)
    dated = [i.key for i in store.list(folder) if re.fullmatch(r"\d{8}T\d{6}Z\.json", i.key[len(folder) + 1 :])]
    for old in dated[:-KEEP_SNAPSHOTS]:
        store.delete(old)
    result = {
        "url": redact(url),
        "title": title,
        "notices": len(notices),
        "first_snapshot": previous is None,
        "new": new,
        "removed": removed,
        "snapshot": store.location(latest),
        "error": None,
    }
    if not download:
        return result, []
    from batchops.jobs import scrape_files

    patterns, department, plan = download
    result["files"], errors = scrape_files.take_files(page.links, final, folder, patterns, department, plan)
    return result, errors


def run_web_scrape(
    urls: list[str] | None = None,
    keywords: list[str] | None = None,
    download: str | list[str] | None = None,
    department: str | None = None,
    plan: str | None = None,
) -> dict:
    """Scrape each page; with ``download`` (globs such as ``"*.csv,*.xlsx"``) also take in the result
    files it links to, as uploads with ``department`` and ``plan`` (see ``scrape_files``)."""
    from batchops.jobs import scrape_files
    from batchops.jobs.scrape_files import parse_patterns

    cfg = context.config().automation
    urls = list(urls) if urls else list(cfg.scrape_urls)
    keywords = list(keywords) if keywords is not None else list(cfg.scrape_keywords)
    if not urls:
        raise InputError("no pages to scrape: set automation.scrape_urls or pass urls", code="E_CONFIG")
    patterns = parse_patterns(download)
    taking = None
    if patterns:
        from batchops.pipeline.plans import validate_plan_config

        plan = plan or "transform"
        validate_plan_config(plan, {})  # a plan that cannot run on a bare file fails once, before any download
        taking = (patterns, department or None, plan)
    results, failures, download_errors = [], [], []
    for url in urls:
        check_deadline()
        try:
            result, errors = scrape_one(url, keywords, cfg.scrape_timeout, cfg.scrape_max_bytes, taking)
        except BatchOpsError as exc:
            failures.append(exc)
            results.append({"url": redact(url), "error": exc.to_dict()})
            log(f"{url}: {exc.code}: {exc.message}")
            continue
        download_errors += errors
        results.append(result)
        if result["first_snapshot"]:
            log(f"{url}: first snapshot, {result['notices']} notice(s)")
        else:
            log(f"{url}: {result['notices']} notice(s), {len(result['new'])} new, {len(result['removed'])} gone")
        for notice in result["new"][:20]:
            log(f"  new: {notice['title']} <{notice['url']}>")
    summary: dict = {
        "pages": len(urls),
        "failed": len(failures),
        "new": sum(len(r.get("new", [])) for r in results),
        "results": results,
    }
    if taking:
        pages = [r.get("files") or {} for r in results]
        counts = {k: sum(len(p.get(k, [])) for p in pages) for k in scrape_files.OUTCOMES}
        summary["files"] = counts
        log("files: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    if failures:
        first = failures[0]
        raise JobError(
            f"{len(failures)} of {len(urls)} page(s) failed; first: {first.message}", code=first.code, summary=summary
        )
    if download_errors:
        first = download_errors[0]
        raise JobError(
            f"{len(download_errors)} result file(s) could not be downloaded; first: {first.message}",
            code=first.code,
            summary=summary,
        )
    return summary
