"""Communities (the tenants), who may open them, and their members."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower, Trim
from django.urls import reverse
from django.utils import timezone


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
            # The Possible duplicates page groups members by this name key
            # (members/duplicates.py): one index range scan per community.
            models.Index("community", Lower(Trim("name")), name="member_by_name_key"),
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


class MemberMerge(models.Model):
    """One merge (members/merging.py): `merged_*` describe the member that was merged into
    `kept` and then deleted. A merge cannot be undone; this is its record."""

    # Its index is merge_by_merged_id's first column.
    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="merges", db_index=False
    )
    kept = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="merges")
    merged_member_id = models.PositiveBigIntegerField(help_text="The id the merged member had.")
    merged_name = models.CharField(max_length=200, blank=True)
    merged_email = models.EmailField(max_length=254, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    fields = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per field: {"chosen": "kept" or "merged", "kept": value, "merged": value}.',
    )
    counts = models.JSONField(
        default=dict, blank=True, help_text="What moved to the kept member, per kind of row."
    )

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # "Member #123 was merged into ...": a merged id looked up in its community.
            models.Index(fields=["community", "merged_member_id"], name="merge_by_merged_id"),
        ]

    def __str__(self) -> str:
        return f"{self.merged_display_name} merged into {self.kept_id} at {self.at:%Y-%m-%d %H:%M}"

    @property
    def merged_display_name(self) -> str:
        return self.merged_name or self.merged_email or f"Member #{self.merged_member_id}"


class ImportJobQuerySet(models.QuerySet["ImportJob"]):
    def for_community(self, community: Community) -> ImportJobQuerySet:
        return self.filter(community=community)


class ImportJob(models.Model):
    """One upload on the Imports page, or one run of an import command (members/jobs.py).

    An upload is checked first (every row read, matched and counted, nothing written) and waits
    as "ready" for the manager to confirm its mapping; then it imports. The uploaded file and
    the full report are kept in the default storage until IMPORT_FILE_RETENTION_DAYS after the
    job ended; the counts and the first REPORT_ROWS_SHOWN problems stay on the row.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        VALIDATING = "validating", "Checking"
        READY = "ready", "Ready to import"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    RUNNING = (Status.QUEUED, Status.VALIDATING, Status.IMPORTING)
    REPORT_ROWS_SHOWN = 500

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="import_jobs")
    importer = models.CharField(max_length=30, help_text="Its slug in members/imports.py.")
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300, blank=True)
    file_name = models.CharField(max_length=255)
    file_size = models.BigIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    confirmed = models.BooleanField(
        default=False, help_text="The manager confirmed: the job imports, not only checks."
    )
    options = models.JSONField(default=dict, blank=True, help_text="members.mapping.ImportOptions")
    skip_invalid = models.BooleanField(default=False)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    rolled_back = models.BooleanField(default=False)
    problems = models.JSONField(
        default=list, blank=True, help_text="The first problems: [line, kind, message]."
    )
    details = models.JSONField(
        default=list,
        blank=True,
        help_text="Counts by what they count, for a platform's export: [[label, count], ...].",
    )
    report = models.FileField(upload_to="import-reports/%Y/%m/", max_length=300, blank=True)
    message = models.TextField(blank=True, help_text="Why the job failed, for the manager.")
    waiting_for_broker = models.BooleanField(
        default=False,
        help_text="Its task could not be enqueued (the broker was down); the sweep enqueues it.",
    )

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["community", "-created_at"], name="import_job_history")]

    def __str__(self) -> str:
        return f"{self.importer} import of {self.file_name} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("members:import_job", args=[self.community.slug, self.pk])

    @property
    def is_running(self) -> bool:
        return self.status in self.RUNNING

    @property
    def can_import(self) -> bool:
        """Checked, and its import would write something: no invalid row stops it."""
        return self.status == self.Status.READY and (not self.invalid or self.skip_invalid)

    @property
    def percent(self) -> int:
        """How far the current step is, 0-100, by the bytes of the file read."""
        if self.status in (self.Status.READY, self.Status.DONE):
            return 100
        if not self.file_size:
            return 0
        return min(100, round(100 * self.bytes_read / self.file_size))


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def for_community(self, community: Community) -> InvitationQuerySet:
        return self.filter(community=community)

    def pending(self, now=None) -> InvitationQuerySet:
        """Neither accepted nor revoked, and not expired."""
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now or timezone.now()
        )


class Invitation(models.Model):
    """An admin's invitation of a colleague, by email, to a role (members/team.py).

    The emailed link holds a token signed with SECRET_KEY (django.core.signing) over the
    invitation's id and its `nonce`; it works until `expires_at`, once, unless revoked."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices)
    nonce = models.CharField(max_length=32, help_text="Signed into the link; secret.")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["community", "-created_at"], name="invitation_history")]

    def __str__(self) -> str:
        return f"{self.email} invited to {self.community} as {self.role}"

    def state(self, now=None) -> str:
        """accepted, revoked, expired or pending."""
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= (now or timezone.now()):
            return "expired"
        return "pending"
