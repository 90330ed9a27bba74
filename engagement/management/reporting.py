"""Output the engagement commands share."""

from django.core.management.base import BaseCommand

from engagement.scoring import community_health, score_community
from members.models import Community


def score_and_report(command: BaseCommand, community: Community) -> None:
    """Score the community now and print its health, so imported activity shows at once."""
    score_community(community)
    health = community_health(community)
    members = "member" if health["scored"] == 1 else "members"
    command.stdout.write(
        f"Scored {health['scored']:,} {members}: {health['super_users']:,} super users, "
        f"{health['active']:,} active, {health['inactive']:,} inactive."
    )
