"""Thin Celery tasks of the join page."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(soft_time_limit=240, time_limit=300)
def sweep_pending_signups() -> int:
    """Delete the signups past their rate-limit window whose link is used or expired."""
    return services.sweep_pending_signups()
