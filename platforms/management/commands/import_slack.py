from engagement.management.reporting import ScoredAfterImport
from members.management.csv_command import ImportCommand


class Command(ScoredAfterImport, ImportCommand):
    help = (
        "Import a Slack workspace export (the zip Slack gives, or its unpacked folder): people "
        "as members, messages, thread replies and reactions as activities. Nothing is written "
        "when the export is malformed; importing it again changes nothing."
    )
    importer_slug = "slack"
    file_help = "the export's .zip file or its unpacked folder"
