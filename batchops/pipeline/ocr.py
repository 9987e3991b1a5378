"""Read scanned marksheets: image-only PDF pages and PNG/JPEG/TIFF photos or scans.

Each page image goes through:

1. **Orientation** (90/180/270): tesseract's OSD (``--psm 0``) on a reduced copy.
2. **Deskew**: the small angle (within 5 degrees) that makes text rows sharpest in the
   row-darkness profile.
3. **Rules**: long horizontal and vertical runs of dark pixels are a ruled table's lines.
   They are found, remembered, and painted out (tesseract reads rules as ``[``, ``|``, ``J``
   and garbles the cells next to them).
4. **Words**: one tesseract pass per page (``--psm 6``, one thread: measured far faster than
   OpenMP on a shared machine), words with their boxes and confidence. A word with low
   confidence, or a number with a letter inside (``7O``), is read again alone (``--psm 7``,
   digits only when it is mostly digits); the second reading is kept only when it is sure.

Words come out in pdfplumber's ``extract_words`` shape, in PDF points (``text``, ``x0``,
``x1``, ``top``, ``bottom``) plus ``conf`` (0-100), so the table readers treat a scan like a
born-digital page (``ocr_layer`` writes them, with the rules, as a text PDF that
``load_pdf`` reads; ``ocr_review`` then gates doubtful cells).

Tesseract missing -> ``E_OCR_UNAVAILABLE`` naming the package to install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from batchops.errors import PipelineError
from batchops.pipeline import sniff

MODES = ("never", "auto", "always")
PACKAGE = "tesseract-ocr"
DPI = 300
REREAD_CONFIDENCE = 90.0  # a second reading replaces the first only when at least this sure
AGREE_CONFIDENCE = 70.0  # ... or when two readings agree, each at least this sure
MOSAIC_GROUPS = 60
MAX_MARK_CHARS = 5  # words this short (marks) that stay unsure are read once more on their own
MAX_SINGLE_REREADS = 20  # per page: a page with more unsure marks than this is refused anyway
TIMEOUT_S = 300
MAX_IMAGE_PIXELS = 60_000_000  # ~A2 at 300 dpi; a photo larger than this is refused, not decoded
_CONFUSABLE = re.compile(r"^(?=.*\d)[\dOoIlSBZg|]+$")  # digits with look-alike letters: 7O, l2, S5


@dataclass
class ScanPage:
    number: int
    width_pt: float
    height_pt: float
    words: list[dict] = field(default_factory=list)  # pdfplumber shape + conf, in points
    h_rules: list[tuple[float, float, float]] = field(default_factory=list)  # (y, x0, x1) in points
    v_rules: list[tuple[float, float, float]] = field(default_factory=list)  # (x, y0, y1) in points
    rotated: int = 0  # degrees turned to make it upright
    skew: float = 0.0  # degrees straightened
    rereads: int = 0


def unavailable(detail: str = "") -> PipelineError:
    return sniff.fail(
        "Reading a scan needs the Tesseract OCR engine, which is not installed on this machine"
        + (f" ({detail})" if detail else "")
        + f". Install it (Debian/Ubuntu: apt-get install {PACKAGE}; other systems: the 'tesseract' package) "
        'or set pipeline.ocr = "never" to refuse scans.',
        "E_OCR_UNAVAILABLE",
    )


def tesseract() -> str:
    exe = shutil.which("tesseract")
    if exe is None:
        raise unavailable()
    return exe


def _env() -> dict:
    env = dict(os.environ)
    env.setdefault("OMP_THREAD_LIMIT", "1")
    return env


def run_tesseract(image, args: list[str], timeout: float = TIMEOUT_S) -> str:
    """tesseract IMAGE stdout ARGS -> its stdout (the image goes through a temp PNG)."""
    exe = tesseract()
    with tempfile.TemporaryDirectory(prefix="batchops-ocr-") as tmp:
        src = Path(tmp) / "page.png"
        image.save(src, dpi=(DPI, DPI))
        try:
            done = subprocess.run(
                [exe, str(src), "stdout", *args],
                capture_output=True,
                timeout=timeout,
                env=_env(),
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise sniff.fail(f"OCR of one page took longer than {timeout:.0f} s.", "E_OCR_FAILED") from exc
        except OSError as exc:
            raise unavailable(str(exc)) from exc
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        if any("Failed loading language" in line or "tessdata" in line.lower() for line in err):
            raise unavailable("its English language data is missing: tesseract-ocr-eng")
        raise sniff.fail(f"Tesseract failed on a page: {err[-1] if err else done.returncode}.", "E_OCR_FAILED")
    return done.stdout.decode("utf-8", "replace")


def tsv_words(tsv: str) -> list[dict]:
    """Word rows of tesseract's TSV: text, box (pixels), conf and its (block, paragraph, line)."""
    words = []
    for line in tsv.splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) < 12 or parts[0] != "5" or not parts[11].strip():
            continue
        left, top, width, height = map(int, parts[6:10])
        words.append(
            {
                "text": parts[11].strip(),
                "left": left,
                "top": top,
                "width": width,
                "height": height,
                "conf": max(0.0, float(parts[10])),
                "line": (int(parts[2]), int(parts[3]), int(parts[4])),
            }
        )
    return words


