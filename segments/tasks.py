"""Thin Celery tasks (ids in, segments/refresh.py does the work) and the `*_later` helpers that
enqueue them once the current transaction commits
(docs/architecture.md "Segments: refresh and triggers")."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from datetime import datetime

from celery import shared_task
from django.db import models, transaction
from django.utils import timezone

from community_os.enqueue import after_commit, send_or_fall_back
from members.models import Community
from members.signals import follow_up_here

from . import graph, refresh, rules
from .models import Segment

logger = logging.getLogger(__name__)

# A change to more members than this refreshes every smart segment in full instead: past a
# few thousand members one pass over the community is cheaper than the member-by-id path.
FAST_PATH_LIMIT = 5_000
# A sweep's refresh not started within this many seconds is dropped: the next sweep (every
# minute) enqueues it again.
SWEEP_EXPIRES = 60
MAX_RETRIES = 5


def _backoff(retries: int) -> float:
    """Seconds before retry number `retries + 1`: 5, 10, 20, 40... up to 10 minutes, jittered."""
    return min(600, 5 * 2**retries) * random.uniform(0.8, 1.2)  # noqa: S311


@shared_task(bind=True, max_retries=MAX_RETRIES, soft_time_limit=600, time_limit=720)
def refresh_segment_task(
    self, community_id: int, segment_id: int, requested_at: str | None = None
) -> tuple[int, int] | None:
    """Refresh one segment unless a refresh that started after `requested_at` already ran."""
    if not Segment.objects.filter(pk=segment_id, community_id=community_id).exists():
        logger.info(
            "Segment %s of community %s is gone; nothing to refresh.", segment_id, community_id
        )
        return None
    since = datetime.fromisoformat(requested_at) if requested_at else None
    try:
        result = refresh.refresh_segment(segment_id, unless_refreshed_since=since)
    except refresh.RefreshError as error:
        if error.retryable:
            raise self.retry(exc=error, countdown=_backoff(self.request.retries)) from error
        logger.warning("%s", error)
        return None
    if result.changed:
        _enqueue_dependents(community_id, segment_id)
    return result.entered, result.left


@shared_task(bind=True, max_retries=MAX_RETRIES, soft_time_limit=600, time_limit=720)
def refresh_members_task(self, community_id: int, member_ids: list[int]) -> int | None:
    """The fast path: re-evaluate these members of the community against every smart segment."""
    community = Community.objects.filter(pk=community_id).first()
    if community is None:
        return None
    # Only ids of this community's members are looked at (the refresh filters by community).
    results = refresh.refresh_members(community, member_ids)
    if any(isinstance(r, refresh.RefreshError) and r.retryable for r in results):
        # Re-running is harmless: segments already up to date for these members change nothing.
        raise self.retry(countdown=_backoff(self.request.retries))
    return sum(r.entered + r.left for r in results if isinstance(r, refresh.RefreshResult))


@shared_task(soft_time_limit=50, time_limit=60)
def sweep_segments() -> int:
    """Enqueue a refresh of every smart segment older than its community's interval."""
    now = timezone.now()
    stale = list(Segment.objects.stale(now).values_list("community_id", "pk"))
    for community_id, segment_id in stale:
        refresh_segment_task.apply_async(
            (community_id, segment_id, now.isoformat()), expires=SWEEP_EXPIRES
        )
    return len(stale)


def _enqueue(community_id: int, segment_ids: Iterable[int]) -> None:
    """Enqueue a refresh of each segment, in this order; if the broker fails, the segments are
    marked as not refreshed (the page says "updating…") and the next sweep enqueues them."""
    ids = list(segment_ids)
    requested_at = timezone.now().isoformat()

    def send() -> None:
        for segment_id in ids:
            refresh_segment_task.delay(community_id, segment_id, requested_at)

    send_or_fall_back(
        send,
        fallback=lambda: _mark_waiting(Segment.objects.filter(pk__in=ids)),
        what=f"the refresh of segments {ids} of community {community_id}",
    )


def _mark_waiting(segments: models.QuerySet[Segment]) -> None:
    """Segments whose refresh could not be enqueued: "updating…" until the sweep refreshes
    them (it takes every smart segment never refreshed, within a minute)."""
    segments.smart().update(refreshed_at=None)


def _enqueue_dependents(community_id: int, segment_id: int) -> None:
    community = Community.objects.get(pk=community_id)
    _enqueue(community_id, graph.dependents(graph.dependency_graph(community), segment_id))


def refresh_later(segment: Segment) -> None:
    """Refresh the segment (then the segments that refer to it) once this transaction commits."""
    community_id, segment_id = segment.community_id, segment.pk
    transaction.on_commit(lambda: _enqueue(community_id, [segment_id]))


def refresh_dependents_later(segment: Segment) -> None:
    """After a manual segment's members changed: refresh the segments whose rules use it."""
    community_id, segment_id = segment.community_id, segment.pk
    transaction.on_commit(lambda: _enqueue_dependents(community_id, segment_id))


def refresh_members_later(community_id: int, member_ids: Iterable[int]) -> None:
    """Re-evaluate changed members of a community against every smart segment, after commit.
    If the broker fails, every smart segment of the community waits for the sweep instead."""
    ids = sorted(set(member_ids))
    if not ids:
        return
    if follow_up_here.get():  # an import job: refreshed before it says done
        transaction.on_commit(lambda: _refresh_members_now(community_id, ids))
    elif len(ids) > FAST_PATH_LIMIT:
        transaction.on_commit(lambda: _enqueue_all_smart(community_id))
    else:
        after_commit(
            lambda: refresh_members_task.delay(community_id, ids),
            fallback=lambda: _mark_waiting(Segment.objects.filter(community_id=community_id)),
            what=f"the refresh of {len(ids)} changed members of community {community_id}",
        )


def _refresh_members_now(community_id: int, ids: list[int]) -> None:
    """The refresh the tasks would do for these changed members, in this process."""
    community = Community.objects.get(pk=community_id)
    if len(ids) > FAST_PATH_LIMIT:
        refresh.refresh_community(community)
    else:
        refresh.refresh_members(community, ids)


def _enqueue_all_smart(community_id: int) -> None:
    """Every smart segment, referenced segments before the rules that read them (a worker
    takes them in this order, so a reader is not refreshed before what it reads)."""
    community = Community.objects.get(pk=community_id)
    order, stuck = graph.refresh_order(graph.dependency_graph(community))
    smart = set(Segment.objects.for_community(community).smart().values_list("pk", flat=True))
    _enqueue(community_id, [pk for pk in [*order, *stuck] if pk in smart])


SCORE_FIELDS = frozenset(
    name for name, spec in rules.FIELDS.items() if spec.path.startswith("score__")
)


def refresh_score_segments_later(community: Community) -> None:
    """After scoring: refresh the smart segments whose rules read a score (referrers follow)."""
    community_id = community.pk

    def enqueue() -> None:
        readers = [
            segment.pk
            for segment in Segment.objects.filter(community_id=community_id).smart()
            if _reads_scores(segment.rule)
        ]
        _enqueue(community_id, readers)

    transaction.on_commit(enqueue)


def _reads_scores(rule: object) -> bool:
    try:
        return bool(rules.fields_used(rules.parse(rule)) & SCORE_FIELDS)
    except rules.RuleError:
        return False
