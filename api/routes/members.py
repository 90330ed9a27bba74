"""Members: the table's list (its search, filters and segment, in id order, by cursor), one
member, and the upsert, which merges exactly as an import's row does (members/importing.py)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Annotated

from django.db.models.functions import Lower
from django.http import Http404, HttpRequest, QueryDict
from ninja import Query, Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import AfterValidator, Field

from members import table
from members.filters import MAX_FILTER_LENGTH, MemberFilter
from members.importing import COLUMNS, MemberRecords, merge_member_records
from members.locks import import_transaction
from members.models import Identity, Member
from members.reports import ImportReport
from segments.models import Segment

from ..schemas import (
    Cursor,
    Id,
    IsoDate,
    Limit,
    MemberIn,
    MemberOut,
    MemberPage,
    MemberUpsertOut,
    clean_text,
)
from .common import access, after_id, get_member, member_out, members_shown, page_of

router = Router(tags=["members"])

FilterText = Annotated[str, Field(max_length=MAX_FILTER_LENGTH), AfterValidator(clean_text)]
SearchText = Annotated[str, Field(max_length=1000), AfterValidator(clean_text)]
Score = Annotated[float, Field(ge=0, le=3, allow_inf_nan=False)]


class MemberFilters(Schema):
    """The community table's own filters, by the names of its query parameters."""

    q: SearchText | None = Field(None, description="Every word in name, email, company or title.")
    company: FilterText | None = Field(None, description="Company is (any letter case).")
    title: FilterText | None = Field(None, description="Job title contains.")
    city: FilterText | None = None
    country: FilterText | None = None
    joined_after: IsoDate | None = Field(None, description="Joined on or after (community's day).")
    joined_before: IsoDate | None = Field(None, description="Joined on or before.")
    last_seen_after: IsoDate | None = None
    last_seen_before: IsoDate | None = None
    segment: Id | None = Field(None, description="Members of this segment.")
    engagement_min: Score | None = None
    engagement_max: Score | None = None
    frequency_min: Score | None = None
    frequency_max: Score | None = None
    recency_min: Score | None = None
    recency_max: Score | None = None
    impact_min: Score | None = None
    impact_max: Score | None = None
    limit: Limit = Field(50, description="Members per page, at most 200.")
    cursor: Cursor | None = Field(None, description="The `next` of the previous page.")


PAGING = ("limit", "cursor")


def filtered_members(request: HttpRequest, filters: MemberFilters):
    """The community's members that the table would show for these filters."""
    community = access(request).community
    given = filters.model_dump(exclude_none=True, exclude=set(PAGING))
    if (
        "segment" in given
        and not Segment.objects.for_community(community).filter(pk=given["segment"]).exists()
    ):
        raise Http404("No such segment.")
    data = QueryDict(mutable=True)
    for name, value in given.items():
        data[name] = value.isoformat() if isinstance(value, date) else str(value)
    scope = SimpleNamespace(community=community, user=getattr(request, "user", None))
    queryset = table.annotate(Member.objects.for_community(community))
    filtersets = [MemberFilter(data, queryset=queryset, request=scope)]
    for extension in table.extensions():
        if extension.filterset_class is not None:
            filtersets.append(
                extension.filterset_class(data, queryset=filtersets[-1].qs, request=scope)
            )
    errors = []
    for filterset in filtersets:
        for name, messages in filterset.form.errors.items():
            field = next(
                (f"{name}_{s}" for s in ("after", "before") if f"{name}_{s}" in given), name
            )
            errors += [{"loc": ("query", field), "msg": message} for message in messages]
    if errors:
        raise ValidationError(errors)
    return filtersets[-1].qs


@router.get("/members", response=MemberPage, summary="List members")
def list_members(request: HttpRequest, filters: Query[MemberFilters]):
    """The members the community table shows for the same search and filters, in id order.
    Follow `next` (as `cursor`) until it is null to read them all."""
    after = after_id("members", filters.cursor)
    members = members_shown(filtered_members(request, filters).filter(pk__gt=after).order_by("pk"))
    items, cursor = page_of(members, filters.limit, "members")
    return {"items": [member_out(member) for member in items], "next": cursor}


@router.get("/members/{member_id}", response=MemberOut, summary="Get a member")
def get_member_by_id(request: HttpRequest, member_id: Id):
    return member_out(get_member(request, member_id))


_FIELDS = [name for name in COLUMNS if name not in ("first_name", "last_name")]


@router.post(
    "/members",
    response={200: MemberUpsertOut, 201: MemberUpsertOut},
    summary="Create or update a member",
)
def upsert_member(request: HttpRequest, payload: MemberIn):
    """Finds the member by (source, external_id), else by email in any letter case, and
    updates the fields given; otherwise creates one (201). Merged as an import's row is: a
    field left out keeps its value, an email differing only in letter case is not rewritten,
    a date more than a day ahead is refused, an email held by another member than the
    identity's is refused. Segments and scores follow as after an import."""
    community = access(request).community
    given = payload.model_dump(exclude_none=True, exclude={"attributes"})
    fields = [name for name in _FIELDS if name in given]
    attributes = sorted(payload.attributes)
    cells = [
        given[name].isoformat() if hasattr(given[name], "isoformat") else given[name]
        for name in fields
    ] + [payload.attributes[key] for key in attributes]
    report = ImportReport()
    with import_transaction(community, report, skip_invalid=False, dry_run=False) as changed:
        changed.update(
            merge_member_records(
                community=community,
                records=MemberRecords(fields, attributes, [(1, cells)]),
                report=report,
            )
        )
    if report.errors:
        raise ValidationError(
            [
                {"loc": ("body", "payload", _field_of(problem)), "msg": problem}
                for error in report.errors
                for problem in error.message.split("; ")
            ]
        )
    member = _find(community, payload)
    if member is None:  # skipped (it cannot be with an email or identity), or deleted since
        raise Http404("The member could not be found after the merge.")
    result = "created" if report.created else "updated" if report.updated else "unchanged"
    return Status(201 if report.created else 200, {**member_out(member), "result": result})


def _field_of(message: str) -> str:
    word = message.split(" ", 1)[0]
    return word if word in COLUMNS or word == "attributes" else ""


def _find(community, payload: MemberIn) -> Member | None:
    members = members_shown(Member.objects.for_community(community))
    if payload.external_id is not None:
        identity = Identity.objects.filter(
            community=community, source=payload.source, external_id=payload.external_id
        ).first()
        if identity is not None:
            return members.filter(pk=identity.member_id).first()
    if payload.email is not None:
        return (
            members.exclude(email="")
            .annotate(email_lower=Lower("email"))
            .filter(email_lower=payload.email.lower())
            .first()
        )
    return None
