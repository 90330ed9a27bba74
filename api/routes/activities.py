"""Activities: a batch of up to 1,000, written as an import writes them (engagement/importing.py
ActivityWriter): idempotent by (source, external_id), all or nothing, then the changed members'
refresh (members_changed) and a rescore of the community once it commits."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.errors import ValidationError

from engagement.importing import ActivityRow, ActivityWriter
from engagement.models import ActivityKind
from engagement.tasks import rescore_later
from members.csv_import import quote
from members.locks import import_transaction
from members.reports import ImportReport

from ..schemas import ActivityBatchIn, ActivityBatchOut
from .common import access

router = Router(tags=["activities"])


@router.post("/activities", response=ActivityBatchOut, summary="Add activities")
def add_activities(request: HttpRequest, payload: ActivityBatchIn):
    """Adds the activities not stored yet. An activity whose (source, external_id) is stored
    already, or repeats one earlier in the batch, counts as unchanged: send a batch again and
    nothing changes (an activity without an external_id cannot be recognised and is added
    again). An unknown kind or member refuses the whole batch (422, naming each)."""
    community = access(request).community
    kinds = {kind.slug: kind for kind in ActivityKind.objects.for_community(community)}
    unknown = [
        {
            "loc": ("body", "payload", "activities", index, "kind"),
            "msg": f"Unknown kind {quote(item.kind)}; known kinds: {', '.join(sorted(kinds))}.",
        }
        for index, item in enumerate(payload.activities)
        if item.kind not in kinds
    ]
    if unknown:
        raise ValidationError(unknown)
    report = ImportReport()
    with import_transaction(community, report, skip_invalid=False, dry_run=False) as changed:
        writer = ActivityWriter(community, report)
        for index, item in enumerate(payload.activities):
            report.rows_read += 1
            writer.add(
                ActivityRow(
                    line=index + 1,
                    kind=kinds[item.kind],
                    occurred_at=item.occurred_at,
                    source=item.source,
                    member_identity=(item.member.source, item.member.external_id)
                    if item.member
                    else None,
                    member_email=item.member_email or "",
                    external_id=item.external_id,
                    channel=item.channel,
                    title=item.title,
                    url=item.url,
                )
            )
        writer.flush()
        changed.update(writer.member_ids)
        if report.created and not report.errors:
            rescore_later(community)
    if report.errors:
        raise ValidationError(
            [
                {
                    "loc": ("body", "payload", "activities", error.line - 1, _member_field(item)),
                    "msg": f"No member with {_member_label(item)}.",
                }
                for error in report.errors
                for item in [payload.activities[error.line - 1]]
            ]
        )
    return {"created": report.created, "unchanged": report.unchanged}


def _member_field(item) -> str:
    return "member" if item.member is not None else "member_email"


def _member_label(item) -> str:
    if item.member is not None:
        return f"the {item.member.source} external_id {quote(item.member.external_id)}"
    return f"the email {quote(item.member_email)}"
