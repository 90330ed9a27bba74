from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.models import Community, CommunityRole, Role


class Command(BaseCommand):
    help = "Give a user a role in a community, or change the role they have."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The community's slug")
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)

    def handle(self, *args, slug: str, username: str, role: str, **options) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f'No community with the slug "{slug}".')
        User = get_user_model()
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(
                f'No user named "{username}". Create one first (manage.py createsuperuser, '
                "or in /admin/)."
            ) from None
        previous = (
            CommunityRole.objects.filter(user=user, community=community)
            .values_list("role", flat=True)
            .first()
        )
        CommunityRole.objects.update_or_create(
            user=user, community=community, defaults={"role": role}
        )
        was = f" (was {previous})" if previous and previous != role else ""
        self.stdout.write(f"{user.get_username()} is now {role} of {community.slug}{was}.")
