import zoneinfo

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.models import Community


class Command(BaseCommand):
    help = "Create a community (a tenant)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL name of the community, e.g. acme")
        parser.add_argument("--name", required=True, help="Display name")
        parser.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")

    def handle(self, *args, slug: str, name: str, timezone: str, **options) -> None:
        if Community.objects.filter(slug=slug).exists():
            raise CommandError(f'A community with the slug "{slug}" already exists.')
        if timezone not in zoneinfo.available_timezones():
            raise CommandError(f'Unknown time zone "{timezone}"; use an IANA name such as UTC.')
        community = Community(slug=slug, name=name.strip(), timezone=timezone)
        try:
            community.full_clean()
        except ValidationError as exc:
            problems = [f"{name}: {' '.join(errors)}" for name, errors in exc.message_dict.items()]
            raise CommandError("Invalid community. " + " ".join(problems)) from None
        community.save()
        self.stdout.write(f'Created community "{community.name}" ({community.slug}).')
