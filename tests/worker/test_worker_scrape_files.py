"""run_web_scrape(download=...): result files linked from a page, downloaded once each and taken in (#12).

A real HTTP server on 127.0.0.1 in a thread; the worker fixtures' configuration allows that one
host (automation.scrape_allow_hosts, as for every scrape test), so every other private address is
still refused by the production rules.
"""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from batchops.errors import BatchOpsError


class _Handler(BaseHTTPRequestHandler):
    """Serves ``site.pages`` {path: (status, headers, body)}; a matching If-None-Match gets 304."""

    site: dict = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.site["hits"].append(self.path)
        page = self.site["pages"].get(self.path)
        if page is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, headers, body = page
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        if status == 200 and self.headers.get("If-None-Match") == etag:
            self.site["not_modified"].append(self.path)
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status == 200:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def site(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    state = {"pages": {}, "hits": [], "not_modified": []}
    handler = type("Handler", (_Handler,), {"site": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["base"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


HTML = {"Content-Type": "text/html; charset=utf-8"}
CSV = {"Content-Type": "text/csv"}


def _page(*links):
    items = "".join(f'<li><a href="{href}">{text}</a></li>' for text, href in links)
    return f"<html><head><title>Results</title></head><body><ul>{items}</ul></body></html>".encode()


def _scrape(site, **kwargs):
    from batchops.automation import registry

    return registry.resolve("run_web_scrape")(urls=[f"{site['base']}/results"], **kwargs)


def _csv_hits(site):
    return [h for h in site["hits"] if h.lower().endswith(".csv")]


def test_linked_result_files_are_published_once_and_a_changed_file_is_a_new_upload(wctx, site, samples_dir):
    from batchops.store.models import JobRun, Upload
    from batchops.store.objects import objects

    science = (samples_dir / "gradebook_science.csv").read_bytes()
    lines = science.splitlines(keepends=True)
    site["pages"]["/results"] = (
        200,
        HTML,
        _page(
            ("Term 1 marks", "/files/term1.csv"),
            ("Term 2 marks", "files/Term%202%20marks.CSV"),
            ("Timetable", "/files/timetable.pdf"),
            ("About", "/about.html"),
        ),
    )
    site["pages"]["/files/term1.csv"] = (200, CSV, science)
    site["pages"]["/files/Term%202%20marks.CSV"] = (200, CSV, b"".join(lines[:-1]))
    site["pages"]["/files/timetable.pdf"] = (200, {}, b"%PDF-1.4 not wanted")

    first = _scrape(site, download="*.csv", department="Science")
    files = first["results"][0]["files"]
    assert sorted(p["file"] for p in files["published"]) == ["Term_2_marks.csv", "term1.csv"]
    assert first["files"]["published"] == 2 and not files["failed"] and not files["errors"]
    assert "/files/timetable.pdf" not in site["hits"]  # not matched by the pattern: never fetched
    uploads = list(Upload.select().order_by(Upload.id))
    assert len(uploads) == 2 and {u.status for u in uploads} == {"published"}
    assert {u.department for u in uploads} == {"Science"} and {u.plan for u in uploads} == {"transform"}
    assert all(u.notes.startswith(f"downloaded from {site['base']}/files/") for u in uploads)
    assert {r.trigger for r in JobRun.select().where(JobRun.upload.is_null(False))} == {"ingest"}
    saved = sorted(i.key.rsplit("/", 1)[1].split("-", 1)[1] for i in objects().list("scrapes") if "/files/" in i.key)
    assert saved == ["Term_2_marks.csv", "term1.csv"]  # <sha12>-<sanitised name>, through the object store

    site["hits"].clear()
    again = _scrape(site, download="*.csv", department="Science")
    assert again["files"]["published"] == 0 and again["files"]["unchanged"] == 2
    assert Upload.select().count() == 2
    assert len(_csv_hits(site)) == 2 and len(site["not_modified"]) == 2  # asked again, 304: not downloaded twice

    site["pages"]["/files/term1.csv"] = (200, CSV, science.replace(b"Pari Nair", b"Pari Nair-Rao"))
    changed = _scrape(site, download="*.csv", department="Science")
    assert [p["file"] for p in changed["results"][0]["files"]["published"]] == ["term1.csv"]
    assert Upload.select().count() == 3

    # the same bytes at another URL (or dropped in the drop folder) are not taken in again
    site["pages"]["/results"] = (200, HTML, _page(("Copy", "/mirror/term1-copy.csv")))
    site["pages"]["/mirror/term1-copy.csv"] = (200, CSV, science)
    copy = _scrape(site, download="*.csv")
    assert copy["files"]["duplicates"] == 1 and Upload.select().count() == 3


@pytest.mark.parametrize(
    "link, setup",
    [
        ("http://10.20.30.40/results.csv", None),  # a private address in the link itself
        ("/go/results.csv", "redirect"),  # a public-looking link redirected to cloud metadata
    ],
)
def test_a_result_link_to_a_private_address_is_refused_with_a_code(wctx, site, samples_dir, link, setup):
    from batchops.store.models import Upload

    if setup == "redirect":
        site["pages"]["/go/results.csv"] = (302, {"Location": "http://169.254.169.254/latest/results.csv"}, b"")
    site["pages"]["/results"] = (200, HTML, _page(("Bad", link), ("Good", "/files/term1.csv")))
    site["pages"]["/files/term1.csv"] = (200, CSV, (samples_dir / "gradebook_science.csv").read_bytes())
    with pytest.raises(BatchOpsError) as info:
        _scrape(site, download="*.csv")
    assert info.value.code == "E_URL_FORBIDDEN"
    files = info.value.details["summary"]["results"][0]["files"]  # the good link was still taken in
    assert len(files["published"]) == 1 and files["errors"][0]["error"]["code"] == "E_URL_FORBIDDEN"
    assert Upload.select().count() == 1


def test_an_oversized_result_file_is_refused_and_tried_again_next_run(wctx, site, samples_dir):
    from batchops.store.models import Upload

    wctx.reconfigure({"automation": {"scrape_download_max_bytes": 1000}})
    site["pages"]["/results"] = (200, HTML, _page(("Big", "/files/big.csv")))
    site["pages"]["/files/big.csv"] = (200, CSV, (samples_dir / "gradebook_science.csv").read_bytes())
    for _ in range(2):  # not remembered: the next run asks again (and is refused again)
        with pytest.raises(BatchOpsError) as info:
            _scrape(site, download="*.csv")
        assert info.value.code == "E_SCRAPE_TOO_LARGE" and "scrape_download_max_bytes" in info.value.message
    assert Upload.select().count() == 0 and _csv_hits(site) == ["/files/big.csv"] * 2
    assert not list((wctx.home / "tmp" / "scrape").iterdir())  # no partial download left behind


def test_a_malformed_result_file_is_a_failed_upload_with_an_incident(wctx, site, samples_dir):
    from batchops.store.models import Incident, Upload

    site["pages"]["/results"] = (200, HTML, _page(("Marks", "/files/marks.csv")))
    site["pages"]["/files/marks.csv"] = (200, CSV, (samples_dir / "broken" / "missing_columns.csv").read_bytes())
    out = _scrape(site, download="*.csv")
    failed = out["results"][0]["files"]["failed"]
    assert len(failed) == 1 and failed[0]["error"]["code"] == "E_MISSING_COLUMNS"
    upload = Upload.get_by_id(failed[0]["upload_id"])
    assert upload.status == "failed" and upload.error_code == "E_MISSING_COLUMNS"
    assert Incident.select().where(Incident.upload == upload.id).count() == 1
    assert _scrape(site, download="*.csv")["files"]["failed"] == 0  # remembered: not failed over and over
    assert Upload.select().count() == 1


def test_download_arguments_are_checked_before_anything_is_fetched(wctx, site):
    site["pages"]["/results"] = (200, HTML, _page(("Marks", "/files/marks.csv")))
    for kwargs, code in (
        ({"download": 5}, "E_JOB_ARGS_INVALID"),
        ({"download": "*.csv", "plan": "nope"}, "E_PLAN_INVALID"),
    ):
        with pytest.raises(BatchOpsError) as info:
            _scrape(site, **kwargs)
        assert info.value.code == code
    assert site["hits"] == []


@pytest.mark.parametrize(
    "url, name",
    [
        ("http://x.test/files/..%2F..%2F..%2Fetc%2Fpasswd.csv", "passwd.csv"),
        ("http://x.test/a/%2E%2E%5C%2E%2E%5Cboot.ini.xlsx", "boot.ini.xlsx"),
        ("http://x.test/r/.hidden.csv?x=1#y", "hidden.csv"),
        ("http://x.test/r/%00%0Amarks%20(final).PDF", "marks_final.pdf"),
    ],
)
def test_the_saved_name_comes_from_the_url_but_cannot_leave_its_folder(url, name):
    from batchops.jobs.scrape_files import file_name

    assert file_name(url) == name


def test_only_matching_result_file_links_are_chosen():
    from batchops.jobs.scrape_files import parse_patterns, result_links

    links = [
        ("a", "/x/marks.CSV"),
        ("b", "notes.html"),
        ("c", "/x/marks.csv#top"),
        ("d", "mailto:a@b.c"),
        ("e", "/evil.csv.html"),
        ("f", "/r/roll.xlsx"),
        ("g", "/r/roll.exe"),
        ("h", "/r/photo.png"),
    ]
    assert result_links(links, "http://s.test/p/", parse_patterns("*.csv, roll.*")) == [
        "http://s.test/x/marks.CSV",
        "http://s.test/x/marks.csv",
        "http://s.test/r/roll.xlsx",
    ]
    assert result_links(links, "http://s.test/p/", parse_patterns(["*"])) == [
        "http://s.test/x/marks.CSV",
        "http://s.test/x/marks.csv",
        "http://s.test/r/roll.xlsx",
    ]


def test_snapshot_rotation_counts_snapshots_only_and_keeps_downloads(wctx, site, monkeypatch):
    from batchops.jobs import scrape
    from batchops.store.objects import objects

    monkeypatch.setattr(scrape, "KEEP_SNAPSHOTS", 2)
    url = f"{site['base']}/results"
    site["pages"]["/results"] = (200, HTML, _page(("Exam notice", "/n")))
    folder, store = scrape._snapshot_prefix(url), objects()
    kept = f"{folder}/files/2026aaaaaaaa-marks.csv"  # a download whose hash starts like a timestamp
    store.put_bytes(kept, b"student_id\nS1\n")
    for day in ("01", "02", "03"):
        store.put_bytes(f"{folder}/202001{day}T000000Z.json", b"{}")
    _scrape(site)
    names = [i.key[len(folder) + 1 :] for i in store.list(folder)]
    assert store.exists(kept) and len([n for n in names if n.endswith("Z.json")]) == 2
    assert "20200101T000000Z.json" not in names
