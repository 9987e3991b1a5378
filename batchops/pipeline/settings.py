"""What the pipeline needs to know from the configuration, as plain data.

The pipeline never reads config files or the store; services build this from
``batchops.config.Config`` with ``from_config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PipelineSettings:
    school_name: str = "Springfield Public School"
    report_title: str = ""  # [report] title; empty: built from department, plan and date
    default_required_columns: tuple[str, ...] = ("student_id", "name")
    # department name (lower-case) -> required columns
    department_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # canonical column -> extra synonyms (merged over the built-in map)
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    score_min: float = 0.0
    score_max: float = 100.0
    pass_mark: float = 40.0
    pdf_max_rows: int = 2000
    max_file_bytes: int = 100 * 1024 * 1024
    max_rows: int = 2_000_000
    max_columns: int = 1000
    max_pdf_pages: int = 300
    max_xlsx_uncompressed_bytes: int = 500 * 1024 * 1024
    max_cell_chars: int = 100_000
    ocr: str = "auto"  # never | auto (pages without a text layer) | always
    ocr_min_confidence: float = 70.0  # tesseract word confidence (0-100) below which a cell is doubtful
    ocr_max_doubtful_share: float = 0.0  # a larger share of doubtful ID/mark cells -> E_OCR_LOW_CONFIDENCE

    def required_columns(self, department: str | None) -> tuple[str, ...]:
        if department and department.lower() in self.department_columns:
            return self.department_columns[department.lower()]
        return self.default_required_columns


def from_config(cfg) -> PipelineSettings:
    p = cfg.pipeline
    mb = 1024 * 1024
    return PipelineSettings(
        school_name=cfg.school_name,
        report_title=cfg.report.title,
        default_required_columns=tuple(p.default_required_columns),
        # a listed department's list is its own, even when empty ("none": timetables, fee lists)
        department_columns={name.lower(): tuple(d.required_columns) for name, d in cfg.departments.items()},
        synonyms={k: tuple(v) for k, v in cfg.synonyms.items()},
        score_min=p.score_min,
        score_max=p.score_max,
        pass_mark=p.pass_mark,
        pdf_max_rows=p.pdf_max_rows,
        max_file_bytes=int(p.max_file_mb * mb),
        max_rows=p.max_rows,
        max_columns=p.max_columns,
        max_pdf_pages=p.max_pdf_pages,
        max_xlsx_uncompressed_bytes=int(p.max_xlsx_uncompressed_mb * mb),
        max_cell_chars=p.max_cell_chars,
        ocr=p.ocr,
        ocr_min_confidence=p.ocr_min_confidence,
        ocr_max_doubtful_share=p.ocr_max_doubtful_share,
    )
