"""How segments follow changes in members and scores
(docs/architecture.md "Segments: refresh and triggers")."""

from django.db.models import F
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from engagement.scoring import scores_changed
from members.models import Community, Identity, Member
from members.signals import members_changed, members_merging

from .locks import membership_lock
from .models import Segment
from .services import merge_memberships
from .tasks import refresh_members_later, refresh_score_segments_later


@receiver(members_changed, sender=Member, dispatch_uid="segments_members_changed")
def reevaluate_changed_members(sender, community: Community, member_ids, **kwargs) -> None:
    refresh_members_later(community.pk, member_ids)


@receiver(post_save, sender=Member, dispatch_uid="segments_member_saved")
def reevaluate_saved_member(sender, instance: Member, raw: bool = False, **kwargs) -> None:
    """One member edited (the admin, a form): bulk writes send members_changed instead."""
    if not raw:
        refresh_members_later(instance.community_id, [instance.pk])


@receiver(post_save, sender=Identity, dispatch_uid="segments_identity_saved")
def reevaluate_member_of_identity(sender, instance: Identity, raw: bool = False, **kwargs) -> None:
    """A new identity can change "Source is slack". (A deleted one is left to the sweep: a
    post_delete receiver would fire once per identity when a whole community is deleted.)"""
    if not raw:
        refresh_members_later(instance.community_id, [instance.member_id])


@receiver(scores_changed, sender=Community, dispatch_uid="segments_scores_changed")
def refresh_segments_reading_scores(sender, community: Community, **kwargs) -> None:
    refresh_score_segments_later(community)


@receiver(pre_delete, sender=Community, dispatch_uid="segments_community_deleted")
def wait_for_writers_when_a_community_goes(sender, instance: Community, **kwargs) -> None:
    """Its segments and members go with it: once, for all of them (segments/locks.py)."""
    membership_lock(instance.pk, exclusive=True)


@receiver(pre_delete, sender=Member, dispatch_uid="segments_member_deleted")
def keep_counts_when_a_member_goes(sender, instance: Member, origin=None, **kwargs) -> None:
    """The member's memberships go with it (cascade) once the refreshes in flight are done
    (segments/locks.py); the stored counts must follow."""
    if _community_deletion(origin):
        return  # the community's receiver took the lock; its segments go too
    membership_lock(instance.community_id, exclusive=True)
    Segment.objects.filter(memberships__member=instance).update(member_count=F("member_count") - 1)


@receiver(members_merging, sender=Member, dispatch_uid="segments_members_merging")
def move_memberships_of_merged_member(
    sender, community: Community, kept: Member, merged: Member, by=None, **kwargs
) -> dict[str, int]:
    """Before the merged member is deleted (segments/services.py merge_memberships)."""
    return merge_memberships(community=community, kept=kept, merged=merged, by=by)


@receiver(pre_delete, sender=Segment, dispatch_uid="segments_segment_deleted")
def wait_for_writers_when_a_segment_goes(sender, instance: Segment, origin=None, **kwargs) -> None:
    """The segment's memberships and ledger go with it (cascade), once the refreshes in
    flight are done: their rows must not outlive it (segments/locks.py)."""
    if not _community_deletion(origin):
        membership_lock(instance.community_id, exclusive=True)


def _community_deletion(origin) -> bool:
    """Whether a deletion started at a community (an instance or a queryset of them): then
    thousands of members go at once, and the per-member work above is not needed."""
    return isinstance(origin, Community) or getattr(origin, "model", None) is Community
