"""Scans in, a reviewed table out: page images -> OCR -> text PDF -> ``load_pdf`` -> review.

The table is read from the OCR'd words by the same readers as a born-digital PDF (the text
PDF that ``ocr_layer`` writes holds the words where the scan had them, and the rules), so a
scan and its original publish the same table. ``ocr_review`` then refuses or flags what OCR
was unsure of.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from batchops.pipeline import ocr, sniff
from batchops.pipeline.frame import Loaded
from batchops.pipeline.ocr_review import review
from batchops.pipeline.settings import PipelineSettings

# (page number, pages in all) after each page is read; the CLI shows it on a terminal
on_page: Callable[[int, int], None] | None = None


def _read(images: Iterable, count: int, dpi: int, settings: PipelineSettings, name: str) -> list[ocr.ScanPage]:
    ocr.tesseract()  # E_OCR_UNAVAILABLE before any work
    pages = []
    for number, image in enumerate(images, start=1):
        pages.append(ocr.read_page(image, number, dpi, settings.ocr_min_confidence))
        if on_page is not None:
            on_page(number, count)
    if not any(p.words for p in pages):
        raise sniff.fail(
            f"{name} is a scan, but OCR found no text on its {count} page(s); "
            "rescan it at 300 dpi or send the spreadsheet.",
            "E_PDF_NO_TEXT",
        )
    return pages


def _load(
    pages: list[ocr.ScanPage], settings: PipelineSettings, name: str, started: float, source: str = "pdf"
) -> Loaded:
    from batchops.pipeline import ocr_layer
    from batchops.pipeline.load_pdf import load_pdf

    with tempfile.TemporaryDirectory(prefix="batchops-scan-") as tmp:
        layer = ocr_layer.write_layer(pages, Path(tmp) / "scan.pdf")
        loaded = load_pdf(layer, dataclasses.replace(settings, ocr="never"), name)
    low = {p.number: {w["text"] for w in p.words if w["conf"] < settings.ocr_min_confidence} for p in pages}
    loaded = review(loaded, low, settings, name)
    words = [w for p in pages for w in p.words]
    loaded.info["ocr"] = {
        "engine": "tesseract",
        "pages": len(pages),
        "words": len(words),
        "mean_confidence": round(sum(w["conf"] for w in words) / len(words), 1) if words else None,
        "rotated": [p.rotated for p in pages],
        "deskewed": [round(p.skew, 2) for p in pages],
        "reread": sum(p.rereads for p in pages),
        "seconds": round(time.perf_counter() - started, 2),
    }
    loaded.info["format"] = f"{source} (scanned)"
    return loaded


def load_scanned_pdf(path: Path, pages: int, settings: PipelineSettings, name: str) -> Loaded:
    """An image-only PDF (or any PDF with ``--ocr always``): every page rendered at 300 dpi and read."""
    started = time.perf_counter()
    return _load(_read(ocr.pdf_page_images(path, ocr.DPI), pages, ocr.DPI, settings, name), settings, name, started)


def load_image(path: Path, settings: PipelineSettings, name: str) -> Loaded:
    """A PNG/JPEG/TIFF photo or scan of a marksheet (each TIFF frame a page)."""
    if settings.ocr == "never":
        raise sniff.fail(
            f'{name} is an image; OCR is off (pipeline.ocr = "never" or --ocr never). '
            "Send the spreadsheet, or allow OCR.",
            "E_PDF_NO_TEXT",
        )
    started = time.perf_counter()
    frames, dpi = ocr.open_image(path, name)
    if len(frames) > settings.max_pdf_pages:
        raise sniff.fail(
            f"{name} has {len(frames):,} pages; the limit is {settings.max_pdf_pages:,}.", "E_TOO_MANY_PAGES"
        )
    return _load(_read(frames, len(frames), dpi, settings, name), settings, name, started, source="image")
