from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.models import Community

from ...models import Scope
from ...tokens import MAX_EXPIRY_DAYS, TokenError, token_create


class Command(BaseCommand):
    help = (
        "Create an API token of a community and print it, once: only its hash is kept. "
        "Automation reads the token from standard output; everything else goes to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The community's slug")
        parser.add_argument("name", help="What the token is for")
        parser.add_argument("--scope", choices=Scope.values, default=Scope.READ)
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help=f"Days until it expires (1 to {MAX_EXPIRY_DAYS}); default: never",
        )

    def handle(self, *args, slug: str, name: str, scope: str, expires_days, **options) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f'No community with the slug "{slug}".')
        try:
            new = token_create(
                community=community, name=name, scope=scope, expires_in_days=expires_days
            )
        except TokenError as error:
            raise CommandError(str(error)) from None
        expiry = (
            f", expires {new.token.expires_at:%Y-%m-%d %H:%M} UTC" if new.token.expires_at else ""
        )
        self.stderr.write(
            f"Created the {scope} token “{new.token.name}” of {community.slug}{expiry}. "
            "It is shown once: keep it now."
        )
        self.stdout.write(new.secret)
