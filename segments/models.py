"""Segments (docs/rules.md): named groups of members, kept by a rule (smart) or by hand (manual).

A smart segment's members are materialized in SegmentMembership by the refresh
(segments/refresh.py); every entry and exit is written to the MembershipChange ledger.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from members.models import Community, Member

from . import rules

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 2_000


class Kind(models.TextChoices):
    SMART = "smart", "Smart"
    MANUAL = "manual", "Manual"


class Color(models.TextChoices):
    """The pill colours; each has a matching `.pill--<value>` style."""

    BLUE = "blue", "Blue"
    GREEN = "green", "Green"
    AMBER = "amber", "Amber"
    ROSE = "rose", "Rose"
    VIOLET = "violet", "Violet"
    TEAL = "teal", "Teal"
    SLATE = "slate", "Slate"


class Via(models.TextChoices):
    """How a member got into a segment."""

    RULE = "rule", "Rule"
    MANUAL = "manual", "Added by hand"
    IMPORT = "import", "Import"
    API = "api", "API"


class SegmentQuerySet(models.QuerySet["Segment"]):
    def for_community(self, community: Community) -> SegmentQuerySet:
        return self.filter(community=community)

    def smart(self) -> SegmentQuerySet:
        return self.filter(kind=Kind.SMART)

    def manual(self) -> SegmentQuerySet:
        return self.filter(kind=Kind.MANUAL)

    def pinned(self) -> SegmentQuerySet:
        return self.filter(pinned=True)

    def stale(self, now: datetime) -> SegmentQuerySet:
        """Smart segments older than their community's refresh interval (or never refreshed)."""
        return self.smart().filter(
            models.Q(refreshed_at__isnull=True)
            | models.Q(refreshed_at__lt=now - models.F("community__segment_refresh_interval"))
        )


class Segment(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Smart segments only: the rule as stored JSON (segments/rules.py). Segment references
    # hold segment ids; files (import_segments/export_segments) use names instead.
    rule = models.JSONField(null=True, blank=True)
    description = models.TextField(blank=True)
    color = models.CharField(max_length=10, choices=Color.choices, default=Color.BLUE)
    pinned = models.BooleanField(default=False, help_text="Shown as a pill above the table.")
    position = models.PositiveIntegerField(default=0, help_text="Pill order, smallest first.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    rule_version = models.PositiveIntegerField(default=1)
    member_count = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The instant the last full refresh evaluated the rule at; empty until the "
        "current rule was refreshed.",
    )
    refresh_error = models.TextField(blank=True)
    review_every_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Manual segments: flag the segment for review this often."
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    objects = SegmentQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(
                "community",
                Lower("name"),
                name="segment_name_unique_per_community",
                violation_error_message="This community already has a segment with this name.",
            ),
            models.CheckConstraint(
                condition=models.Q(kind=Kind.MANUAL, rule__isnull=True)
                | models.Q(kind=Kind.SMART, rule__isnull=False),
                name="segment_rule_only_when_smart",
                violation_error_message="A smart segment has a rule; a manual one has none.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("segments:detail", args=[self.community.slug, self.pk])

    @property
    def is_smart(self) -> bool:
        return self.kind == Kind.SMART

    @property
    def is_updating(self) -> bool:
        """A smart segment whose rule (new or edited) has not been refreshed yet."""
        return self.is_smart and self.refreshed_at is None

    @property
    def edit_version(self) -> str:
        """A digest of what the edit dialog changes. The dialog posts back the one it was opened
        with; another, now, means someone else saved the segment meanwhile."""
        state = [
            self.name,
            self.description,
            self.color,
            self.pinned,
            self.review_every_days,
            self.rule,
        ]
        text = json.dumps(state, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def parsed_rule(self) -> rules.Group:
        """The stored rule, validated (raises rules.RuleError); manual segments have none."""
        if not self.is_smart:
            raise ValueError(f"{self.name} is a manual segment and has no rule")
        return rules.parse(self.rule)

    def review_due_at(self) -> datetime | None:
        if not self.review_every_days:
            return None
        since = self.reviewed_at or self.created_at
        return since + timedelta(days=self.review_every_days)

    def is_due_for_review(self, now: datetime | None = None) -> bool:
        due = self.review_due_at()
        return due is not None and due <= (now or timezone.now())


class SegmentMembership(models.Model):
    """One member in one segment. A refresh writes these by the million (and the ledger's
    rows with them), so each index here is one a query needs: every index costs every insert,
    and the foreign keys' own indexes are left out where a listed index starts with the column.
    For the same reason the database checks none of the foreign keys: segments/locks.py says
    how the rows stay consistent without them (`db_constraint=False`)."""

    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    segment = models.ForeignKey(
        Segment,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
        db_constraint=False,
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
        db_constraint=False,
    )
    added_at = models.DateTimeField()
    via = models.CharField(max_length=10, choices=Via.choices)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        constraints = [
            # Also the (segment, member) index: a segment's members, and "is m in s?".
            models.UniqueConstraint(fields=["segment", "member"], name="one_membership_per_member"),
        ]
        indexes = [
            models.Index(fields=["member"], name="membership_by_member"),
            # Rows a user added by hand (SET_NULL when the user is deleted); a rule adds none.
            models.Index(
                fields=["added_by"],
                name="membership_by_adder",
                condition=models.Q(added_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} in {self.segment}"


class Change(models.TextChoices):
    ENTERED = "entered", "Entered"
    LEFT = "left", "Left"


class MembershipChange(models.Model):
    """The ledger: one row per entry into or exit from a segment, never rewritten."""

    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    segment = models.ForeignKey(
        Segment,
        on_delete=models.CASCADE,
        related_name="changes",
        db_index=False,
        db_constraint=False,
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="segment_changes",
        db_index=False,
        db_constraint=False,
    )
    change = models.CharField(max_length=10, choices=Change.choices)
    at = models.DateTimeField()
    via = models.CharField(max_length=10, choices=Via.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    rule_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        # As for SegmentMembership: only the indexes queries need (the foreign keys' own are
        # covered by these), and no foreign-key checks, since a refresh writes one row per
        # entry and exit.
        indexes = [
            models.Index(fields=["segment", "at"], name="change_by_segment"),
            models.Index(fields=["member", "at"], name="change_by_member"),
            models.Index(
                fields=["by"], name="change_by_user", condition=models.Q(by__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.change} {self.segment} at {self.at:%Y-%m-%d %H:%M}"
