"""Scanned marksheets: the sample PDFs rasterised (as an office scanner would), skewed, turned and
noised, then read back. A scan publishes exactly what its original holds, or is refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from batchops.errors import PipelineError
from batchops.pipeline import sniff
from batchops.pipeline.load_pdf import load_pdf
from batchops.pipeline.settings import PipelineSettings

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract is not installed (apt-get install tesseract-ocr)"
)


def scan_images(pdf: Path, dpi: int, angle: float = 0.0, noise: float = 0.0) -> list:
    """Each page as a scanner would give it: rendered at ``dpi``, turned by ``angle``, grain of ``noise``."""
    import pypdfium2 as pdfium
    from PIL import Image

    out = []
    doc = pdfium.PdfDocument(str(pdf))
    for page in doc:
        img = page.render(scale=dpi / 72, grayscale=True).to_pil()
        if angle:
            img = img.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
        if noise:
            grain = np.random.default_rng(7).normal(0, noise, (img.height, img.width))
            img = Image.fromarray(np.clip(np.asarray(img, dtype=np.float64) + grain, 0, 255).astype(np.uint8))
        out.append(img)
    doc.close()
    return out


def scanned_pdf(tmp_path: Path, pdf: Path, dpi: int, angle: float = 0.0, noise: float = 0.0) -> Path:
    images = scan_images(pdf, dpi, angle, noise)
    out = tmp_path / f"{pdf.stem}_{dpi}_{angle:g}_{noise:g}.pdf"
    images[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return out


def assert_same_as_original(loaded, original) -> None:
    assert list(loaded.df.columns) == list(original.df.columns)
    assert loaded.df.astype(str).values.tolist() == original.df.astype(str).values.tolist()


def _plain_expected(expected) -> dict:
    return expected["gradebook_arts_plain.pdf"]["students"]


def _check_plain(loaded, expected) -> None:
    students = _plain_expected(expected)
    got = {r["student_id"]: r for r in loaded.df.to_dict("records")}
    assert set(got) == set(students)
    for sid, fields in students.items():
        for key, value in fields.items():
            assert str(got[sid][key]) == str(value), (sid, key)


@pytest.mark.slow
@pytest.mark.timeout(900)  # tesseract on 300-dpi pages: minutes on a loaded 2-core machine
@needs_tesseract
def test_clean_300_dpi_scans_publish_exactly_the_original(samples_dir, expected, tmp_path, settings):
    ruled = samples_dir / "gradebook_arts.pdf"
    loaded = load_pdf(scanned_pdf(tmp_path, ruled, 300), settings, "scan.pdf")
    assert len(loaded.df) == expected["gradebook_arts.pdf"]["rows"] == 35
    assert_same_as_original(loaded, load_pdf(ruled, settings))
    assert loaded.info["ocr"]["pages"] == 1 and loaded.info["layout"] == "ruled"
    assert {f["code"] for f in loaded.findings} <= {"W_OCR_CORRECTED"}

    plain = load_pdf(scanned_pdf(tmp_path, samples_dir / "gradebook_arts_plain.pdf", 300), settings, "plain.pdf")
    _check_plain(plain, expected)


def exact_or_refused(load, check) -> str:
    """The contract for any scan: it publishes exactly the original, or it is refused with a code."""
    try:
        loaded = load()
    except PipelineError as exc:
        assert exc.code in ("E_OCR_LOW_CONFIDENCE", "E_PDF_NO_TABLE")
        return "refused"
    check(loaded)
    return "exact"


@pytest.mark.slow
@pytest.mark.timeout(900)  # tesseract on 300-dpi pages: minutes on a loaded 2-core machine
@needs_tesseract
def test_skewed_noisy_scan_is_exact_or_refused(samples_dir, tmp_path, settings):
    ruled = samples_dir / "gradebook_arts.pdf"
    original = load_pdf(ruled, settings)
    scan = scanned_pdf(tmp_path, ruled, 300, angle=1.5, noise=12)
    exact_or_refused(lambda: load_pdf(scan, settings, "skewed.pdf"), lambda got: assert_same_as_original(got, original))


@pytest.mark.slow
@pytest.mark.timeout(900)  # tesseract on 300-dpi pages: minutes on a loaded 2-core machine
@needs_tesseract
def test_a_page_scanned_upside_down(samples_dir, tmp_path, settings):
    ruled = samples_dir / "gradebook_arts.pdf"
    turned = load_pdf(scanned_pdf(tmp_path, ruled, 300, angle=180), settings, "turned.pdf")
    assert turned.info["ocr"]["rotated"] == [180]
    assert_same_as_original(turned, load_pdf(ruled, settings))


def test_deskew_finds_the_angle(samples_dir):
    from batchops.pipeline import ocr

    for angle in (1.5, -2.0, 0.0):
        (image,) = scan_images(samples_dir / "gradebook_arts_plain.pdf", 100, angle=angle)
        assert abs(ocr.skew_angle(image) - angle) < 0.2


def test_rules_are_found_on_a_ruled_page_only(samples_dir):
    from batchops.pipeline import ocr

    (ruled,) = scan_images(samples_dir / "gradebook_arts.pdf", 150)
    hs, vs = ocr.find_rules(ocr.dark_mask(ruled), 150)
    assert len(hs) == 37 and len(vs) == 7  # 36 rows + top, 6 columns + left edge
    (plain,) = scan_images(samples_dir / "gradebook_arts_plain.pdf", 150)
    assert ocr.find_rules(ocr.dark_mask(plain), 150) == ([], [])


@pytest.mark.slow
@pytest.mark.timeout(900)  # tesseract on 300-dpi pages: minutes on a loaded 2-core machine
@needs_tesseract
def test_a_photo_of_the_page_is_read_like_the_pdf(samples_dir, expected, tmp_path, run):
    (image,) = scan_images(samples_dir / "gradebook_arts_plain.pdf", 300)
    photo = tmp_path / "marks.png"
    image.save(photo, dpi=(300, 300))
    assert sniff.detect_format(photo) == "image"
    res = run(photo, plan="custom")
    assert res.rows_in == 45 and res.summary["format"] == "image (scanned)"


@pytest.mark.slow
@pytest.mark.timeout(900)  # tesseract on 300-dpi pages: minutes on a loaded 2-core machine
@needs_tesseract
def test_a_degraded_scan_is_refused_not_published_wrong(samples_dir, tmp_path, settings):
    bad = scanned_pdf(tmp_path, samples_dir / "gradebook_arts.pdf", 100, angle=-2, noise=70)
    with pytest.raises(PipelineError) as exc:
        load_pdf(bad, settings, "bad.pdf")
    assert exc.value.code in ("E_OCR_LOW_CONFIDENCE", "E_PDF_NO_TABLE")
    if exc.value.code == "E_OCR_LOW_CONFIDENCE":
        assert "300 dpi" in exc.value.message and "spreadsheet" in exc.value.message
        assert any(f["code"] == "W_OCR_DOUBTFUL" and f["location"].startswith("page 1") for f in exc.value.findings)


def test_ocr_never_keeps_the_old_refusal(samples_dir, tmp_path):
    scan = scanned_pdf(tmp_path, samples_dir / "gradebook_arts.pdf", 72)
    with pytest.raises(PipelineError) as exc:
        load_pdf(scan, PipelineSettings(ocr="never"), "scan.pdf")
    assert exc.value.code == "E_PDF_NO_TEXT"


def test_missing_tesseract_names_the_package(samples_dir, tmp_path, monkeypatch):
    scan = scanned_pdf(tmp_path, samples_dir / "gradebook_arts.pdf", 72)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no tesseract anywhere on it
    with pytest.raises(PipelineError) as exc:
        load_pdf(scan, PipelineSettings(), "scan.pdf")
    assert exc.value.code == "E_OCR_UNAVAILABLE" and "apt-get install tesseract-ocr" in exc.value.message


def test_review_flags_doubtful_marks_and_ids(tmp_path):
    import pandas as pd

    from batchops.pipeline.frame import Loaded
    from batchops.pipeline.ocr_review import review

    df = pd.DataFrame(
        {
            "student_id": ["S/0001", "S/0002", "S/0003", "S/O004", "S/0005"],
            "name": ["Anika lyer", "Ravi Rao", "Meera", "Asha K", "Zoe"],
            "maths": ["71", "7O", "AB", "65", "88"],
        },
        dtype="str",
    )
    loaded = Loaded(
        df=df,
        kind="pdf",
        info={},
        original_columns=["Roll", "Name", "Maths"],
        locator=lambda label, col=None: f"page 1 row {label + 1}",
    )
    with pytest.raises(PipelineError) as exc:
        review(loaded, {1: set()}, PipelineSettings(), "scan.pdf")
    assert exc.value.code == "E_OCR_LOW_CONFIDENCE"
    flagged = {(f["column"], f["location"]) for f in exc.value.findings if f["code"] == "W_OCR_DOUBTFUL"}
    assert flagged == {("maths", "page 1 row 2"), ("student_id", "page 1 row 4")}  # 'AB' is an absence mark
    ok = review(loaded, {1: set()}, PipelineSettings(ocr_max_doubtful_share=0.5), "scan.pdf")
    assert ok.df["name"].iloc[0] == "Anika Iyer"
    assert ok.df["maths"].iloc[1] == "7O"  # flagged, never changed
    assert any(f["code"] == "W_OCR_CORRECTED" for f in ok.findings)


@pytest.mark.skipif(os.name != "posix", reason="PATH handling")
def test_image_named_csv_is_sniffed(tmp_path):
    from PIL import Image

    p = tmp_path / "marks.csv"
    Image.new("L", (10, 10), 255).save(p, "PNG")
    assert sniff.detect_format(p) == "image"
