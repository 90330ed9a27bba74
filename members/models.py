"""Communities (the tenants), who may open them, and their members."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse


def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Community(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", choices=_timezone_choices)
    segment_refresh_interval = models.DurationField(
        default=timedelta(minutes=15),
        help_text="How old a smart segment may get before the periodic sweep refreshes it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    rescore_waiting_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A rescore was asked for but could not be enqueued (the broker was down); "
        "the minutely sweep enqueues it.",
    )

    class Meta:
        verbose_name_plural = "communities"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("members:list", args=[self.slug])


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    VIEWER = "viewer", "Viewer"


# Each role can do everything the roles after it can.
ROLE_RANK = {Role.VIEWER: 0, Role.MANAGER: 1, Role.ADMIN: 2}


class CommunityRoleQuerySet(models.QuerySet["CommunityRole"]):
    def for_user(self, user) -> CommunityRoleQuerySet:
        return self.filter(user=user).select_related("community").order_by("community__name")


class CommunityRole(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_roles"
    )
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CommunityRoleQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "community"], name="one_role_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.community}"


class MemberQuerySet(models.QuerySet["Member"]):
    def for_community(self, community: Community) -> MemberQuerySet:
        return self.filter(community=community)


class Member(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="members")
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    job_title = models.CharField(max_length=200, blank=True)
    location = models.CharField(
        max_length=200, blank=True, help_text='Free text as imported, e.g. "Austin, TX".'
    )
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=100, blank=True)
    bio = models.TextField(blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "community",
                Lower("email"),
                condition=~models.Q(email=""),
                name="member_email_unique_per_community",
                violation_error_message="Another member of this community has this email.",
            ),
        ]
        # The community table sorts by these columns; (community, column, id) keeps keyset
        # paging an index range scan however deep the page.
        indexes = [
            models.Index(fields=["community", "name", "id"], name="member_by_name"),
            models.Index(fields=["community", "company_name", "id"], name="member_by_company"),
            models.Index(fields=["community", "job_title", "id"], name="member_by_title"),
            models.Index(fields=["community", "city", "id"], name="member_by_city"),
            models.Index(fields=["community", "country", "id"], name="member_by_country"),
            models.Index(fields=["community", "joined_at", "id"], name="member_by_joined"),
            models.Index(fields=["community", "last_seen_at", "id"], name="member_by_last_seen"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("members:detail", args=[self.community.slug, self.pk])

    @property
    def display_name(self) -> str:
        return self.name or self.email or f"Member #{self.pk}"

    @property
    def initials(self) -> str:
        words = [w for w in self.display_name.replace("@", " ").split() if w[:1].isalnum()]
        return "".join(w[0] for w in words[:2]).upper() or "?"


class Identity(models.Model):
    """Who the member is on one source (Slack, Discourse, Stack Exchange, a CSV...)."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="identities")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="identities")
    source = models.CharField(max_length=50)
    external_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(
                fields=["community", "source", "external_id"], name="identity_unique_per_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"
