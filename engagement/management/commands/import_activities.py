from engagement.management.reporting import ScoredAfterImport
from members.management.csv_command import CsvImportCommand


class Command(ScoredAfterImport, CsvImportCommand):
    help = (
        "Add activities from a CSV file. By default nothing is written when any row is invalid "
        "(an unknown member or kind among them); every bad row is reported with its line number. "
        "Activities already imported (same source and external_id) are left alone."
    )
    importer_slug = "activities"
