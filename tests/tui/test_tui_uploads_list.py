"""The uploads list: one query per page with its links, reads off the UI thread, search in the store."""

from __future__ import annotations

import threading

from tui_helpers import SIZE, run, table_rows, wait_for


def _uploads(n: int, name=lambda i: f"file-{i:03d}.csv") -> list[int]:
    """``n`` upload rows, oldest first (rows, not files: the list reads only the store)."""
    from batchops.store.models import Upload

    ids = []
    for i in range(n):
        ids.append(
            Upload.create(
                original_name=name(i), sha256=f"{i:064d}", kind="csv", blob_path=f"files/00/{i}.csv", status="failed"
            ).id
        )
    return ids


def _runs_and_incidents(upload_ids: list[int]) -> None:
    """Each upload: two pipeline runs (the newer failed), a job run that is not its, an active and a closed incident."""
    from batchops.store.models import Incident, JobRun

    for uid in upload_ids:
        JobRun.create(kind="pipeline", upload=uid, status="succeeded")
        JobRun.create(kind="pipeline", upload=uid, status="failed")
        JobRun.create(kind="job", upload=uid, status="succeeded")  # not a pipeline run: not counted
        Incident.create(title="closed", signature=f"s{uid}", upload=uid, state="closed")
        Incident.create(title="open", signature=f"s{uid}", upload=uid, state="open")


class _CountStatements:
    """Counts the SQL statements the store runs (peewee's ``execute_sql``) while active, in any thread."""

    def __init__(self):
        from batchops.store.db import db

        self.database = db.obj
        self.count = 0
        self._lock = threading.Lock()

    def __enter__(self):
        real = self.database.execute_sql

        def counting(sql, params=None, *args, **kwargs):
            with self._lock:
                self.count += 1
            return real(sql, params, *args, **kwargs)

        self.database.execute_sql = counting
        return self

    def __exit__(self, *exc):
        del self.database.execute_sql  # the class's method again


def _load_in_thread(screen, params):
    """``screen.load`` off the UI thread, in a store connection of its own, as the fetch worker runs it."""
    from batchops.services import ui_state

    out = {}

    def body():
        with ui_state.connection():
            out["page"] = screen.load(params)

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    return out["page"]


def test_a_page_costs_the_same_statements_for_3_uploads_or_60(make_app):
    from batchops.tui.screens.uploads import UploadsPage

    counts = {}

    async def go():
        app = make_app(start_area="uploads", refresh_seconds=0)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once, what="first page")
            screen = app.screen
            for total, new in ((3, 3), (60, 57)):
                _runs_and_incidents(_uploads(new))
                with _CountStatements() as counter:
                    page = _load_in_thread(screen, screen.params())
                assert isinstance(page, UploadsPage) and len(page.rows) == total
                counts[total] = counter.count

    run(go())
    # one statement for the page with its links, one for the staged files; not one per upload
    assert counts[3] == counts[60] == 2


def test_the_links_are_each_uploads_own(make_app):
    from batchops.store.models import Incident, JobRun

    quiet, busy = _uploads(2)
    _runs_and_incidents([busy])
    extra = JobRun.create(kind="pipeline", upload=busy, status="queued")
    newest = Incident.create(title="again", signature="x", upload=busy, state="assigned")

    async def go():
        app = make_app(start_area="uploads", refresh_seconds=0)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: len(table_rows(app.screen)) == 2, what="two uploads")
            rows = {row[0]: row for row in table_rows(app.screen)}
            assert rows[str(busy)][3] == f"3 queued #{extra.id}"
            assert rows[str(busy)][4] == f"#{newest.id} assigned +1"  # the closed one is not counted
            assert rows[str(quiet)][3] == "-" and rows[str(quiet)][4] == "-"

    run(go())


def test_load_leaves_the_screen_alone(make_app):
    """The fetch worker returns what it read; only ``apply`` (UI thread) changes the screen."""
    from batchops.services import ui_state
    from batchops.tui.staging import STAGED_KEY

    async def go():
        app = make_app(start_area="uploads", refresh_seconds=0)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once, what="first page")
            screen = app.screen
            _runs_and_incidents(_uploads(4))  # new since the page on screen
            ui_state.set(STAGED_KEY, [{"path": "/tmp/new.csv"}])  # something apply would show
            params = screen.params()  # read on the UI thread, as action_reload does
            before = {key: (id(value), repr(value)) for key, value in vars(screen).items()}
            page = _load_in_thread(screen, params)
            after = {key: (id(value), repr(value)) for key, value in vars(screen).items()}
            assert after == before
            assert [item["path"] for item in page.staged] == ["/tmp/new.csv"] and screen.staged == []
            screen.apply(page)
            assert [item["path"] for item in screen.staged] == ["/tmp/new.csv"]
            assert "new.csv" in str(screen.query_one("#staged-strip").render())  # reactive: the strip follows

    run(go())


def test_search_finds_an_upload_beyond_the_first_page(make_app):
    """``/`` searches the store in SQL, not the 200 rows on screen."""
    ids = _uploads(230, name=lambda i: "needle-in-the-stack.csv" if i == 0 else f"hay-{i:03d}.csv")

    async def go():
        app = make_app(start_area="uploads", refresh_seconds=0)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once, what="first page")
            assert str(ids[0]) not in [row[0] for row in table_rows(app.screen)]  # too old for page one
            await pilot.press("slash", *"needle")
            await wait_for(
                pilot, lambda: [row[0] for row in table_rows(app.screen)] == [str(ids[0])], what="the old upload found"
            )

    run(go())


def test_a_slash_in_the_filter_is_a_slash(make_app):
    """``/`` focuses the filter; inside it, ``/`` is text (a path), not a fresh start."""
    from textual.widgets import Input

    _uploads(2, name=lambda i: f"term-{i}/marks.csv")

    async def go():
        app = make_app(start_area="uploads", refresh_seconds=0)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.loaded_once, what="first page")
            await pilot.press("slash", *"term-1", "slash", *"mar")
            box = app.screen.query_one("#filter-text", Input)
            assert box.has_focus and box.value == "term-1/mar"
            await wait_for(
                pilot, lambda: [row[1] for row in table_rows(app.screen)] == ["term-1/marks.csv"], what="the one match"
            )

    run(go())
