"""Load the demo community `make run` shows: 2,000 made-up members with about 13 months of
activity, scored week by week, and a demo admin login."""

import time
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from demo.demo_data import (
    DEMO_MENTOR_COUNT,
    DEMO_NAME,
    DEMO_PASSWORD,
    DEMO_SEGMENTS,
    DEMO_SLUG,
    DEMO_SOURCE,
    DEMO_USERNAME,
    demo_members,
)
from demo.history import Person, demo_activities
from engagement.models import Activity, ActivityKind, MemberScore
from engagement.scoring import community_health, score_community
from engagement.services import update_last_seen
from members.models import Community, CommunityRole, Identity, Member, Role
from segments.models import Kind, Segment
from segments.refresh import refresh_community
from segments.services import segment_add_members, segment_create

BATCH_SIZE = 500
ACTIVITY_BATCH_SIZE = 2000
ACTIVITY_COLUMNS = (
    "community_id",
    "member_id",
    "kind_id",
    "occurred_at",
    "source",
    "external_id",
    "channel",
    "title",
    "url",
    "created_at",
)
HISTORY_WEEKS = 8  # weekly scoring points before now, so the health trend has history


class Command(BaseCommand):
    help = (
        f"Load the demo community (slug `{DEMO_SLUG}`) with made-up members and their activity, "
        f"score it, and create a demo login `{DEMO_USERNAME}` who is its admin. Loads only what "
        "is missing: members when it has none, activity when it has no demo activity."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo community and everything in it first, then load it again.",
        )

    def handle(self, *args, reset: bool = False, **options) -> None:
        started = time.monotonic()
        now = timezone.now().replace(microsecond=0)
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
                created = _load_members(community, now)
                self.stdout.write(
                    self.style.SUCCESS(f"Loaded {created:,} members into {community.name}.")
                )
            has_history = (
                Activity.objects.for_community(community).filter(source=DEMO_SOURCE).exists()
            )
            if not has_history:
                loaded = _load_history(community, now)
                self.stdout.write(self.style.SUCCESS(f"Loaded {loaded:,} activities."))
            if _ensure_demo_login(community):
                self.stdout.write(f"Created the user {DEMO_USERNAME!r}.")
        if not has_history:
            _score_history(community, now)
            health = community_health(community)
            self.stdout.write(
                f"Scored {health['scored']:,} members each week for {HISTORY_WEEKS} weeks and "
                f"now: {health['super_users']:,} super users, {health['active']:,} active, "
                f"{health['inactive']:,} inactive ({time.monotonic() - started:.1f} s)."
            )
        created_segments = _ensure_demo_segments(community)
        if created_segments or not has_history:
            refresh_community(community, as_of=now)
        if created_segments:
            pinned = sum(1 for spec in DEMO_SEGMENTS if spec.get("pinned"))
            self.stdout.write(
                f"Created {len(DEMO_SEGMENTS)} example segments, {pinned} pinned as pills."
            )
        self.stdout.write(f"Log in at http://127.0.0.1:8000/ as {DEMO_USERNAME} / {DEMO_PASSWORD}")


def _load_members(community: Community, now: datetime) -> int:
    rows = demo_members(now)
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


def _load_history(community: Community, now: datetime) -> int:
    """The demo members' activity (demo/history.py), then their last_seen_at to match.

    Works from the members as stored, so it also fills in a demo loaded before it had
    activity: nothing lands before a member's joined_at. The caller loads it only when the
    community has no demo activity; stable external ids (unique per community and source)
    guarantee it can never be loaded twice.
    """
    stored = Identity.objects.filter(community=community, source=DEMO_SOURCE).values_list(
        "external_id", "member_id", "member__joined_at", "member__city", "member__last_seen_at"
    )
    member_ids: dict[str, int] = {}
    people = []
    for external_id, member_id, joined_at, city, last_seen_at in stored:
        member_ids[external_id] = member_id
        people.append(Person(external_id, joined_at or now, city, last_seen_at is not None))
    kinds = dict(ActivityKind.objects.for_community(community).values_list("slug", "pk"))
    history = demo_activities(people, now)
    before = Activity.objects.for_community(community).count()
    adapt = connection.ops.adapt_datetimefield_value
    created_at = adapt(now)
    rows = [
        (
            community.pk,
            member_ids[activity.member],
            kinds[activity.kind],
            adapt(activity.occurred_at),
            DEMO_SOURCE,
            activity.external_id,
            activity.channel,
            activity.title,
            "",
            created_at,
        )
        for activity in history
    ]
    # Plain executemany: several times faster than bulk_create for ~75,000 rows, which keeps
    # `make run` quick. Only constant names are interpolated; the values are parameters.
    table, quote = Activity._meta.db_table, connection.ops.quote_name
    columns = ", ".join(quote(column) for column in ACTIVITY_COLUMNS)
    placeholders = ", ".join(["%s"] * len(ACTIVITY_COLUMNS))
    sql = f"INSERT INTO {quote(table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ACTIVITY_BATCH_SIZE):
            cursor.executemany(sql, rows[start : start + ACTIVITY_BATCH_SIZE])
    update_last_seen(community, member_ids.values())
    if connection.vendor == "postgresql":
        # Fresh statistics after the bulk load, or the scoring statement's plan can be awful
        # (a nested loop re-aggregating the activities per member).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE members_member, engagement_activity")
    return Activity.objects.for_community(community).count() - before


def _score_history(community: Community, now: datetime) -> None:
    """Score as of each of the last HISTORY_WEEKS weeks, oldest first, then now."""
    for weeks in range(HISTORY_WEEKS, 0, -1):
        score_community(community, as_of=now - timedelta(weeks=weeks))
    score_community(community, as_of=now)


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


def _ensure_demo_segments(community: Community) -> bool:
    """The example segments of docs/rules.md "The six segment ideas", when the community has no
    segments yet."""
    if Segment.objects.for_community(community).exists():
        return False
    with transaction.atomic():
        for spec in DEMO_SEGMENTS:
            segment = segment_create(
                community=community,
                kind=Kind.SMART if "rule" in spec else Kind.MANUAL,
                **spec,
            )
            if not segment.is_smart:
                segment_add_members(segment=segment, entries=_mentor_emails(community))
    return True


def _mentor_emails(community: Community) -> list[str]:
    """The most engaged members with an email, as a manager would paste them."""
    scores = (
        MemberScore.objects.filter(community=community)
        .exclude(member__email="")
        .exclude(member__job_title="Student")
        .order_by("-engagement", "member_id")
    )
    return list(scores.values_list("member__email", flat=True)[:DEMO_MENTOR_COUNT])
