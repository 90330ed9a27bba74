"""Activities, the kinds they come in, and the engagement scores computed from them
(docs/scoring.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from members.models import Community, Member


@dataclass(frozen=True)
class DefaultKind:
    slug: str
    label: str
    weight: float
    daily_cap: int
    initiated: bool


# The bounds of a kind's settings. A member's raw impact sums weight * min(count, daily cap) over
# a year of days and every kind: at these bounds it stays far inside double precision (a weight
# of 1e308 overflowed it, and every scoring run of the community failed).
MAX_WEIGHT = 1000
MIN_DAILY_CAP = 1
MAX_DAILY_CAP = 10_000

# Every new community starts with these kinds; admins tune weights and caps afterwards.
DEFAULT_KINDS = (
    DefaultKind("reaction_given", "Reaction given", 0.5, 20, True),
    DefaultKind("message", "Message", 1, 20, True),
    DefaultKind("reply", "Reply", 2, 20, True),
    DefaultKind("post", "Post", 3, 10, True),
    DefaultKind("event_registered", "Event registration", 1, 5, True),
    DefaultKind("event_attended", "Event attended", 5, 5, True),
    DefaultKind("answer_accepted", "Answer accepted", 5, 5, True),
    DefaultKind("content_published", "Content published", 8, 3, True),
    DefaultKind("event_hosted", "Event hosted", 10, 2, True),
    DefaultKind("reply_received", "Reply received", 1, 20, False),
    DefaultKind("reaction_received", "Reaction received", 0.25, 50, False),
)


class ActivityKindQuerySet(models.QuerySet["ActivityKind"]):
    def for_community(self, community: Community) -> ActivityKindQuerySet:
        return self.filter(community=community)

    def create_defaults(self, community: Community) -> None:
        """Add the default kinds the community does not have yet."""
        existing = set(self.for_community(community).values_list("slug", flat=True))
        ActivityKind.objects.bulk_create(
            [
                ActivityKind(
                    community=community,
                    slug=kind.slug,
                    label=kind.label,
                    weight=kind.weight,
                    daily_cap=kind.daily_cap,
                    initiated=kind.initiated,
                )
                for kind in DEFAULT_KINDS
                if kind.slug not in existing
            ]
        )


class ActivityKind(models.Model):
    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="activity_kinds"
    )
    slug = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)
    weight = models.FloatField(
        help_text=f"Impact points per activity, from 0 to {MAX_WEIGHT:,}.",
        validators=[MinValueValidator(0), MaxValueValidator(MAX_WEIGHT)],
    )
    daily_cap = models.PositiveIntegerField(
        help_text="At most this many activities of the kind count per member and day "
        f"({MIN_DAILY_CAP} to {MAX_DAILY_CAP:,}).",
        validators=[MinValueValidator(MIN_DAILY_CAP), MaxValueValidator(MAX_DAILY_CAP)],
    )
    initiated = models.BooleanField(
        default=True,
        help_text="Done by the member (counts for Frequency, Recency and Last Seen), "
        "rather than received.",
    )

    objects = ActivityKindQuerySet.as_manager()

    class Meta:
        ordering = ["community", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["community", "slug"], name="activity_kind_unique"),
            models.CheckConstraint(condition=models.Q(weight__gte=0), name="weight_not_negative"),
            # Also refuses NaN and infinity on PostgreSQL, where NaN sorts above every number.
            models.CheckConstraint(
                condition=models.Q(weight__lte=MAX_WEIGHT), name="weight_at_most_max"
            ),
            models.CheckConstraint(
                condition=models.Q(daily_cap__gte=MIN_DAILY_CAP, daily_cap__lte=MAX_DAILY_CAP),
                name="daily_cap_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.label


class ActivityQuerySet(models.QuerySet["Activity"]):
    def for_community(self, community: Community) -> ActivityQuerySet:
        return self.filter(community=community)


class Activity(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="activities")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="activities")
    # RESTRICT, not PROTECT: a kind in use cannot be deleted alone, but deleting the community
    # deletes its kinds and activities together.
    kind = models.ForeignKey(ActivityKind, on_delete=models.RESTRICT, related_name="activities")
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=50, blank=True)
    external_id = models.CharField(
        max_length=200, blank=True, help_text="Unique per community and source, when present."
    )
    channel = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=500, blank=True)
    url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "activities"
        constraints = [
            models.UniqueConstraint(
                fields=["community", "source", "external_id"],
                condition=~models.Q(external_id=""),
                name="activity_unique_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["community", "occurred_at"], name="activity_by_time"),
            models.Index(fields=["member", "occurred_at"], name="activity_by_member_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind_id} by {self.member_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class MemberScore(models.Model):
    """A member's scores as of one instant, with the components that explain them."""

    member = models.OneToOneField(
        Member, on_delete=models.CASCADE, primary_key=True, related_name="score"
    )
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="scores")
    frequency = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    recency = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    impact = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    engagement = models.DecimalField(max_digits=3, decimal_places=2, default=0)
    active_days_90 = models.PositiveSmallIntegerField(default=0)
    last_active_at = models.DateTimeField(null=True, blank=True)
    impact_raw = models.FloatField(default=0)
    as_of = models.DateTimeField()

    class Meta:
        # The community table sorts by each score, ties by member: (community, score, member)
        # keeps a page of a million members sorted by a score an index range scan.
        indexes = [
            models.Index(fields=["community", "engagement", "member"], name="score_by_engagement"),
            models.Index(fields=["community", "frequency", "member"], name="score_by_frequency"),
            models.Index(fields=["community", "recency", "member"], name="score_by_recency"),
            models.Index(fields=["community", "impact", "member"], name="score_by_impact"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: E {self.engagement}"


# Community Health (docs/scoring.md "Community Health"): who counts as a super user, active, or
# inactive member.
SUPER_USER = models.Q(impact__gt=2)
ACTIVE = models.Q(frequency__gt=1, recency__gt=1, impact__gt=1)
INACTIVE = models.Q(frequency__lt=1, recency__lt=1, impact__lt=1)

SCORES = ("frequency", "recency", "impact", "engagement")
BUCKET_WIDTH = Decimal("0.5")
BUCKET_COUNT = 6  # [0, 0.5), [0.5, 1), ..., [2.5, 3.00]


def bucket_bounds() -> list[tuple[Decimal, Decimal]]:
    """The histogram buckets as (low, high): low ≤ score < high, except the last takes 3.00."""
    return [(BUCKET_WIDTH * i, BUCKET_WIDTH * (i + 1)) for i in range(BUCKET_COUNT)]


def _in_bucket(field: str, index: int) -> models.Q:
    low, high = bucket_bounds()[index]
    upper = f"{field}__lte" if index == BUCKET_COUNT - 1 else f"{field}__lt"
    return models.Q(**{f"{field}__gte": low, upper: high})


class HealthSnapshotQuerySet(models.QuerySet["HealthSnapshot"]):
    def for_community(self, community: Community) -> HealthSnapshotQuerySet:
        return self.filter(community=community)

    def record(self, community: Community, *, as_of: datetime) -> HealthSnapshot:
        """Write the week's snapshot from the community's current scores, in two aggregate queries.
        A member without a score yet (one an import just created) counts as scoring 0 on all four
        (docs/scoring.md), as the segment rules count them, so the Engagement page and the
        "Inactive" pill agree before the next scoring run.

        The week is the Monday of `as_of`'s ISO week (UTC); a later scoring in the same week
        overwrites the row.
        """
        counts = {
            "members": models.Count("pk"),
            "super_users": models.Count("pk", filter=SUPER_USER),
            "active": models.Count("pk", filter=ACTIVE),
            "inactive": models.Count("pk", filter=INACTIVE),
        }
        for field in SCORES:
            for index in range(BUCKET_COUNT):
                counts[f"{field}_{index}"] = models.Count("pk", filter=_in_bucket(field, index))
        totals = MemberScore.objects.filter(community=community).aggregate(**counts)
        unscored = Member.objects.filter(community=community, score__isnull=True).count()
        totals["members"] += unscored
        totals["inactive"] += unscored
        distribution = {
            field: [
                totals[f"{field}_{index}"] + (unscored if index == 0 else 0)
                for index in range(BUCKET_COUNT)
            ]
            for field in SCORES
        }
        as_of = as_of.astimezone(UTC)
        snapshot, _ = HealthSnapshot.objects.update_or_create(
            community=community,
            week=as_of.date() - timedelta(days=as_of.weekday()),
            defaults={
                "as_of": as_of,
                "members": totals["members"],
                "super_users": totals["super_users"],
                "active": totals["active"],
                "inactive": totals["inactive"],
                "distribution": distribution,
            },
        )
        return snapshot


class HealthSnapshot(models.Model):
    """Community Health for one ISO week: the counts and score distributions of its last scoring."""

    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="health_snapshots"
    )
    week = models.DateField(help_text="The Monday (UTC) of the ISO week.")
    as_of = models.DateTimeField(help_text="The instant the scores were computed for.")
    members = models.PositiveIntegerField()
    super_users = models.PositiveIntegerField(help_text="Impact above 2.")
    active = models.PositiveIntegerField(help_text="Frequency, Recency and Impact above 1.")
    inactive = models.PositiveIntegerField(help_text="Frequency, Recency and Impact below 1.")
    distribution = models.JSONField(
        help_text="Per score, member counts in six buckets of 0.5 from 0 to 3 (3.00 in the last)."
    )

    objects = HealthSnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["community", "week"]
        constraints = [
            models.UniqueConstraint(fields=["community", "week"], name="health_snapshot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.community_id} week of {self.week}"

    def share(self, count: int) -> float:
        """`count` as a fraction of the members (0 when there are none)."""
        return count / self.members if self.members else 0.0
