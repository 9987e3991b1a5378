#!/usr/bin/env python
"""Peer conformance: publish other projects' test PDFs and compare with their ground truth.

camelot's test PDFs with the tables its tests expect (``tests/files``,
``tests/data.py``) and pdfplumber's test PDFs with the cells its tests assert
(``tests/pdfs``, ``tests/test_table.py`` and friends) are run through
``batchops process --plan custom --json`` (a fresh data home; a config with
``[pipeline] default_required_columns = []`` so tables that are not gradebooks are
allowed). Each file ends as one of:

  ok       published, and the published table is the expected one
  wrong    published, and it is not (the one outcome that must never happen)
  refused  not published, with the error code

Nothing from those projects is kept in this repository: the script reads the
expected tables from your checkouts at run time. Get them at the pinned commits::

    git clone https://github.com/camelot-dev/camelot.git
    git -C camelot checkout 2b80d0bc692d1b22203c3385e77da8201675aa50
    git clone https://github.com/jsvine/pdfplumber.git
    git -C pdfplumber checkout 147f2c4c07dc1191fc1d05bb589b4f6af3aaf74a
    python scripts/conformance.py --camelot camelot --pdfplumber pdfplumber

"The expected table" (camelot): the published rows, cell for cell after collapsing
whitespace, equal a run of the expected table's rows that holds all its data rows
(rows above it may only be titles and header lines, rows below it only notes),
ignoring columns empty on both sides; the published header's words must come from
the expected rows above that run. Any one of several expected tables on a page is
accepted (the table choice is the reader's). For pdfplumber the check is the
cells its tests assert (a given row, a given cell).

``--reader`` judges the table as the standardize step reads it (reader and
confidence gate, before validation and plans): the table's shape apart from how
values are handled. ``--baseline`` judges bare pdfplumber (the first table ``extract_tables()`` finds,
its first row as header) the same way, for comparison.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CAMELOT_COMMIT = "2b80d0bc692d1b22203c3385e77da8201675aa50"
PDFPLUMBER_COMMIT = "147f2c4c07dc1191fc1d05bb589b4f6af3aaf74a"

# camelot: file under tests/files -> names in tests/data.py of tables its tests expect from that file
CAMELOT = {
    "health.pdf": ["data_stream", "data_hybrid"],
    "clockwise_table_2.pdf": ["data_stream_table_rotated", "data_hybrid_table_rotated"],
    "anticlockwise_table_2.pdf": ["data_stream_table_rotated", "data_hybrid_table_rotated"],
    "tabula/12s0324.pdf": [
        "data_stream_two_tables_1",
        "data_stream_two_tables_2",
        "data_network_two_tables_1",
        "data_network_two_tables_2",
    ],
    "tabula/us-007.pdf": ["data_stream_table_areas"],
    "mexican_towns.pdf": ["data_stream_columns"],
    "tabula/m27.pdf": ["data_stream_split_text", "data_network_split_text"],
    "superscript.pdf": ["data_stream_flag_size"],
    "detect_vertical_false.pdf": ["data_stream_layout_kwargs", "data_stream_strip_text"],
    "edge_tol.pdf": ["data_stream_edge_tol", "data_network_edge_tol"],
    "stream_inner_outer_columns.pdf": ["data_stream_inner_outer_columns"],
    "tabula/icdar2013-dataset/competition-dataset-us/us-030.pdf": ["data_lattice"],
    "clockwise_table_1.pdf": ["data_lattice_table_rotated"],
    "anticlockwise_table_1.pdf": ["data_lattice_table_rotated"],
    "twotables_2.pdf": ["data_lattice_two_tables_1", "data_lattice_two_tables_2"],
    "table_region.pdf": ["data_lattice_table_regions"],
    "background_lines_1.pdf": ["data_lattice_process_background", "data_hybrid_process_background"],
    "row_span_1.pdf": ["data_lattice_copy_text"],
    "column_span_2.pdf": [
        "data_lattice_shift_text_disable",
        "data_lattice_shift_text_left_top",
        "data_lattice_shift_text_right_bottom",
    ],
    "tabula/arabic.pdf": ["data_arabic"],
    "split_text_lattice.pdf": ["data_lattice_split_text"],
    "vertical_header.pdf": ["data_hybrid_vertical_headers"],
}
# files with no table to publish: anything published is wrong
CAMELOT_REFUSE = ["empty.pdf", "only_page_number.pdf", "image.pdf"]
PDFPLUMBER_REFUSE = ["issue-33-lorem-ipsum.pdf", "scotus-transcript-p1.pdf", "federal-register-2020-17221.pdf"]


def norm(cell) -> str:
    # camelot's flag_size marks a superscript as <s>2</s>: a footnote mark, not part of the value
    text = re.sub(r"<s>.*?</s>", "", "" if cell is None else str(cell))
    return " ".join(text.split())


from batchops.pipeline.columns import snake  # noqa: E402 - how BatchOps names a column


def words(text: str) -> set[str]:
    return {w for w in re.split(r"[^0-9a-z]+", text.lower()) if w and not w.isdigit()}


def drop_empty_columns(rows: list[list[str]]) -> list[list[str]]:
    width = max((len(r) for r in rows), default=0)
    rows = [r + [""] * (width - len(r)) for r in rows]
    keep = [j for j in range(width) if any(r[j] for r in rows)]
    return [[r[j] for j in keep] for r in rows]


def numeric_cells(row: list[str]) -> int:
    return sum(1 for c in row if re.fullmatch(r"[(+-]?[$]?[\d,.]+%?\)?", c or "") and any(ch.isdigit() for ch in c))


def _continues(row: list[str]) -> bool:
    """A wrapped line as camelot keeps it: first cell empty, no number (a reader may join it to the row above)."""
    return bool(row) and not row[0] and any(row) and numeric_cells(row) == 0


def _consume(got: list[list[str]], exp: list[list[str]]) -> tuple[list[list[str]], int] | None:
    """Match published rows to expected rows in order, a published row taking wrapped lines with it."""
    block, j = [], 0
    for row in got:
        want = [c for c in row if c]
        if j >= len(exp):
            return None
        cur, j = list(exp[j]), j + 1
        while [c for c in cur if c] != want and j < len(exp) and _continues(exp[j]):
            cur, j = [(a + " " + b).strip() for a, b in zip(cur, exp[j])], j + 1
        if [c for c in cur if c] != want:
            return None
        block.append(cur)
    return block, j


def matches_expected(header: list[str], body: list[list[str]], expected: list[list[str]]) -> bool:
    exp = [[norm(c) for c in r] for r in expected]
    exp = [r for r in exp if any(r)]
    got = drop_empty_columns([[norm(c) for c in r] for r in body])
    if not got:
        return False
    for s in range(len(exp)):
        found = _consume(got, exp[s:])
        if found is None:
            continue
        block, used = found
        before, after = exp[:s], exp[s + used :]
        if drop_empty_columns(block) != got:
            continue
        if any(numeric_cells(r) >= 2 for r in before) or any(sum(1 for c in r if c) > 1 for r in after):
            continue  # data rows left out above or below
        above = [c for r in before for c in r]
        # the header as BatchOps names columns: snake_case, "col_" before a leading digit, "column_N" if unnamed
        allowed = words(" ".join(above)) | words(" ".join(snake(c).replace("_", " ") for c in above))
        if all(w in allowed or w in ("column", "col") for h in header for w in words(h.replace("_", " "))):
            return True
    return False


# pdfplumber: file -> a check of the published table (header row first), from what its tests assert
def _row_is(rows, want, where=None):
    want = [norm(c) for c in want if norm(c)]
    found = [[c for c in r if c] for r in rows]
    return want in found if where is None else len(found) > abs(where) and found[where] == want


def _pp_issue_140(rows):
    return _row_is(
        rows, ["0085648100300", "CENTRAL KMA", "LILYS 55% DARK CHOC BAR", "415", "$ 0.61", "$ 253.15", "0.0000"], -1
    )


def _pp_senate(rows):
    return _row_is(rows, ["DHAW20190070", "09/09/2019", "CITIBANK - TRAVEL CBA CARD", "08/12/2019", "08/14/2019"])


def _pp_nics(rows):
    ok = 0
    for r in rows:
        if r and r[0] == "Alabama":
            ok += len(r) > 22 and r[22] == "71,137"
        if r and r[0] == "Wyoming":
            ok += len(r) > 22 and r[22] == "5,017"
    return ok == 2


def _pp_warn(rows):
    fix = [[c.replace(" ", "") if j < 3 else c for j, c in enumerate(r)] for r in rows[:2]]
    return (
        len(fix) == 2
        and fix[0] == ["NoticeDate", "Effective", "Received", "Company", "City", "No. Of", "Layoff/Closure"]
        and fix[1]
        == [
            "06/22/2015",
            "03/25/2016",
            "07/01/2015",
            "Maxim Integrated Product",
            "San Jose",
            "150",
            "Closure Permanent",
        ]
    )


def _pp_curves(rows):
    return len(rows) >= 2 and len(rows[-2]) >= 2 and rows[-2][-2] == "Uncommon"


def _pp_466(rows):
    return len(rows) == 4 and all(len(r) == 3 for r in rows) and all("last" in c for c in rows[3])


def _pp_336(rows):
    return len(rows) in (8, 11, 2)


def _pp_53(rows):
    return len(rows) > 3 and rows[3] and rows[3][0] == "FY2013 FY2014"


PDFPLUMBER = {
    "issue-140-example.pdf": _pp_issue_140,
    "senate-expenditures.pdf": _pp_senate,
    "nics-background-checks-2015-11.pdf": _pp_nics,
    "WARN-Report-for-7-1-2015-to-03-25-2016.pdf": _pp_warn,
    "table-curves-example.pdf": _pp_curves,
    "issue-466-example.pdf": _pp_466,
    "issue-336-example.pdf": _pp_336,
    "issue-53-example.pdf": _pp_53,
}


def load_camelot_data(root: Path) -> dict:
    """tests/data.py of the camelot checkout: plain lists, read as data (run in an empty namespace)."""
    ns: dict = {}
    exec(compile((root / "tests" / "data.py").read_text(encoding="utf-8"), "camelot-data", "exec"), ns)
    return ns


def run_batchops(pdf: Path, home: Path, config: Path) -> tuple[str, list[list[str]] | None, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [
        sys.executable,
        "-m",
        "batchops",
        "--home",
        str(home),
        "--config",
        str(config),
        "process",
        "--plan",
        "custom",
        "--instructions",
        "conformance: publish as read",
        "--json",
        str(pdf),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return "refused", None, f"E_CLI exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:160]}"
    if result.get("status") != "published":
        err = result.get("error") or {}
        return "refused", None, f"{err.get('code')}: {(err.get('message') or '')[:160]}"
    with open(result["reports"]["csv"], newline="", encoding="utf-8-sig") as fh:
        rows = [[norm(c) for c in r] for r in csv.reader(fh)]
    return "published", rows, ""


def run_reader(pdf: Path) -> tuple[str, list[list[str]] | None, str]:
    """The table as the standardize step reads it (reader + confidence gate), before validation and plans."""
    sys.path.insert(0, str(REPO))
    import tempfile as _tmp

    import pandas as pd

    from batchops.errors import BatchOpsError
    from batchops.pipeline.runner import PipelineRequest
    from batchops.pipeline.settings import PipelineSettings
    from batchops.pipeline.standardize import standardize

    req = PipelineRequest(pdf, pdf.name, Path(_tmp.mkdtemp()), plan="custom")
    try:
        loaded = standardize(req, PipelineSettings(default_required_columns=()))
    except BatchOpsError as exc:
        return "refused", None, f"{exc.code}: {exc.message[:160]}"
    rows = [[norm(c) for c in loaded.original_columns]]
    rows += [[norm("" if pd.isna(v) else v) for v in r] for r in loaded.df.itertuples(index=False, name=None)]
    return "published", rows, ""


def run_bare_pdfplumber(pdf: Path) -> tuple[str, list[list[str]] | None, str]:
    import pdfplumber

    try:
        with pdfplumber.open(pdf) as doc:
            for page in doc.pages:
                tables = page.extract_tables()
                if tables:
                    return "published", [[norm(c) for c in r] for r in tables[0]], ""
    except Exception as exc:
        return "refused", None, f"{type(exc).__name__}"
    return "refused", None, "no table"


def judge_camelot(rows: list[list[str]], expected: list[list[list[str]]]) -> bool:
    header, body = rows[0], rows[1:]
    return any(matches_expected(header, body, e) for e in expected)


def loose(cell: str) -> str:
    """A number's value only ("007" -> "7", "1,234.50" -> "1234.5"): to tell a shape error from a value error."""
    text = cell.replace(",", "")
    try:
        return repr(float(text))
    except ValueError:
        return cell


