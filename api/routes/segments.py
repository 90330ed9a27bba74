"""Segments through their services (segments/services.py): the same checks and the same error
messages as the screens, each naming its field; a segment's members by cursor; adding and
removing members of a manual segment."""

from __future__ import annotations

from django.db.models.functions import Lower
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from community_os.ids import MAX_ID
from members.models import Member
from segments import rules, services
from segments.models import Segment, SegmentMembership, Via

from ..schemas import (
    Cursor,
    Id,
    Limit,
    SegmentAddOut,
    SegmentIn,
    SegmentMemberPage,
    SegmentMembersIn,
    SegmentOut,
    SegmentPage,
    SegmentPatch,
    SegmentRemoveOut,
)
from .common import access, after_id, member_out, members_shown, page_of

router = Router(tags=["segments"])


class Paging(Schema):
    limit: Limit = Field(50, description="Items per page, at most 200.")
    cursor: Cursor | None = Field(None, description="The `next` of the previous page.")


def get_segment(request: HttpRequest, segment_id: int) -> Segment:
    """The segment of the caller's community; 404 for any other id."""
    community = access(request).community
    if not 1 <= segment_id <= MAX_ID:
        raise Http404("No such segment.")
    segment = Segment.objects.for_community(community).filter(pk=segment_id).first()
    if segment is None:
        raise Http404("No such segment.")
    segment.community = community
    return segment


def _names(segments: list[Segment], community) -> dict[int, str]:
    referred = set()
    for segment in segments:
        if segment.is_smart and isinstance(segment.rule, dict):
            try:
                referred |= rules.segments_used(segment.parsed_rule())
            except rules.RuleError:
                continue
    return dict(
        Segment.objects.for_community(community).filter(pk__in=referred).values_list("pk", "name")
    )


def segment_out(segment: Segment, names: dict[int, str]) -> dict:
    rule_text = ""
    if segment.is_smart:
        try:
            rule_text = rules.describe(segment.parsed_rule(), segment_names=names)
        except rules.RuleError as error:
            rule_text = f"Invalid rule: {error}"
    return {
        "id": segment.pk,
        "name": segment.name,
        "kind": segment.kind,
        "rule": segment.rule,
        "rule_text": rule_text,
        "description": segment.description,
        "color": segment.color,
        "pinned": segment.pinned,
        "position": segment.position,
        "member_count": segment.member_count,
        "rule_version": segment.rule_version,
        "is_updating": segment.is_updating,
        "refreshed_at": segment.refreshed_at,
        "refresh_error": segment.refresh_error,
        "review_every_days": segment.review_every_days,
        "reviewed_at": segment.reviewed_at,
        "review_due": segment.is_due_for_review(),
        "edit_version": segment.edit_version,
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
    }


def _one(segment: Segment) -> dict:
    return segment_out(segment, _names([segment], segment.community))


@router.get("/segments", response=SegmentPage, summary="List segments")
def list_segments(request: HttpRequest, paging: Query[Paging]):
    """The community's segments in id order."""
    community = access(request).community
    after = after_id("segments", paging.cursor)
    segments = Segment.objects.for_community(community).filter(pk__gt=after).order_by("pk")
    items, cursor = page_of(segments, paging.limit, "segments")
    names = _names(items, community)
    return {"items": [segment_out(segment, names) for segment in items], "next": cursor}


@router.get("/segments/{segment_id}", response=SegmentOut, summary="Get a segment")
def get_segment_by_id(request: HttpRequest, segment_id: Id):
    return _one(get_segment(request, segment_id))


@router.post("/segments", response={201: SegmentOut}, summary="Create a segment")
def create_segment(request: HttpRequest, payload: SegmentIn):
    """A smart segment has a rule (docs/rules.md: other segments referred to by id) and is
    refreshed in the background once created; a manual one has none."""
    caller = access(request)
    segment = services.segment_create(
        community=caller.community,
        name=payload.name,
        kind=payload.kind,
        rule=payload.rule,
        description=payload.description,
        color=payload.color,
        pinned=payload.pinned,
        review_every_days=payload.review_every_days,
        by=caller.user,
    )
    return Status(201, _one(segment))


