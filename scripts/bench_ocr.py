#!/usr/bin/env python
"""Seconds per page: BatchOps' scan reading against bare tesseract on the same page images.

The sample PDFs are rendered at 300 dpi (as an office scanner would give them). Each page is
read by

  bare        ``tesseract page.png stdout --psm 6 tsv`` (one thread, as BatchOps runs it;
              ``--threads-default`` also times tesseract's own OpenMP default)
  batchops    ``ocr.read_page``: deskew, rules painted out, the same tesseract pass, second
              readings of unsure words, plus the text layer and the table read (``load``)

and the ratio batchops/bare is printed (goal <= 1.2). Usage::

    python scripts/bench_ocr.py [--repeat 2] [--threads-default]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def samples() -> list[Path]:
    shared = ROOT.parent / "shared" / "samples"
    base = shared if shared.is_dir() else ROOT / "batchops" / "samples"
    return [base / "gradebook_arts.pdf", base / "gradebook_arts_plain.pdf"]


def bare(png: Path, threads_default: bool) -> float:
    env = dict(os.environ)
    if threads_default:
        env.pop("OMP_THREAD_LIMIT", None)
    else:
        env["OMP_THREAD_LIMIT"] = "1"
    t = time.perf_counter()
    subprocess.run(["tesseract", str(png), "stdout", "--psm", "6", "tsv"], check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads-default", action="store_true", help="also time bare tesseract with OpenMP on")
    args = ap.parse_args()

    from batchops.pipeline import ocr
    from batchops.pipeline.ocr_scan import _load
    from batchops.pipeline.settings import PipelineSettings

    settings = PipelineSettings()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for pdf in samples():
            for n, image in enumerate(ocr.pdf_page_images(pdf, ocr.DPI), start=1):
                png = Path(tmp) / f"{pdf.stem}_{n}.png"
                image.save(png, dpi=(ocr.DPI, ocr.DPI))
                times = {"bare": [], "bare_omp": [], "read": [], "load": []}
                for _ in range(args.repeat):
                    times["bare"].append(bare(png, False))
                    if args.threads_default:
                        times["bare_omp"].append(bare(png, True))
                    t = time.perf_counter()
                    page = ocr.read_page(image, 1, ocr.DPI, settings.ocr_min_confidence)
                    times["read"].append(time.perf_counter() - t)
                    t = time.perf_counter()
                    _load([page], settings, pdf.name, t)
                    times["load"].append(time.perf_counter() - t + times["read"][-1])
                best = {k: min(v) for k, v in times.items() if v}
                rows.append((f"{pdf.name} p{n}", best))
    print(
        f"{'page':32} {'bare s':>8} {'read s':>8} {'read+table s':>13} {'ratio':>6}"
        + (f" {'bare OMP s':>11}" if args.threads_default else "")
    )
    for label, best in rows:
        print(
            f"{label:32} {best['bare']:8.2f} {best['read']:8.2f} {best['load']:13.2f} "
            f"{best['load'] / best['bare']:6.2f}" + (f" {best['bare_omp']:11.2f}" if args.threads_default else "")
        )
    ratio = statistics.mean(b["load"] for _, b in rows) / statistics.mean(b["bare"] for _, b in rows)
    print(
        f"mean seconds/page: bare {statistics.mean(b['bare'] for _, b in rows):.2f}, "
        f"batchops {statistics.mean(b['load'] for _, b in rows):.2f}; ratio {ratio:.2f} (goal <= 1.2)"
    )


if __name__ == "__main__":
    main()
