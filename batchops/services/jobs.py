"""Scheduled jobs: list and show (create/edit/trigger come with the worker)."""

from __future__ import annotations

from batchops.services.common import get_or_404, row_dict
from batchops.store.models import Job


def job_dict(job: Job) -> dict:
    return row_dict(job)


def list_jobs() -> list[dict]:
    return [job_dict(j) for j in Job.select().order_by(Job.id)]


def show_job(ident) -> dict:
    return job_dict(get_or_404(Job, ident, "job"))
