from members.importing import import_members
from members.management.csv_command import CsvImportCommand


class Command(CsvImportCommand):
    help = (
        "Create or update members from a CSV file. By default nothing is written when any row "
        "is invalid; every bad row is reported with its line number."
    )
    file_help = "Members CSV file (UTF-8, with a header)"

    def import_file(self, *, community, file, skip_invalid):
        return import_members(community=community, file=file, skip_invalid=skip_invalid)
