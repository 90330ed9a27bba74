from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.models import Community
from segments.files import SegmentsFileError, import_segments, loads


class Command(BaseCommand):
    help = (
        "Create or update segments from a JSON file (docs/cli.md), matched by name. All or "
        "nothing: when any segment is invalid, every problem is reported and nothing is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The community's slug")
        parser.add_argument("file", type=Path, help="Segments file (a JSON list)")

    def handle(self, *args, slug: str, file: Path, **options) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f'No community with the slug "{slug}".')
        try:
            data = loads(file.read_bytes())
            imported = import_segments(community=community, data=data)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        except SegmentsFileError as exc:
            for error in exc.errors:
                self.stderr.write(f"{file}: {error}")
            count = "1 problem" if len(exc.errors) == 1 else f"{len(exc.errors)} problems"
            raise CommandError(f"{count}; no segment was imported.") from None
        for item in imported:
            verb = "Created" if item.created else "Updated"
            line = f'{verb} {item.segment.kind} segment "{item.segment.name}"'
            if not item.segment.is_smart:
                line += f" ({item.added} members added, {item.already} already in it)"
            self.stdout.write(line + ".")
        self.stdout.write(
            f"{len(imported)} segments imported; smart segments refresh in the background."
        )
