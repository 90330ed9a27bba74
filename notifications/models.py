"""What the notifications app remembers: who watches which segment, who turned which email
off, which emails were sent (so a beat that runs twice mails once), and the password-reset
requests the rate limit counts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from members.models import Community
from segments.models import Segment


class EmailKind(models.TextChoices):
    """Each kind of email; a user (or, for invitations, an address) can turn each off."""

    REVIEW_DUE = "review_due", "Review reminders of manual segments"
    DIGEST = "digest", "Digests of the segments you watch"
    IMPORT = "import", "Results of your imports"
    PASSWORD_RESET = "password_reset", "Password reset links"
    INVITATION = "invitation", "Invitations to join a community's team"


# The kinds a logged-in user turns on and off on the preferences page (invitations go to
# addresses, before there is a user).
USER_KINDS = [
    EmailKind.REVIEW_DUE,
    EmailKind.DIGEST,
    EmailKind.IMPORT,
    EmailKind.PASSWORD_RESET,
]


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class OptOut(models.Model):
    """One kind of email turned off, for a user or (invitations) for an address."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="email_opt_outs",
    )
    email = models.EmailField(max_length=254, blank=True)
    kind = models.CharField(max_length=20, choices=EmailKind.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind"],
                condition=models.Q(user__isnull=False),
                name="opt_out_once_per_user",
            ),
            models.UniqueConstraint(
                Lower("email"),
                "kind",
                condition=~models.Q(email=""),
                name="opt_out_once_per_address",
            ),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, email="")
                | models.Q(user__isnull=True) & ~models.Q(email=""),
                name="opt_out_user_or_address",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.email}: no {self.kind}"


class WatchQuerySet(models.QuerySet["Watch"]):
    def for_community(self, community: Community) -> WatchQuerySet:
        return self.filter(community=community)


class Watch(models.Model):
    """A user watches a segment: a digest of who entered and left, daily or weekly, sent at
    DIGEST_HOUR in the community's time zone. `digest_since` is where the next digest's
    window starts: the end of the last one (or when watching began)."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="watches")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="segment_watches"
    )
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.DAILY)
    created_at = models.DateTimeField(default=timezone.now)
    digest_since = models.DateTimeField(default=timezone.now)

    objects = WatchQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "user"], name="one_watch_per_user"),
        ]
        indexes = [
            models.Index(fields=["community", "frequency", "digest_since"], name="watch_due"),
        ]

    def __str__(self) -> str:
        return f"{self.user} watches {self.segment} ({self.frequency})"


class SentEmail(models.Model):
    """An email that was sent, by its key ("review:<segment>:<due date>"): sending the same
    key to the same user again is skipped."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=EmailKind.choices)
    key = models.CharField(max_length=200)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="sent_email_once"),
        ]

    def __str__(self) -> str:
        return f"{self.key} to {self.user}"


class ResetRequest(models.Model):
    """A password reset asked for, as the rate limit counts it: keyed hashes, no address."""

    email_hash = models.CharField(max_length=64)
    client_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["email_hash", "created_at"], name="reset_by_email"),
            models.Index(fields=["client_hash", "created_at"], name="reset_by_client"),
        ]

    def __str__(self) -> str:
        return f"password reset at {self.created_at:%Y-%m-%d %H:%M}"
