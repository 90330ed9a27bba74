"""What every CSV import command shares: arguments, file errors, the line-numbered report."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.csv_import import ImportFileError, ImportReport
from members.models import Community


class CsvImportCommand(BaseCommand):
    """`<command> SLUG FILE.csv [--skip-invalid]`: exits 1 when any row is invalid."""

    file_help = "CSV file (UTF-8, with a header)"

    def import_file(
        self, *, community: Community, file: IO[bytes], skip_invalid: bool
    ) -> ImportReport:
        raise NotImplementedError

    def after_import(self, community: Community, report: ImportReport, **options: Any) -> None:
        """Called when the import wrote something (it was not rolled back)."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The community's slug")
        parser.add_argument("file", type=Path, help=self.file_help)
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid rows and report the invalid ones.",
        )

    def handle(self, *args, slug: str, file: Path, skip_invalid: bool, **options) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f'No community with the slug "{slug}".')
        try:
            with file.open("rb") as csv_file:
                report = self.import_file(
                    community=community, file=csv_file, skip_invalid=skip_invalid
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        except ImportFileError as exc:
            raise CommandError(f"{file}: {exc} Nothing was imported.") from None
        for error in report.errors:
            self.stderr.write(str(error))
        self.stdout.write(report.summary())
        if not report.rolled_back:
            self.after_import(community, report, **options)
        if report.errors:
            count = len(report.errors)
            rows = "1 invalid row" if count == 1 else f"{count} invalid rows"
            if skip_invalid:
                raise CommandError(f"{rows} skipped; the valid rows were imported.")
            raise CommandError(
                f"{rows}; nothing was imported. Fix them, or pass --skip-invalid to import "
                "the valid rows."
            )
