from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.models import Community
from segments.files import dumps, export_segments


class Command(BaseCommand):
    help = (
        "Write a community's segments as a JSON file that import_segments reads "
        "(segment references by name, manual members by email)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The community's slug")
        parser.add_argument(
            "-o", "--output", type=Path, help="Write to this file (default: standard output)"
        )

    def handle(self, *args, slug: str, output: Path | None, **options) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f'No community with the slug "{slug}".')
        text = dumps(export_segments(community))
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
