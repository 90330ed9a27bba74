"""The ledger as a feed (segments.models.MembershipChange): every entry into and exit from a
segment, in id order, from a cursor on, for a program that keeps another system in sync."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from segments.models import MembershipChange

from .. import cursors
from ..schemas import Cursor, Id, Limit, MembershipChangePage
from .common import access, after_id, page_of
from .segments import get_segment

router = Router(tags=["membership changes"])


class Feed(Schema):
    since: Cursor | None = Field(
        None, description="The `next` of the previous call; none: from the first change."
    )
    segment: Id | None = Field(None, description="Only the changes of this segment.")
    limit: Limit = Field(100, description="Changes per call, at most 200.")


@router.get("/membership-changes", response=MembershipChangePage, summary="Membership changes")
def list_membership_changes(request: HttpRequest, feed: Query[Feed]):
    """Who entered and left which segment, and why (`via`: rule, manual, import, api), oldest
    first. Call again with `next` as `since` for what happened since; `next` is never null,
    so a program keeps the last one it read and polls with it."""
    community = access(request).community
    after = after_id("changes", feed.since, field="since")
    changes = MembershipChange.objects.filter(community=community, pk__gt=after)
    if feed.segment is not None:
        changes = changes.filter(segment=get_segment(request, feed.segment))
    rows = changes.select_related("segment", "by").order_by("pk")
    items, cursor = page_of(rows, feed.limit, "changes")
    last = items[-1].pk if items else after
    return {
        "items": [
            {
                "id": change.pk,
                "segment_id": change.segment_id,
                "segment_name": change.segment.name,
                "member_id": change.member_id,
                "change": change.change,
                "via": change.via,
                "rule_version": change.rule_version,
                "by": change.by.get_username() if change.by else None,
                "at": change.at,
            }
            for change in items
        ],
        "next": cursor or cursors.encode("changes", last),
    }
