from members.management.csv_command import CsvImportCommand


class Command(CsvImportCommand):
    help = (
        "Create or update members from a CSV or XLSX file. By default nothing is written when "
        "any row is invalid; every bad row is reported with its line number. Empty cells keep "
        "stored values unless --blank clear."
    )
    importer_slug = "members"
