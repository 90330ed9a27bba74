from django.core.management.base import CommandParser

from engagement.management.reporting import score_and_report
from members.management.csv_command import CsvImportCommand


class Command(CsvImportCommand):
    help = (
        "Add activities from a CSV file. By default nothing is written when any row is invalid "
        "(an unknown member or kind among them); every bad row is reported with its line number. "
        "Activities already imported (same source and external_id) are left alone."
    )
    importer_slug = "activities"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-score",
            action="store_true",
            help="Do not score the community after the import (the periodic scoring will).",
        )

    def after_import(self, community, report, *, no_score: bool = False, **options) -> None:
        if not no_score:
            score_and_report(self, community)
