"""Thin periodic tasks of the project itself: the health heartbeat and housekeeping (each in
the one beat schedule in settings, with `expires`)."""

from __future__ import annotations

from celery import shared_task
from django.core.management import call_command

from . import health, login


@shared_task(bind=True, ignore_result=True, soft_time_limit=10, time_limit=20)
def heartbeat(self) -> None:
    """A worker ran: `/healthz` reads when (community_os/health.py)."""
    health.record(health.WORKER, detail=self.request.hostname or "")


@shared_task(soft_time_limit=240, time_limit=300)
def clear_sessions() -> None:
    """Delete expired sessions (Django's `clearsessions`)."""
    call_command("clearsessions")


@shared_task(soft_time_limit=240, time_limit=300)
def delete_old_login_records() -> int:
    """Delete django-axes' failed-login and login records older than AXES_KEEP_DAYS."""
    return login.login_records_delete()
