from engagement.management.reporting import ScoredAfterImport
from members.management.csv_command import ImportCommand


class Command(ScoredAfterImport, ImportCommand):
    help = (
        "Import a Discourse forum: the users CSV of Admin, Users, Export (or the user-list zip "
        "Discourse sends) as members, and topic JSON files (/t/<id>.json with all their posts) "
        "as posts, replies, accepted answers and likes. PATH is a zip or a folder holding "
        "them. Nothing is written when the export is malformed; importing it again changes "
        "nothing."
    )
    importer_slug = "discourse"
    file_help = "a .zip or a folder of the users CSV and the topic JSON files"
