from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.importing import ImportFileError, import_activities
from engagement.scoring import community_health, score_community
from members.models import Community


class Command(BaseCommand):
    help = (
        "Add activities from a CSV file. By default nothing is written when any row is invalid "
        "(an unknown member or kind among them); every bad row is reported with its line number. "
        "Activities already imported (same source and external_id) are left alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The community's slug")
        parser.add_argument("file", type=Path, help="Activities CSV file (UTF-8, with a header)")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid rows and report the invalid ones.",
        )
        parser.add_argument(
            "--no-score",
            action="store_true",
            help="Do not score the community after the import (the periodic scoring will).",
        )

    def handle(
        self, *args, slug: str, file: Path, skip_invalid: bool, no_score: bool, **options
    ) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f'No community with the slug "{slug}".')
        try:
            with file.open("rb") as csv_file:
                report = import_activities(
                    community=community, file=csv_file, skip_invalid=skip_invalid
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        except ImportFileError as exc:
            raise CommandError(f"{file}: {exc} Nothing was imported.") from None
        for error in report.errors:
            self.stderr.write(str(error))
        self.stdout.write(report.summary())
        if not report.rolled_back and not no_score:
            score_and_report(self, community)
        if report.errors:
            count = len(report.errors)
            rows = "1 invalid row" if count == 1 else f"{count} invalid rows"
            if skip_invalid:
                raise CommandError(f"{rows} skipped; the valid rows were imported.")
            raise CommandError(
                f"{rows}; nothing was imported. Fix them, or pass --skip-invalid to import "
                "the valid rows."
            )


def score_and_report(command: BaseCommand, community: Community) -> None:
    """Score the community now and print its health, so imported activity shows at once."""
    score_community(community)
    health = community_health(community)
    members = "member" if health["scored"] == 1 else "members"
    command.stdout.write(
        f"Scored {health['scored']:,} {members}: {health['super_users']:,} super users, "
        f"{health['active']:,} active, {health['inactive']:,} inactive."
    )
