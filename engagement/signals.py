import math

from django.db.backends.signals import connection_created
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from members.models import Community, Member
from members.signals import members_changed, members_merging

from .models import Activity, ActivityKind, HealthSnapshot, MemberScore
from .services import update_last_seen
from .tasks import rescore_later


@receiver(post_save, sender=Community, dispatch_uid="engagement_default_kinds")
def give_new_community_default_kinds(sender, instance: Community, created: bool, **kwargs) -> None:
    if created:
        ActivityKind.objects.create_defaults(instance)


@receiver(members_changed, sender=Member, dispatch_uid="engagement_last_seen")
def keep_last_seen_current(sender, community: Community, member_ids, **kwargs) -> None:
    """An imported last_seen_at may be older than the member's own newest activity; and the
    week's Community Health counts new members (0 on every score until a scoring run), in the
    same transaction, so the Engagement page agrees with the pills as soon as it commits."""
    update_last_seen(community, member_ids)
    HealthSnapshot.objects.record(community, as_of=timezone.now())


@receiver(members_merging, sender=Member, dispatch_uid="engagement_members_merging")
def move_activities_of_merged_member(
    sender, community: Community, kept: Member, merged: Member, **kwargs
) -> dict[str, int]:
    """The merged member's activities become the kept member's; its score goes with it, and
    the community is rescored once the merge commits (the kept member's score then counts the
    activities of both)."""
    moved = Activity.objects.filter(member=merged).update(member=kept)
    MemberScore.objects.filter(member=merged).delete()
    rescore_later(community)
    return {"activities": moved}


@receiver(connection_created, dispatch_uid="engagement_sqlite_math")
def register_sqlite_math(sender, connection, **kwargs) -> None:
    """Scoring (engagement/scoring.py) needs power() and log10(), which SQLite may lack.

    Registered on every SQLite connection, deterministic, and the same libm calls PostgreSQL
    makes, so both databases compute the same doubles.
    """
    if connection.vendor == "sqlite":
        raw = connection.connection
        raw.create_function("power", 2, math.pow, deterministic=True)
        raw.create_function("log10", 1, math.log10, deterministic=True)
