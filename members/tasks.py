"""Thin Celery tasks for import jobs: ids in, members/jobs.py does the work."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import jobs


@shared_task(
    acks_late=True,
    soft_time_limit=settings.IMPORT_TASK_TIME_LIMIT - 60,
    time_limit=settings.IMPORT_TASK_TIME_LIMIT,
)
def run_import_job(job_id: int) -> None:
    """Check or import one job's file (a job delivered twice runs once)."""
    jobs.job_run(job_id)


@shared_task(soft_time_limit=240, time_limit=300)
def sweep_import_jobs() -> tuple[int, int, int]:
    """Enqueue the jobs that waited for the broker, fail those whose worker died, and delete
    import files past their retention."""
    return jobs.sweep_jobs()
