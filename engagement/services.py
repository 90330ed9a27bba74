"""Writes that span members and their activities."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from members.models import Community, Member

from .models import Activity

# Member ids per UPDATE: stays below SQLite's and PostgreSQL's parameter limits.
BATCH_SIZE = 900


def update_last_seen(community: Community, member_ids: Iterable[int]) -> int:
    """Move each member's `last_seen_at` up to their newest *initiated* activity (DESIGN §5).

    `last_seen_at` becomes the later of its current value and that activity; it never moves
    back, and received activities (a reaction to the member's post) do not count. One UPDATE
    per BATCH_SIZE members; returns how many members changed.
    """
    newest = Subquery(
        Activity.objects.filter(member=OuterRef("pk"), kind__initiated=True)
        .order_by()
        .values("member")
        .annotate(newest=Max("occurred_at"))
        .values("newest")
    )
    ids = sorted(set(member_ids))
    changed = 0
    now = timezone.now()
    for start in range(0, len(ids), BATCH_SIZE):
        changed += (
            Member.objects.for_community(community)
            .filter(pk__in=ids[start : start + BATCH_SIZE])
            .annotate(newest=newest)
            .filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=F("newest")))
            .filter(newest__isnull=False)
            .update(last_seen_at=newest, updated_at=now)
        )
    return changed
