"""Thin Celery tasks: ids in, webhooks/services.py does the work."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(soft_time_limit=600, time_limit=720)
def expand_outbox(outbox_id: int) -> int:
    """Turn one outbox row into deliveries (and enqueue their first attempts)."""
    return len(services.outbox_expand(outbox_id))


@shared_task(soft_time_limit=30, time_limit=60)
def attempt_delivery(delivery_id: int) -> bool:
    """One attempt of one delivery, if it is due; retries are scheduled on the delivery (its
    next_attempt_at), not by Celery, so they survive a lost task or a restarted worker."""
    delivery = services.delivery_attempt(delivery_id)
    return bool(delivery and delivery.succeeded)


@shared_task(soft_time_limit=50, time_limit=60)
def sweep_webhooks() -> dict[str, int]:
    return services.sweep()