# ---------------------------------------------------------------- image preparation


def grayscale(image):
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)  # a phone photo's own rotation flag
    if image.mode in ("RGBA", "LA", "P"):
        from PIL import Image

        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image.convert("L")


def dark_mask(gray) -> np.ndarray:
    """True where ink is: Otsu's threshold on the grey levels."""
    a = np.asarray(gray, dtype=np.uint8)
    hist = np.bincount(a.ravel(), minlength=256).astype(np.float64)
    total = a.size
    cum = np.cumsum(hist)
    cum_mean = np.cumsum(hist * np.arange(256))
    w0 = cum[:-1]
    w1 = total - w0
    valid = (w0 > 0) & (w1 > 0)
    m0 = np.where(valid, cum_mean[:-1] / np.maximum(w0, 1), 0)
    m1 = np.where(valid, (cum_mean[-1] - cum_mean[:-1]) / np.maximum(w1, 1), 0)
    between = np.where(valid, w0 * w1 * (m0 - m1) ** 2, 0)
    threshold = int(np.argmax(between)) if between.any() else 127
    return a <= threshold


def orientation(gray) -> int:
    """Degrees (0/90/180/270) to turn the page counter-clockwise so text reads upright; 0 if unsure."""
    small = gray.copy()
    small.thumbnail((1200, 1200))
    try:
        out = run_tesseract(small, ["--psm", "0"], timeout=60)
    except PipelineError as exc:
        if exc.code == "E_OCR_UNAVAILABLE":
            raise
        return 0  # too little text to tell: read it as it is
    rotate = re.search(r"Rotate:\s*(\d+)", out)
    conf = re.search(r"Orientation confidence:\s*([\d.]+)", out)
    if not rotate or not conf or float(conf.group(1)) < 1.5:
        return 0
    return int(rotate.group(1)) % 360


def skew_angle(gray, limit: float = 5.0) -> float:
    """The small rotation (degrees, counter-clockwise positive) that straightens the text rows.

    Shearing the ink pixels' row numbers by x*tan(angle) stands in for rotating (exact enough
    within a few degrees); the angle whose row histogram is spikiest wins.
    """
    small = gray.copy()
    small.thumbnail((1000, 1000))
    ys, xs = np.nonzero(dark_mask(small))
    if len(ys) < 50:
        return 0.0
    if len(ys) > 200_000:
        keep = np.random.default_rng(0).choice(len(ys), 200_000, replace=False)
        ys, xs = ys[keep], xs[keep]
    xs = xs - small.width / 2

    def score(angle: float) -> float:
        rows = np.bincount((ys - xs * np.tan(np.radians(angle)) + small.height).astype(np.int64))
        return float(np.sum(np.diff(rows.astype(np.float64)) ** 2))

    best = max(np.arange(-limit, limit + 0.01, 0.25), key=score)
    fine = float(max(np.arange(best - 0.25, best + 0.26, 0.05), key=score))
    return -fine  # PIL rotates counter-clockwise for positive angles


