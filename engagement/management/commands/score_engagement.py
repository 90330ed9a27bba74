from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from engagement.scoring import community_health, score_community
from members.models import Community


def parse_as_of(value: str) -> datetime:
    """An ISO 8601 instant; one without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f'Invalid --as-of "{value}"; use ISO 8601, e.g. 2026-06-01T12:00:00Z.'
        ) from None
    return moment.replace(tzinfo=UTC) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = "Compute every member's engagement scores (docs/scoring.md) and print Community Health."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL name of the community, e.g. acme")
        parser.add_argument(
            "--as-of",
            help="Score as of this ISO 8601 instant (default now), e.g. 2026-06-01T12:00Z",
        )

    def handle(self, *args, slug: str, as_of: str | None, **options) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f'No community with the slug "{slug}".')
        when = parse_as_of(as_of) if as_of else timezone.now()
        scored = score_community(community, as_of=when)
        health = community_health(community)
        instant = f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        self.stdout.write(f'Scored {scored} members of "{community.name}" as of {instant}.')
        total = health["scored"]
        for label, key in (
            ("Super users (I > 2)", "super_users"),
            ("Active (F, R and I > 1)", "active"),
            ("Inactive (F, R and I < 1)", "inactive"),
        ):
            share = f"{health[key] / total:.0%}" if total else "-"
            self.stdout.write(f"{label}: {health[key]} ({share})")
