from django.core.management.base import BaseCommand, CommandParser

from engagement.importing import import_activities
from engagement.scoring import community_health, score_community
from members.management.csv_command import CsvImportCommand
from members.models import Community


class Command(CsvImportCommand):
    help = (
        "Add activities from a CSV file. By default nothing is written when any row is invalid "
        "(an unknown member or kind among them); every bad row is reported with its line number. "
        "Activities already imported (same source and external_id) are left alone."
    )
    file_help = "Activities CSV file (UTF-8, with a header)"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-score",
            action="store_true",
            help="Do not score the community after the import (the periodic scoring will).",
        )

    def import_file(self, *, community, file, skip_invalid):
        return import_activities(community=community, file=file, skip_invalid=skip_invalid)

    def after_import(self, community, report, *, no_score: bool = False, **options) -> None:
        if not no_score:
            score_and_report(self, community)


def score_and_report(command: BaseCommand, community: Community) -> None:
    """Score the community now and print its health, so imported activity shows at once."""
    score_community(community)
    health = community_health(community)
    members = "member" if health["scored"] == 1 else "members"
    command.stdout.write(
        f"Scored {health['scored']:,} {members}: {health['super_users']:,} super users, "
        f"{health['active']:,} active, {health['inactive']:,} inactive."
    )
