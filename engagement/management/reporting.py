"""Output the engagement commands share."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

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


class ScoredAfterImport(BaseCommand):
    """For an import command (members/management/csv_command.py), placed before it in the
    bases: `--no-score`, and else the community scored once the import wrote something."""

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-score",
            action="store_true",
            help="Do not score the community after the import (the periodic scoring will).",
        )

    def after_import(self, community, report, *, no_score: bool = False, **options: Any) -> None:
        if not no_score:
            score_and_report(self, community)
