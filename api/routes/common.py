"""What the resources share: the caller's access, paging by id, members as the API shows them."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest

from community_os.ids import MAX_ID
from members.models import Identity, Member

from .. import cursors
from ..auth import Access
from ..problems import InputError


def access(request: HttpRequest) -> Access:
    found = getattr(request, "auth", None)
    if not isinstance(found, Access):  # every operation is authenticated: a bug otherwise
        raise TypeError("an API operation ran without authentication")
    return found


def after_id(kind: str, cursor: str | None, field: str = "cursor") -> int:
    try:
        return cursors.decode(kind, cursor)
    except cursors.BadCursor:
        raise InputError(field, "This is not a cursor this list gave; start without one.") from None


def page_of(rows: Any, limit: int, kind: str, key=lambda row: row.pk) -> tuple[list, str | None]:
    """The first `limit` of `rows` (read as limit + 1), and the cursor after them if more."""
    items = list(rows[: limit + 1])
    if len(items) > limit:
        return items[:limit], cursors.encode(kind, key(items[limit - 1]))
    return items, None


def members_shown(queryset: QuerySet) -> QuerySet:
    """The joins and prefetches `member_out` reads, in one query each for a page."""
    return queryset.select_related("score").prefetch_related(
        Prefetch(
            "identities",
            queryset=Identity.objects.order_by("source", "external_id"),
            to_attr="ordered_identities",
        )
    )


def member_out(member: Member) -> dict:
    score = getattr(member, "score", None)
    identities = getattr(member, "ordered_identities", None)
    if identities is None:
        identities = list(member.identities.order_by("source", "external_id"))
    return {
        "id": member.pk,
        "name": member.name,
        "email": member.email,
        "company_name": member.company_name,
        "job_title": member.job_title,
        "location": member.location,
        "city": member.city,
        "country": member.country,
        "bio": member.bio,
        "avatar_url": member.avatar_url,
        "joined_at": member.joined_at,
        "last_seen_at": member.last_seen_at,
        "attributes": member.attributes if isinstance(member.attributes, dict) else {},
        "identities": [{"source": i.source, "external_id": i.external_id} for i in identities],
        "scores": None
        if score is None
        else {
            "frequency": float(score.frequency),
            "recency": float(score.recency),
            "impact": float(score.impact),
            "engagement": float(score.engagement),
            "active_days_90": score.active_days_90,
            "as_of": score.as_of,
        },
        "created_at": member.created_at,
        "updated_at": member.updated_at,
    }


def get_member(request: HttpRequest, member_id: int) -> Member:
    """The member of the caller's community; 404 for any other id."""
    if not 1 <= member_id <= MAX_ID:
        raise Http404("No such member.")
    member = members_shown(Member.objects.for_community(access(request).community)).filter(
        pk=member_id
    )
    found = member.first()
    if found is None:
        raise Http404("No such member.")
    return found
