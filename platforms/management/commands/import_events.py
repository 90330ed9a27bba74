import re
from dataclasses import replace
from pathlib import Path

from django.core.management.base import CommandParser

from engagement.management.reporting import ScoredAfterImport
from members.management.csv_command import CsvImportCommand
from members.mapping import ImportOptions

# Luma names its download "<event> - Guests - <YYYY-MM-DD-HH-MM-SS>.csv".
LUMA_FILE_NAME = re.compile(r"(?P<event>.+?) - Guests - \d{4}(?:-\d{2}){5}\.csv", re.IGNORECASE)


class Command(ScoredAfterImport, CsvImportCommand):
    help = (
        "Import an event's attendee list (a Luma guest CSV, an Eventbrite attendee report, a "
        "Meetup attendee list, or a table like them): attendees as members, found by email, "
        "registrations and check-ins as activities. Nothing is written when any row is "
        "invalid; importing the same list again changes nothing."
    )
    importer_slug = "events"
    file_help = "the attendee list, a CSV or XLSX file with a header row"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--event",
            default="",
            metavar="NAME",
            help="The event's name, for a file without an event column (Luma, Meetup). A "
            'Luma download named "<event> - Guests - <date>.csv" gives it by itself.',
        )
        parser.add_argument(
            "--event-date",
            default="",
            metavar="DATE",
            help="The event's date, for attendances marked only yes or no (Meetup's "
            "Attendance, Eventbrite's Checked In status), in the --date-format.",
        )

    def handle(self, *args, **options) -> None:
        self._file: Path = options["file"]
        super().handle(*args, **options)

    def _options(self, options: dict) -> ImportOptions:
        event = options["event"].strip()
        if not event and (luma := LUMA_FILE_NAME.fullmatch(self._file.name)):
            event = luma["event"].strip()
        return replace(
            super()._options(options), event=event, event_date=options["event_date"].strip()
        )
