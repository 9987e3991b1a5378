"""The standardize step: any supported file in, one clean table (``Loaded``) out.

Refuses what cannot be published safely before anything else runs: an unreadable,
empty or oversized file, a cell over the size limit, and a table the confidence
gate doubts (unless the operator forces it, which becomes a finding).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from batchops.errors import PipelineError
from batchops.pipeline.settings import PipelineSettings

if TYPE_CHECKING:
    from batchops.pipeline.frame import Loaded
    from batchops.pipeline.runner import PipelineRequest


def standardize(req: PipelineRequest, settings: PipelineSettings) -> Loaded:
    src = Path(req.source)
    name = req.original_name or src.name
    _check_size(src, name, settings)
    loaded = _read(src, name, req, settings)
    _check_cells(loaded, settings, name)
    _check_confidence(loaded, req, name)  # on the table as read, before any column becomes numbers
    _settle_types(loaded)
    return loaded


def _check_size(src: Path, name: str, settings: PipelineSettings) -> None:
    from batchops.pipeline import sniff

    try:
        size = src.stat().st_size
    except OSError as exc:
        raise sniff.fail(f"The uploaded file for {name} cannot be read ({exc.strerror}).", "E_FILE_MISSING") from exc
    if size == 0:
        raise sniff.fail(f"{name} is empty (0 bytes).", "E_EMPTY_FILE")
    if size > settings.max_file_bytes:
        raise sniff.fail(
            f"{name} is larger than {settings.max_file_bytes / 1048576:,.0f} MB, the limit (pipeline.max_file_mb).",
            "E_FILE_TOO_LARGE",
        )


def _read(src: Path, name: str, req: PipelineRequest, settings: PipelineSettings) -> Loaded:
    """The loader for the detected format (each imported only when its format arrives)."""
    from batchops.pipeline import sniff

    kind = sniff.detect_format(src, name)
    if kind == "pdf":
        from batchops.pipeline.load_pdf import load_pdf

        return load_pdf(src, settings, name, table=req.table, department=req.department)
    if kind == "image":
        from batchops.pipeline.ocr_scan import load_image

        return load_image(src, settings, name)
    if kind in sniff.WORKBOOK_FORMATS:
        from batchops.pipeline.load_xlsx import load_xlsx

        return load_xlsx(
            src, settings, name, sheet=req.sheet, fmt=kind, required=settings.required_columns(req.department)
        )
    from batchops.pipeline.load_csv import load_csv

    return load_csv(src, settings, name, encoding=req.encoding)


def _settle_types(loaded) -> None:
    """Text columns become numbers only where every value prints back exactly as read."""
    from batchops.pipeline.columns import is_text_column
    from batchops.pipeline.frame import settle_numbers

    settle_numbers(loaded.df, keep_text=is_text_column)


def _check_confidence(loaded, req: PipelineRequest, name: str) -> None:
    """The confidence gate: refuse a doubtful table unless the operator forces it (then it is a finding)."""
    from batchops.pipeline import confidence
    from batchops.pipeline.findings import finding

    verdict = confidence.check(loaded)
    if verdict.ok:
        return
    why = "; ".join(verdict.reasons)
    if req.force_publish:
        loaded.findings.append(
            finding(
                "W_TABLE_FORCED",
                f"Published with --force-publish although the table looks doubtful "
                f"(confidence {verdict.score:.2f}): {why}.",
            )
        )
        loaded.findings.extend(confidence.row_findings(loaded, verdict, "warning"))
        return
    raise PipelineError(
        f"The table read from {name} does not look right (confidence {verdict.score:.2f} < "
        f"{confidence.THRESHOLD}): {why}. Check the file; choose another table with --table N, export the sheet "
        "as CSV, or publish anyway with --force-publish.",
        code=confidence.E_TABLE_LOW_CONFIDENCE,
        step="standardize",
        findings=confidence.row_findings(loaded, verdict, "error"),
    )


def _check_cells(loaded, settings: PipelineSettings, name: str) -> None:
    from batchops.pipeline import sniff
    from batchops.pipeline.frame import is_stringish

    df = loaded.df
    for pos, col in enumerate(df.columns):
        s = df[col]
        if not is_stringish(s) or not len(s):
            continue
        if _max_bytes(s) <= settings.max_cell_chars:
            continue  # cheap upper bound: characters <= bytes
        lengths = s.str.len()
        longest = lengths.max()
        if longest == longest and longest > settings.max_cell_chars:
            label = lengths.idxmax()
            where = loaded.locator(label, pos)
            raise sniff.fail(
                f"A cell in column {col} at {where} holds {int(longest):,} characters; the limit is "
                f"{settings.max_cell_chars:,}.",
                "E_CELL_TOO_LARGE",
            )


def _max_bytes(s) -> int:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        m = pc.max(pc.binary_length(pa.chunked_array(s.array.__arrow_array__()))).as_py()
        return int(m or 0)
    except Exception:
        return 1 << 62