@router.patch("/segments/{segment_id}", response=SegmentOut, summary="Change a segment")
def update_segment(request: HttpRequest, segment_id: Id, payload: SegmentPatch):
    """Changes the fields given. A new rule is refreshed in the background (`is_updating`
    until then). With `edit_version`, a save by someone else since is refused (409)."""
    segment = get_segment(request, segment_id)
    changes = payload.model_dump(exclude_unset=True)
    edit_version = changes.pop("edit_version", None)
    if changes.get("pinned", False) is None:  # null: not a change (there is no third state)
        del changes["pinned"]
    updated = services.segment_update(
        segment=segment, by=access(request).user, edit_version=edit_version, **changes
    )
    return _one(updated)


@router.delete("/segments/{segment_id}", response={204: None}, summary="Delete a segment")
def delete_segment(request: HttpRequest, segment_id: Id):
    """Deletes the segment with its memberships and history; refused (409) while another
    segment's rule refers to it."""
    services.segment_delete(segment=get_segment(request, segment_id))
    return HttpResponse(status=204)


@router.get(
    "/segments/{segment_id}/members", response=SegmentMemberPage, summary="A segment's members"
)
def list_segment_members(request: HttpRequest, segment_id: Id, paging: Query[Paging]):
    """The segment's members in id order, each with when and how they entered. Walking every
    `next` gives exactly the members of the segment's CSV export."""
    segment = get_segment(request, segment_id)
    after = after_id(f"segment-{segment.pk}", paging.cursor)
    memberships = list(
        SegmentMembership.objects.filter(segment=segment, member_id__gt=after)
        .order_by("member_id")
        .values_list("member_id", "added_at", "via")[: paging.limit + 1]
    )
    shown, cursor = page_of(memberships, paging.limit, f"segment-{segment.pk}", key=lambda r: r[0])
    members = members_shown(Member.objects.for_community(segment.community)).in_bulk(
        [member_id for member_id, _, _ in shown]
    )
    items = [
        {**member_out(members[member_id]), "entered_at": added_at, "via": via}
        for member_id, added_at, via in shown
        if member_id in members
    ]
    return {"items": items, "next": cursor}


def _members_of(
    segment: Segment, payload: SegmentMembersIn
) -> tuple[dict[int, Member], list, list]:
    """The members the ids and emails name, in the segment's community, and those not found."""
    members = Member.objects.for_community(segment.community)
    found = {member.pk: member for member in members.filter(pk__in=payload.member_ids)}
    unknown_ids = [pk for pk in dict.fromkeys(payload.member_ids) if pk not in found]
    wanted = {email.strip().lower(): email for email in payload.emails}
    by_email: dict[str, Member] = {}
    keys = sorted(wanted)
    for start in range(0, len(keys), services.LOOKUP_CHUNK):
        chunk = keys[start : start + services.LOOKUP_CHUNK]
        for member in members.exclude(email="").annotate(key=Lower("email")).filter(key__in=chunk):
            by_email[member.key] = member
    unknown_emails = [email for key, email in wanted.items() if key not in by_email]
    found.update({member.pk: member for member in by_email.values()})
    return found, unknown_ids, unknown_emails


@router.post(
    "/segments/{segment_id}/members",
    response=SegmentAddOut,
    summary="Add members to a manual segment",
)
def add_segment_members(request: HttpRequest, segment_id: Id, payload: SegmentMembersIn):
    """Adds the members given by id or by email (any letter case) to a manual segment (a
    smart one is 409: its rule decides). Ids and emails of no member of the community are
    listed back, not added."""
    segment = get_segment(request, segment_id)
    found, unknown_ids, unknown_emails = _members_of(segment, payload)
    report = services.segment_add_members(
        segment=segment, members=found.values(), by=access(request).user, via=Via.API
    )
    return {
        "added": sorted(member.pk for member in report.added),
        "already": sorted(member.pk for member in report.already),
        "unknown_member_ids": unknown_ids,
        "unknown_emails": unknown_emails,
    }


@router.delete(
    "/segments/{segment_id}/members",
    response=SegmentRemoveOut,
    summary="Remove members from a manual segment",
)
def remove_segment_members(request: HttpRequest, segment_id: Id, payload: SegmentMembersIn):
    """Takes the members given by id or email out of a manual segment (a smart one is 409);
    returns the ids that were in it."""
    segment = get_segment(request, segment_id)
    found, _, _ = _members_of(segment, payload)
    inside = sorted(
        SegmentMembership.objects.filter(segment=segment, member_id__in=list(found)).values_list(
            "member_id", flat=True
        )
    )
    services.segment_remove_members(
        segment=segment, member_ids=list(found), by=access(request).user, via=Via.API
    )
    return {"removed": inside}