def _shift_and(m: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(m)
    out[:, :-k] = m[:, :-k] & m[:, k:]
    return out


def _shift_or_back(m: np.ndarray, k: int) -> np.ndarray:
    out = m.copy()
    out[:, k:] |= m[:, :-k]
    return out


def _runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """True where a straight run of at least ``length`` (a power of two) dark pixels along ``axis`` passes.

    Erosion by doubling (a run of 2k is two runs of k, k apart), then the same dilation back:
    a few boolean passes over the page instead of a running sum.
    """
    m = mask if axis == 1 else mask.T
    k, starts = 1, m
    while k < length:
        starts = _shift_and(starts, k)
        k *= 2
    k, out = 1, starts
    while k < length:
        out = _shift_or_back(out, k)
        k *= 2
    return out if axis == 1 else out.T


def _group(indexes: np.ndarray, gap: int = 3) -> list[tuple[int, int]]:
    groups: list[tuple[int, int]] = []
    for i in indexes.tolist():
        if groups and i - groups[-1][1] <= gap:
            groups[-1] = (groups[-1][0], i)
        else:
            groups.append((i, i))
    return groups


def find_rules(mask: np.ndarray, dpi: int) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
    """Horizontal and vertical rules as (first, last, start, end) pixel bands; both empty if not a grid."""
    length = 1 << max(5, int(dpi * 0.45).bit_length() - 1)  # about half an inch: 128 px at 300 dpi
    horiz, vert = _runs(mask, length, 1), _runs(mask, length, 0)
    hs = []
    for y0, y1 in _group(np.flatnonzero(horiz.any(axis=1))):
        xs = np.flatnonzero(horiz[y0 : y1 + 1].any(axis=0))
        hs.append((y0, y1, int(xs[0]), int(xs[-1])))
    vs = []
    for x0, x1 in _group(np.flatnonzero(vert.any(axis=0))):
        ys = np.flatnonzero(vert[:, x0 : x1 + 1].any(axis=1))
        vs.append((x0, x1, int(ys[0]), int(ys[-1])))
    if len(hs) < 3 or len(vs) < 2:
        return [], []  # underlines or a frame, not a table grid
    return hs, vs


def paint_out(gray, hs, vs, pad: int = 2):
    """The page with its rules painted white."""
    from PIL import Image

    a = np.array(gray, dtype=np.uint8)
    for y0, y1, x0, x1 in hs:
        a[max(0, y0 - pad) : y1 + pad + 1, x0 : x1 + 1] = 255
    for x0, x1, y0, y1 in vs:
        a[y0 : y1 + 1, max(0, x0 - pad) : x1 + pad + 1] = 255
    return Image.fromarray(a)


# ---------------------------------------------------------------- reading a page

_RULE_CHARS = "_=|~"


def _tidy(words: list[dict]) -> list[dict]:
    """Bits of painted-out rules that tesseract still reports: '_' glued to a word, a lone '=' or '|'."""
    out = []
    for w in words:
        text = w["text"].strip(_RULE_CHARS)
        if text:
            out.append({**w, "text": text})
    return out


def _doubtful(w: dict, min_conf: float) -> bool:
    """A word worth a second look: unsure, or digits mixed with look-alike letters (``7O``)."""
    return w["conf"] < min_conf or (bool(_CONFUSABLE.match(w["text"])) and not w["text"].isdigit())


def _mostly_digits(text: str) -> bool:
    """A mark, perhaps misread: digits with look-alikes, or a short token holding a digit ('3A,')."""
    if not any(ch.isdigit() for ch in text):
        return False
    return len(text) <= 4 or sum(ch.isdigit() or ch in "OoIlSBZg|" for ch in text) >= len(text) - 1


def _box(words: list[dict]) -> tuple[int, int, int, int]:
    return (
        min(w["left"] for w in words),
        min(w["top"] for w in words),
        max(w["left"] + w["width"] for w in words),
        max(w["top"] + w["height"] for w in words),
    )


def _reread(clean, groups: list[list[dict]], digits: bool, psm: str = "6") -> list[list[dict]]:
    """Read unsure words again, all in one tesseract call: each group (neighbouring unsure words of a
    line, so a word split in two is read whole) on its own row of a mosaic. A group's second reading
    counts only when sure (``_settled``). Returns each group's words as read this time (page pixels)."""
    from PIL import Image

    crops, places = [], []
    for g in groups:
        left, top, right, bottom = _box(g)
        pad = max(6, (bottom - top) // 3)
        box = (max(0, left - pad), max(0, top - pad), min(clean.width, right + pad), min(clean.height, bottom + pad))
        crops.append((clean.crop(box), box))
    gap = max(c.height for c, _ in crops) if len(crops) > 1 else 0  # one group alone: its own tight crop
    mosaic = Image.new(
        "L", (max(c.width for c, _ in crops) + 2 * gap, sum(c.height + gap for c, _ in crops) + gap), 255
    )
    y = gap
    for c, box in crops:
        mosaic.paste(c, (gap, y))
        places.append((y, y + c.height, box[0] - gap, box[1] - y))  # a mosaic row -> its page offset
        y += c.height + gap
    args = ["--psm", psm] + (["-c", "tessedit_char_whitelist=0123456789"] if digits else []) + ["tsv"]
    found: dict[int, list[dict]] = {}
    try:
        read = tsv_words(run_tesseract(mosaic, args, timeout=120))
    except PipelineError as exc:
        if exc.code == "E_OCR_UNAVAILABLE":
            raise
        read = []  # tesseract gave up on this crop: the first reading stands, as doubtful as it was
    for again in read:
        middle = again["top"] + again["height"] / 2
        for i, (top, bottom, dx, dy) in enumerate(places):
            text = again["text"].strip(_RULE_CHARS)
            if top <= middle <= bottom and text:
                found.setdefault(i, []).append(
                    {**again, "text": text, "left": again["left"] + dx, "top": again["top"] + dy, "reread": True}
                )
    return [sorted(found.get(i, []), key=lambda w: w["left"]) for i in range(len(groups))]


def _settled(readings: list[list[dict]]) -> list[dict] | None:
    """The reading to keep: one sure reading, or two that agree and are fairly sure."""
    for r in readings:
        if r and all(w["conf"] >= REREAD_CONFIDENCE for w in r):
            return r
    texts: dict[str, list[list[dict]]] = {}
    for r in readings:
        if r and all(w["conf"] >= AGREE_CONFIDENCE for w in r):
            texts.setdefault(" ".join(w["text"] for w in r), []).append(r)
    agreed = [rs for rs in texts.values() if len(rs) >= 2]
    if len(agreed) == 1 and len(texts) == 1:
        return max(agreed[0], key=lambda r: min(w["conf"] for w in r))
    return None


def _groups(words: list[dict], unsure: set[int]) -> list[list[int]]:
    """Indexes of unsure words; close neighbours on one line (pieces of one token) grouped together."""
    groups: list[list[int]] = []
    for i in sorted(unsure):
        prev = groups[-1][-1] if groups else None
        near = (
            prev is not None
            and words[i]["left"] - (words[prev]["left"] + words[prev]["width"]) <= words[prev]["height"]
        )
        if prev == i - 1 and words[prev]["line"] == words[i]["line"] and near:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _read_upright(gray, dpi: int, min_conf: float):
    """Deskew, find and paint out rules, read the words (pixels), read unsure ones again."""
    from PIL import Image, ImageFilter

    angle = skew_angle(gray)
    if abs(angle) >= 0.1:
        gray = gray.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    hs, vs = find_rules(dark_mask(gray), dpi)
    clean = paint_out(gray, hs, vs) if hs else gray
    words = _tidy(tsv_words(run_tesseract(clean, ["--psm", "6", "tsv"])))
    if _looks_unread(words):
        return gray, words, angle, (hs, vs), 0  # turned or blank: no second opinions on it
    unsure = {i for i, w in enumerate(words) if _doubtful(w, min_conf)}
    groups = _groups(words, unsure)
    readings: list[list[list[dict]]] = [[] for _ in groups]
    settled: dict[int, list[dict]] = {}
    # second opinions: the clean page, then thickened strokes (thin print is where tesseract slips),
    # all unsure words in one mosaic call each; then marks still unsure alone (context moves confidence)
    bold = clean.filter(ImageFilter.MinFilter(3)) if groups else clean
    for image, psm in ((clean, "6"), (bold, "6"), (clean, "7"), (bold, "7")):
        pending = [k for k in range(len(groups)) if k not in settled]
        if psm == "7":
            pending = [
                k
                for k in pending
                if len(groups[k]) == 1
                and len(words[groups[k][0]]["text"]) <= MAX_MARK_CHARS
                and any(ch.isdigit() for ch in words[groups[k][0]]["text"])
            ][:MAX_SINGLE_REREADS]
        for digits in (True, False):
            batch = [k for k in pending if _mostly_digits(" ".join(words[i]["text"] for i in groups[k])) == digits]
            # mosaics of MOSAIC_GROUPS words at most (tesseract refuses images past 32k pixels)
            calls = (
                [batch[i : i + MOSAIC_GROUPS] for i in range(0, len(batch), MOSAIC_GROUPS)]
                if psm == "6"
                else [[k] for k in batch]
            )
            for call in (c for c in calls if c):
                for k, hits in zip(call, _reread(image, [[words[i] for i in groups[k]] for k in call], digits, psm)):
                    readings[k].append(hits)
                    if (keep := _settled(readings[k])) is not None:
                        settled[k] = [{**w, "line": words[groups[k][0]]["line"]} for w in keep]
    replaced = {}
    for k, g in enumerate(groups):
        if k in settled:
            replaced[g[0]] = settled[k]
            replaced.update({i: [] for i in g[1:]})
    words = [w for i, orig in enumerate(words) for w in replaced.get(i, [orig])]
    return gray, words, angle, (hs, vs), len(unsure)


def _looks_unread(words: list[dict]) -> bool:
    confs = [w["conf"] for w in words if len(w["text"]) > 1]
    return len(confs) < 5 or float(np.median(confs)) < 50


def read_page(image, number: int, dpi: int, min_conf: float) -> ScanPage:
    """OCR one page image (any orientation, slightly skewed, ruled or not) into a ``ScanPage``.

    Upright pages (the usual case) pay for no orientation check: only a page that reads badly
    is turned the way tesseract's OSD says and read again.
    """
    gray = grayscale(image)
    if gray.width * gray.height > MAX_IMAGE_PIXELS:
        raise sniff.fail(
            f"Page {number} is a {gray.width}x{gray.height} image, too large to read; scan it at 300 dpi.",
            "E_FILE_TOO_LARGE",
        )
    upright, words, angle, (hs, vs), rereads = _read_upright(gray, dpi, min_conf)
    turn = 0
    if _looks_unread(words):
        turn = orientation(gray)
        if turn:
            upright, words, angle, (hs, vs), rereads = _read_upright(
                gray.rotate(turn, expand=True, fillcolor=255), dpi, min_conf
            )
    scale = 72.0 / dpi
    page = ScanPage(number, upright.width * scale, upright.height * scale, rotated=turn, skew=angle, rereads=rereads)
    for w in words:
        page.words.append(
            {
                "text": w["text"],
                "x0": w["left"] * scale,
                "x1": (w["left"] + w["width"]) * scale,
                "top": w["top"] * scale,
                "bottom": (w["top"] + w["height"]) * scale,
                "conf": w["conf"],
                "line": w["line"],
            }
        )
    page.h_rules = [((y0 + y1) / 2 * scale, x0 * scale, x1 * scale) for y0, y1, x0, x1 in hs]
    page.v_rules = [((x0 + x1) / 2 * scale, y0 * scale, y1 * scale) for x0, x1, y0, y1 in vs]
    return page


def pdf_page_images(path: Path, dpi: int = DPI):
    """Each page of a PDF rendered to a greyscale image (pdfium, which pdfplumber already brings)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        for page in pdf:
            yield page.render(scale=dpi / 72, grayscale=True).to_pil()
    finally:
        pdf.close()


def open_image(path: Path, name: str):
    """Every frame of a PNG/JPEG/TIFF as a page, refusing decompression bombs before decoding."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        img = Image.open(path)
        if img.width * img.height > MAX_IMAGE_PIXELS:
            raise sniff.fail(
                f"{name} is a {img.width}x{img.height} image, too large to read; scan it at 300 dpi.",
                "E_FILE_TOO_LARGE",
            )
        frames = [frame.copy() for frame in ImageSequence.Iterator(img)]
        dpi = img.info.get("dpi", (DPI, DPI))[0] or DPI
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise sniff.fail(f"{name} is a damaged or unreadable image.", "E_IMAGE_UNREADABLE") from exc
    return frames, int(round(float(dpi)))
