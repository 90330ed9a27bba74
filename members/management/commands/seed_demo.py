"""Load the demo community `make run` shows: 2,000 made-up members and a demo admin login."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from members.demo_data import (
    DEMO_NAME,
    DEMO_PASSWORD,
    DEMO_SLUG,
    DEMO_SOURCE,
    DEMO_USERNAME,
    demo_members,
)
from members.models import Community, CommunityRole, Identity, Member, Role

BATCH_SIZE = 500


class Command(BaseCommand):
    help = (
        f"Load the demo community (slug `{DEMO_SLUG}`) with made-up members, and a demo login "
        f"`{DEMO_USERNAME}` who is its admin. Does nothing if the community already has members."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo community and everything in it first, then load it again.",
        )

    def handle(self, *args, reset: bool = False, **options) -> None:
        with transaction.atomic():
            if reset:
                deleted, _ = Community.objects.filter(slug=DEMO_SLUG).delete()
                if deleted:
                    self.stdout.write(f"Deleted the {DEMO_SLUG!r} community and its members.")
            community, _ = Community.objects.get_or_create(
                slug=DEMO_SLUG, defaults={"name": DEMO_NAME}
            )
            existing = Member.objects.for_community(community).count()
            if existing:
                self.stdout.write(
                    f"{community.name} already has {existing:,} members; nothing loaded "
                    "(use --reset to start again)."
                )
            else:
                created = _load_members(community)
                self.stdout.write(
                    self.style.SUCCESS(f"Loaded {created:,} members into {community.name}.")
                )
            if _ensure_demo_login(community):
                self.stdout.write(f"Created the user {DEMO_USERNAME!r}.")
        self.stdout.write(f"Log in at http://127.0.0.1:8000/ as {DEMO_USERNAME} / {DEMO_PASSWORD}")


def _load_members(community: Community) -> int:
    rows = demo_members(timezone.now().replace(microsecond=0))
    members = Member.objects.bulk_create(
        [
            Member(community=community, **{k: v for k, v in row.items() if k != "external_id"})
            for row in rows
        ],
        batch_size=BATCH_SIZE,
    )
    # PostgreSQL and SQLite (3.35+) return the new primary keys from bulk_create.
    Identity.objects.bulk_create(
        [
            Identity(
                community=community,
                member=member,
                source=DEMO_SOURCE,
                external_id=row["external_id"],
            )
            for member, row in zip(members, rows, strict=True)
        ],
        batch_size=BATCH_SIZE,
    )
    return len(members)


def _ensure_demo_login(community: Community) -> bool:
    """The demo user, created with the documented password if missing; admin of the demo."""
    user, created = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    CommunityRole.objects.update_or_create(
        user=user, community=community, defaults={"role": Role.ADMIN}
    )
    return created
