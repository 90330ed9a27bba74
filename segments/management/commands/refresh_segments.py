from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from engagement.management.commands.score_engagement import parse_as_of
from members.models import Community
from segments.models import Segment
from segments.refresh import RefreshError, refresh_community


class Command(BaseCommand):
    help = (
        "Refresh every smart segment of a community now (segments they refer to first) and "
        "print what entered and left each one. Exits 1 if any segment failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The community's slug")
        parser.add_argument(
            "--as-of",
            help="Evaluate relative dates as of this ISO 8601 instant (default now); "
            "no offset means UTC, e.g. 2026-06-01T12:00:00",
        )

    def handle(self, *args, slug: str, as_of: str | None, **options) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f'No community with the slug "{slug}".')
        when = parse_as_of(as_of) if as_of else timezone.now()
        results = refresh_community(community, as_of=when)
        smart = {
            segment.pk: segment
            for segment in Segment.objects.for_community(community).smart().order_by("pk")
        }
        if not smart:
            self.stdout.write(f'"{community.name}" has no smart segments.')
            return
        failed: list[str] = []
        reported: set[int] = set()
        for result in results:
            if isinstance(result, RefreshError):
                continue
            segment = smart.get(result.segment_id)
            reported.add(result.segment_id)
            if segment is None:  # deleted meanwhile
                continue
            note = " (skipped: refreshed meanwhile)" if result.skipped else ""
            self.stdout.write(
                f"{segment.name}: {result.entered} entered, {result.left} left, "
                f"{segment.member_count} members{note}"
            )
        # Failures, and segments caught in a circle of references (left out of the refresh).
        for pk, segment in smart.items():
            if pk not in reported:
                reason = segment.refresh_error or "it was not refreshed."
                self.stderr.write(f"{segment.name}: failed: {reason}")
                failed.append(segment.name)
        if failed:
            names = ", ".join(f'"{name}"' for name in failed)
            count = "1 segment" if len(failed) == 1 else f"{len(failed)} segments"
            raise CommandError(f"{count} could not be refreshed: {names}.")
