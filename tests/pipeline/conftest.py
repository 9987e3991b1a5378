"""Fixtures for the pure pipeline tests (``samples_dir`` comes from tests/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batchops.pipeline.settings import PipelineSettings


@pytest.fixture(scope="session")
def expected(samples_dir: Path) -> dict:
    return json.loads((samples_dir / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def settings() -> PipelineSettings:
    return PipelineSettings()


@pytest.fixture
def run(tmp_path, settings):
    """run(path, plan="transform", **request_fields) -> PipelineResult."""
    from batchops.pipeline.runner import PipelineRequest, run_pipeline

    def _run(path, plan="transform", plan_config=None, settings_=None, on_step=None, **kw):
        path = Path(path)
        req = PipelineRequest(
            source=path,
            original_name=kw.pop("original_name", path.name),
            out_dir=kw.pop("out_dir", tmp_path / "out"),
            plan=plan,
            plan_config=plan_config or {},
            generated_at=kw.pop("generated_at", "28 Nov 2026, 16:00 IST"),
            **kw,
        )
        return run_pipeline(req, settings_ or settings, on_step=on_step)

    return _run
