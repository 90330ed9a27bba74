"""What webhooks listen to: each receiver records an outbox row in the writer's transaction
(webhooks/models.py), only when an enabled endpoint of the community wants that event.

How `member.created` knows a member is new (members_changed says "created or updated"): the
community's MemberFeed keeps the highest member id announced. Every writer of members in bulk
(imports, platform exports, the join page) takes the community's import lock and sends
members_changed inside that transaction (members/locks.py), so when the receiver runs no other
bulk writer is in flight: the reported ids above the mark are exactly the members this write
created (ids only grow), and the mark moves to the highest of them. A member saved one at a
time (the admin, the shell) says so itself: post_save with created=True, announced at once; it
takes the import lock too to move the mark, so a later import that updates it does not
announce it again.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from members.locks import import_lock
from members.models import Community, ImportJob, Member
from members.signals import import_finished, members_changed
from segments.models import Segment
from segments.refresh import ledger_written

from .models import SEGMENT_EVENTS, Endpoint, Event, MemberFeed, Outbox
from .services import outbox_add


def _wanted(community_id: int, *events: str) -> bool:
    return bool(Endpoint.objects.filter(community_id=community_id).wanting(*events))


@receiver(ledger_written, sender=Segment, dispatch_uid="webhooks_ledger_written")
def record_ledger_rows(
    sender, community_id: int, segment_ids, after_id: int, up_to_id: int, **kwargs
) -> None:
    if _wanted(community_id, *SEGMENT_EVENTS):
        outbox_add(
            community_id=community_id,
            kind=Outbox.Kind.LEDGER,
            data={"segment_ids": list(segment_ids), "after_id": after_id, "up_to_id": up_to_id},
        )


@receiver(members_changed, sender=Member, dispatch_uid="webhooks_members_changed")
def record_created_members(sender, community: Community, member_ids, **kwargs) -> None:
    if not member_ids or not _wanted(community.pk, Event.MEMBER_CREATED):
        return
    ids = sorted({int(pk) for pk in member_ids})
    feed, made = MemberFeed.objects.select_for_update().get_or_create(
        community=community, defaults={"seen_up_to": ids[-1]}
    )
    if made:  # subscribed without the services (which start the feed): from now on
        return
    new = [pk for pk in ids if pk > feed.seen_up_to]
    if new:
        MemberFeed.objects.filter(pk=feed.pk).update(seen_up_to=new[-1])
        outbox_add(community_id=community.pk, kind=Outbox.Kind.MEMBERS, data={"member_ids": new})


@receiver(post_save, sender=Member, dispatch_uid="webhooks_member_created")
def record_member_created_alone(
    sender, instance: Member, created: bool, raw: bool = False, **kwargs
) -> None:
    if not created or raw or not _wanted(instance.community_id, Event.MEMBER_CREATED):
        return
    with transaction.atomic():
        import_lock(instance.community_id)
        feed, made = MemberFeed.objects.select_for_update().get_or_create(
            community_id=instance.community_id, defaults={"seen_up_to": instance.pk}
        )
        if not made and feed.seen_up_to < instance.pk:
            MemberFeed.objects.filter(pk=feed.pk).update(seen_up_to=instance.pk)
        outbox_add(
            community_id=instance.community_id,
            kind=Outbox.Kind.MEMBERS,
            data={"member_ids": [instance.pk]},
        )


@receiver(import_finished, sender=ImportJob, dispatch_uid="webhooks_import_finished")
def record_import_finished(sender, job_id: int, **kwargs) -> None:
    community_id = ImportJob.objects.filter(pk=job_id).values_list("community_id", flat=True)
    found = community_id.first()
    if found is not None and _wanted(found, Event.IMPORT_FINISHED):
        with transaction.atomic():
            outbox_add(community_id=found, kind=Outbox.Kind.IMPORT, data={"job_id": job_id})
