"""What every import command shares: arguments, the job it records, progress on a terminal,
file errors and the line-numbered report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.csv_import import ENCODINGS
from members.imports import Importer, get_importer
from members.jobs import job_execute, job_for_command
from members.mapping import BLANKS, DATE_FORMATS, ImportOptions
from members.models import Community, ImportJob
from members.reports import ImportReport


class ImportCommand(BaseCommand):
    """`<command> SLUG PATH [--skip-invalid]`: runs the importer `importer_slug` of
    members/imports.py as an import job in this process; exits 1 when any row is invalid.
    PATH may be a folder for an importer of a platform's export (an unpacked zip)."""

    importer_slug = "members"
    file_help = "the file to import"

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
        importer = self._importer()
        choices = self._options(options)
        try:
            with self._opened(importer, file) as (opened, size):
                job = job_for_command(
                    community=community, importer=importer, file_name=file.name, size=size
                )
                job.options, job.skip_invalid = choices.as_json(), skip_invalid
                job.save(update_fields=["options", "skip_invalid"])
                report = job_execute(job, opened, on_progress=self._progress, follow_up=False)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from None
        self._end_progress()
        if report is None:
            raise CommandError(f"{file}: {job.message} Nothing was imported.")
        for error in report.errors:
            self.stderr.write(str(error))
        for skip in report.skips:
            self.stderr.write(f"{skip} (skipped)")
        self.stdout.write(report.summary())
        for label, count in report.details:
            self.stdout.write(f"  {label}: {count:,}")
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

    def _importer(self) -> Importer:
        importer = get_importer(self.importer_slug)
        if importer is None:
            raise CommandError(f"No importer {self.importer_slug!r} is installed.")
        return importer

    def _options(self, options: dict) -> ImportOptions:
        return ImportOptions()

    @contextmanager
    def _opened(self, importer: Importer, file: Path) -> Iterator[tuple[IO[bytes] | Path, int]]:
        """The file opened, and its size; a folder (an unpacked export) as its path, with the
        size of its files."""
        if file.is_dir() and importer.export is not None:
            yield file, sum(path.stat().st_size for path in file.rglob("*") if path.is_file())
            return
        with file.open("rb") as opened:
            yield opened, file.stat().st_size

    def _progress(self, job: ImportJob) -> None:
        """On a terminal, one line that counts the rows read."""
        if self.stdout.isatty():
            self.stdout.write(f"\r{job.rows_read:,} rows read ({job.percent}%)", ending="")
            self.stdout.flush()
            self._shown = True

    def _end_progress(self) -> None:
        if getattr(self, "_shown", False):
            self.stdout.write("")


class CsvImportCommand(ImportCommand):
    """`<command> SLUG FILE [--skip-invalid] [--map COLUMN=field ...] [--date-format F]
    [--blank keep|clear] [--encoding E]`: a table, read through the manager's mapping."""

    file_help = "CSV or XLSX file with a header row"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help='Read COLUMN as FIELD ("ignore" to leave it out); repeat for several.',
        )
        parser.add_argument(
            "--date-format",
            choices=list(DATE_FORMATS),
            default="iso",
            help="How dates that are not ISO 8601 are written (day_first: 01/12/2026 is "
            "1 December).",
        )
        parser.add_argument(
            "--blank",
            choices=list(BLANKS),
            default="keep",
            help="What an empty cell does to a stored value (default: keep it).",
        )
        parser.add_argument(
            "--encoding",
            choices=list(ENCODINGS),
            default="utf-8",
            help="A CSV file's text encoding (a UTF-16 byte-order mark is recognised anyway).",
        )

    def _options(self, options: dict) -> ImportOptions:
        mapping = {}
        for item in options["map"]:
            column, equals, target = item.rpartition("=")
            if not equals or not column:
                raise CommandError(
                    f'--map {item!r}: write it as COLUMN=FIELD, e.g. "E-mail=email".'
                )
            mapping[column] = target
        return ImportOptions(
            mapping=mapping,
            date_format=options["date_format"],
            blank=options["blank"],
            encoding=options["encoding"],
        )
