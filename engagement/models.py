"""Activities, the kinds they come in, and the engagement scores computed from them (DESIGN §5)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from members.models import Community, Member


@dataclass(frozen=True)
class DefaultKind:
    slug: str
    label: str
    weight: float
    daily_cap: int
    initiated: bool


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
    weight = models.FloatField(help_text="Impact points per activity.")
    daily_cap = models.PositiveIntegerField(
        help_text="At most this many activities of the kind count per member and day."
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
        ]

    def __str__(self) -> str:
        return self.label


class ActivityQuerySet(models.QuerySet["Activity"]):
    def for_community(self, community: Community) -> ActivityQuerySet:
        return self.filter(community=community)


class Activity(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="activities")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="activities")
    kind = models.ForeignKey(ActivityKind, on_delete=models.PROTECT, related_name="activities")
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
        indexes = [
            models.Index(fields=["community", "engagement"], name="score_by_engagement"),
            models.Index(fields=["community", "frequency"], name="score_by_frequency"),
            models.Index(fields=["community", "recency"], name="score_by_recency"),
            models.Index(fields=["community", "impact"], name="score_by_impact"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: E {self.engagement}"
