"""What the commands of the platform importers share: an import job run in this process,
then the community scored (unless --no-score)."""

from django.core.management.base import CommandParser

from engagement.management.reporting import score_and_report
from members.management.csv_command import ImportCommand


class ExportImportCommand(ImportCommand):
    """`<command> SLUG PATH [--skip-invalid] [--no-score]`: PATH a zip, a folder or a file."""

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
