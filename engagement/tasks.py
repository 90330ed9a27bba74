"""Thin Celery tasks: ids in, the scoring service does the work."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from community_os.enqueue import after_commit
from members.models import Community

from .scoring import score_community

logger = logging.getLogger(__name__)


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=600,
    time_limit=720,
)
def score_community_task(community_id: int, as_of: str | None = None) -> int | None:
    """Score one community; `as_of` is an ISO 8601 instant (default: now, when it runs)."""
    community = Community.objects.filter(pk=community_id).first()
    if community is None:
        logger.info("Community %s is gone; nothing to score.", community_id)
        return None
    when = datetime.fromisoformat(as_of) if as_of else None
    return score_community(community, as_of=when)


@shared_task(soft_time_limit=60, time_limit=90)
def score_all_communities() -> int:
    """Enqueue one scoring task per community, all as of the same instant."""
    as_of = timezone.now().isoformat()
    # A run the next periodic sweep has overtaken is not worth doing.
    expires = settings.SCORING_INTERVAL_MINUTES * 60
    community_ids = list(Community.objects.values_list("pk", flat=True))
    for community_id in community_ids:
        score_community_task.apply_async((community_id, as_of), expires=expires)
    return len(community_ids)


@shared_task(soft_time_limit=50, time_limit=60)
def score_waiting_communities() -> int:
    """Enqueue the rescores that could not be enqueued when they were asked for."""
    community_ids = list(
        Community.objects.filter(rescore_waiting_since__isnull=False).values_list("pk", flat=True)
    )
    for community_id in community_ids:
        score_community_task.apply_async((community_id,), expires=55)
    return len(community_ids)


def rescore_later(community: Community) -> None:
    """Rescore the community once this transaction commits (after an import, a weight change).

    If the broker fails, the community is marked as waiting (its pages say so) and the minutely
    sweep, score_waiting_communities, enqueues the rescore."""
    community_id = community.pk
    after_commit(
        lambda: score_community_task.delay(community_id),
        fallback=lambda: Community.objects.filter(pk=community_id).update(
            rescore_waiting_since=timezone.now()
        ),
        what=f"the rescore of community {community_id}",
    )
