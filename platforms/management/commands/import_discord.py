from engagement.management.reporting import ScoredAfterImport
from members.management.csv_command import ImportCommand


class Command(ScoredAfterImport, ImportCommand):
    help = (
        "Import a Discord server from DiscordChatExporter's JSON export (one channel's .json "
        "file, or a folder or zip of them): authors and reacting users as members (bots "
        "skipped), messages, replies and reactions as activities. Nothing is written when a "
        "file is malformed; importing the same export again changes nothing."
    )
    importer_slug = "discord"
    file_help = "a DiscordChatExporter .json file, or a folder or .zip of them"
