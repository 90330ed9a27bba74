from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.models import Community
from segments.exports import write_members_csv
from segments.models import Segment


class Command(BaseCommand):
    help = (
        "Write a community's members, or one segment's with the date each entered it, as CSV "
        "(docs/cli.md), in member id order. A file (-o) starts with a UTF-8 byte-order mark, so "
        "that Excel reads accented names right; standard output has none, for other programs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The community's slug")
        parser.add_argument("--segment", help="Only this segment's members (its name)")
        parser.add_argument(
            "-o", "--output", type=Path, help="Write to this file (default: standard output)"
        )

    def handle(self, *args, slug: str, segment: str | None, output: Path | None, **options) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f'No community with the slug "{slug}".')
        chosen = None
        if segment is not None:
            segments = Segment.objects.for_community(community)
            chosen = segments.filter(name__iexact=segment.strip()).first()
            if chosen is None:
                names = ", ".join(f'"{name}"' for name in segments.values_list("name", flat=True))
                raise CommandError(
                    f'No segment called "{segment}" in "{community.name}" '
                    f"(its segments: {names or 'none'}). Nothing was written."
                )
        if output is None:
            write_members_csv(self.stdout, community, segment=chosen, bom=False)
            return
        try:
            with output.open("w", encoding="utf-8", newline="") as out:
                count = write_members_csv(out, community, segment=chosen)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
        self.stdout.write(f"Wrote {count} members to {output}.")
