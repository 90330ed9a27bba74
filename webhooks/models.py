"""Webhooks (README "Webhooks"): endpoints a community's admins register, and the signed
deliveries made to them.

The flow, each step in its own transaction so that nothing is lost between them:

1. A write that an endpoint may care about (a refresh's ledger rows, members created, an import
   finished) records an `Outbox` row in the write's own transaction (webhooks/signals.py): if
   the write rolls back, so does the row; if the process dies after the commit, the row is
   there for the sweep.
2. `outbox_expand` turns the row into `Delivery` rows, one per endpoint and per 500 changes,
   each with its body (the exact bytes signed and sent on every attempt) and webhook-id.
3. `delivery_attempt` sends one delivery (webhooks/http.py: SSRF guard, 5 s, no redirects) and
   stores when the next attempt is due; the minutely sweep sends whatever is due, so a lost task
   or a restarted worker only delays an attempt.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.urls import reverse

from members.models import Community
from segments.models import Segment

URL_MAX_LENGTH = 2_000
DESCRIPTION_MAX_LENGTH = 200
RESPONSE_EXCERPT_BYTES = 1_024
# The attempts a delivery keeps in its log (the latest ones; `attempts` counts all of them).
ATTEMPTS_LOGGED = 20


class Event(models.TextChoices):
    MEMBER_ENTERED = "segment.member_entered", "A member entered a segment"
    MEMBER_LEFT = "segment.member_left", "A member left a segment"
    MEMBER_CREATED = "member.created", "A member was created"
    IMPORT_FINISHED = "import.finished", "An import finished"


SEGMENT_EVENTS = frozenset({Event.MEMBER_ENTERED, Event.MEMBER_LEFT})


class EndpointQuerySet(models.QuerySet["Endpoint"]):
    def for_community(self, community: Community) -> EndpointQuerySet:
        return self.filter(community=community)

    def enabled(self) -> EndpointQuerySet:
        return self.filter(enabled=True)

    def wanting(self, *events: str) -> list[Endpoint]:
        """The enabled endpoints subscribed to any of `events`. A community has a handful of
        endpoints, so the short JSON list of events is read here rather than in SQL (SQLite
        has no JSON containment lookup)."""
        found = self.enabled().select_related("community")
        return [e for e in found if any(event in e.events for event in events)]


class Endpoint(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=URL_MAX_LENGTH)
    description = models.CharField(max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    events = models.JSONField(default=list, help_text="The Event values it is sent.")
    segments = models.ManyToManyField(
        Segment,
        blank=True,
        related_name="+",
        help_text="Only changes of these segments (segment events); none: every segment.",
    )
    # The signing secret, `whsec_` and base64 (Standard Webhooks). Kept as is: an HMAC needs
    # the key itself. Shown once, when it is made.
    secret = models.CharField(max_length=100)
    # After a rotation, deliveries are signed with the old secret too until this instant, so a
    # receiver has time to switch (the spec's space-separated signatures).
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(
        blank=True, help_text="Why the endpoint was switched off, for the settings page."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["community", "enabled"], name="endpoint_by_community")]

    def __str__(self) -> str:
        return self.url

    def get_absolute_url(self) -> str:
        return reverse("webhooks:endpoint", args=[self.community.slug, self.pk])

    def wants(self, event: str) -> bool:
        return self.enabled and event in self.events

    def event_labels(self) -> list[str]:
        return [Event(value).label for value in Event.values if value in self.events]

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery is signed with at `now`: the current one, and the previous
        one while a rotation's grace period runs."""
        secrets = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_until is not None
            and now < self.previous_secret_until
        ):
            secrets.append(self.previous_secret)
        return secrets


class Outbox(models.Model):
    """Something to deliver, recorded in the transaction of the write that made it: a range of
    ledger rows (`segment_ids`, `after_id`, `up_to_id`), members created (`member_ids`) or a
    finished import (`job_id`). Deleted once expanded into deliveries."""

    class Kind(models.TextChoices):
        LEDGER = "ledger", "Segment changes"
        MEMBERS = "members", "Members created"
        IMPORT = "import", "Import finished"

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.kind} outbox #{self.pk} of community {self.community_id}"


class MemberFeed(models.Model):
    """How far members.created has looked: the highest member id of the community announced or
    known when an endpoint subscribed. Members above it that a write reports are new."""

    community = models.OneToOneField(Community, on_delete=models.CASCADE, related_name="+")
    seen_up_to = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"members of community {self.community_id} seen up to #{self.seen_up_to}"


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def for_endpoint(self, endpoint: Endpoint) -> DeliveryQuerySet:
        return self.filter(endpoint=endpoint)

    def due(self, now: datetime) -> DeliveryQuerySet:
        return self.filter(
            status=Delivery.Status.PENDING, next_attempt_at__lte=now, endpoint__enabled=True
        )


class Delivery(models.Model):
    """One webhook message to one endpoint: its body is fixed when it is made, so every attempt
    sends the same bytes with the same webhook-id (receivers deduplicate by it)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.CharField(max_length=40, unique=True, help_text="The webhook-id header.")
    event = models.CharField(max_length=40, choices=Event.choices)
    body = models.TextField(help_text="The JSON sent, byte for byte (UTF-8).")
    item_count = models.PositiveIntegerField(default=0, help_text="Changes or members in it.")
    first_change_id = models.BigIntegerField(null=True, blank=True)
    last_change_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due; while an attempt is in flight, the end of its lease (a
    # worker that dies mid-attempt leaves the delivery due again once it passes).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    give_up_at = models.DateTimeField(help_text="Retries stop here (24 h after the first try).")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True, help_text="The start of the response body.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    log = models.JSONField(
        default=list, blank=True, help_text="The latest attempts: [at, status code, ms, error]."
    )

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="delivery_log"),
            # The sweep's "what is due": pending deliveries only, by due time.
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.message_id} ({self.status})"

    @property
    def succeeded(self) -> bool:
        return self.status == self.Status.DELIVERED
