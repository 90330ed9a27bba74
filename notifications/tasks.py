"""Thin Celery tasks of the notifications: ids and addresses in, a service does the work."""

from __future__ import annotations

from celery import shared_task

from members import team

from . import services

# A mail server that is down makes a task fail; beat's next run (reminders, digests) or the
# retry (one email) tries again, and the records keep each email to one.


@shared_task(soft_time_limit=540, time_limit=600)
def send_review_reminders() -> int:
    return services.review_reminders_send()


@shared_task(soft_time_limit=540, time_limit=600)
def send_digests() -> int:
    return services.digests_send()


@shared_task(
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
)
def send_import_notice(job_id: int) -> bool:
    return services.import_notice_send(job_id=job_id)


@shared_task(
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=3,
)
def send_password_reset(email: str) -> int:
    return services.password_reset_send(email=email)


@shared_task(soft_time_limit=240, time_limit=300)
def sweep_notifications() -> tuple[int, int]:
    """The rate limit's old records, and invitations that ended a month ago."""
    return services.reset_requests_sweep(), team.invitations_sweep()
