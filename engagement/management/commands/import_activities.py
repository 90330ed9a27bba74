from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engagement.importing import ImportFileError, import_activities
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

    def handle(self, *args, slug: str, file: Path, skip_invalid: bool, **options) -> None:
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
        if report.errors:
            count = len(report.errors)
            rows = "1 invalid row" if count == 1 else f"{count} invalid rows"
            if skip_invalid:
                raise CommandError(f"{rows} skipped; the valid rows were imported.")
            raise CommandError(
                f"{rows}; nothing was imported. Fix them, or pass --skip-invalid to import "
                "the valid rows."
            )