def values_only_differ(rows: list[list[str]], expected) -> bool:
    if not isinstance(expected, list):
        return False
    header, body = rows[0], [[loose(c) for c in r] for r in rows[1:]]
    return any(matches_expected(header, body, [[loose(norm(c)) for c in r] for r in e]) for e in expected)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--camelot", type=Path, help=f"camelot checkout (commit {CAMELOT_COMMIT[:12]})")
    ap.add_argument("--pdfplumber", type=Path, help=f"pdfplumber checkout (commit {PDFPLUMBER_COMMIT[:12]})")
    ap.add_argument("--only", help="run only files whose name contains this")
    ap.add_argument("--baseline", action="store_true", help="judge bare pdfplumber instead of BatchOps")
    ap.add_argument(
        "--reader",
        action="store_true",
        help="judge the table as read (reader + confidence gate, in this process) instead of the "
        "published CSV: table shape alone, apart from value handling",
    )
    ap.add_argument("--verbose", "-v", action="store_true", help="print the published rows of wrong files")
    args = ap.parse_args(argv)
    if not args.camelot and not args.pdfplumber:
        ap.error("give --camelot DIR and/or --pdfplumber DIR (see --help for how to get them)")

    cases: list[tuple[str, Path, object]] = []  # (suite, file, expectation)
    if args.camelot:
        data = load_camelot_data(args.camelot)
        files = args.camelot / "tests" / "files"
        for name, keys in CAMELOT.items():
            cases.append(("camelot", files / name, [data[k] for k in keys if k in data]))
        cases += [("camelot", files / name, "refuse") for name in CAMELOT_REFUSE]
    if args.pdfplumber:
        pdfs = args.pdfplumber / "tests" / "pdfs"
        cases += [("pdfplumber", pdfs / name, check) for name, check in PDFPLUMBER.items()]
        cases += [("pdfplumber", pdfs / name, "refuse") for name in PDFPLUMBER_REFUSE]
    if args.only:
        cases = [c for c in cases if args.only in str(c[1])]

    totals: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="batchops-conformance-") as tmp:
        config = Path(tmp) / "batchops.toml"
        config.write_text("[pipeline]\ndefault_required_columns = []\n", encoding="utf-8")
        for i, (suite, pdf, expect) in enumerate(cases):
            if not pdf.exists():
                print(f"{'missing':8} {suite:10} {pdf.name}")
                continue
            if args.baseline:
                status, rows, why = run_bare_pdfplumber(pdf)
            elif args.reader:
                status, rows, why = run_reader(pdf)
            else:
                status, rows, why = run_batchops(pdf, Path(tmp) / f"home{i}", config)
            if status == "refused":
                verdict = "refused"
            elif expect == "refuse":
                verdict, why = "wrong", "published a file that has no table"
            elif callable(expect):
                verdict = "ok" if expect(rows) else "wrong"
            else:
                verdict = "ok" if judge_camelot(rows, expect) else "wrong"
                if verdict == "wrong" and values_only_differ(rows, expect):
                    why = "the table's shape is right but values changed (leading zeros, number format)"
            if verdict != "refused" and rows is not None:
                why = why or f"{len(rows) - 1} rows x {len(rows[0]) if rows else 0} columns"
            totals.setdefault(suite, {"ok": 0, "wrong": 0, "refused": 0})[verdict] += 1
            print(f"{verdict:8} {suite:10} {pdf.name:45} {why}", flush=True)
            if verdict == "wrong" and args.verbose and rows:
                for r in rows[:8]:
                    print("           |", " | ".join(r)[:160])
    print()
    grand = {"ok": 0, "wrong": 0, "refused": 0}
    for suite, t in totals.items():
        print(f"{suite:10} ok {t['ok']:3}  wrong {t['wrong']:3}  refused {t['refused']:3}  of {sum(t.values())}")
        for k in grand:
            grand[k] += t[k]
    print(
        f"{'total':10} ok {grand['ok']:3}  wrong {grand['wrong']:3}  refused {grand['refused']:3}  "
        f"of {sum(grand.values())}"
    )
    return 1 if grand["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
