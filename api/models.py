"""API tokens: how a program (a CRM sync, a script) reaches one community's REST API.

A token is shown once, when it is made; only the SHA-256 of its secret is stored, so a copy of
the database holds no usable token. The secret is `cos_` followed by 43 characters of
`secrets.token_urlsafe(32)` (256 random bits): the prefix makes a leaked token recognisable to
secret scanners and to whoever finds it in a log.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from members.models import Community

PREFIX = "cos_"
# What the list shows of a token: its prefix and the first characters of the secret, enough
# to tell two tokens apart, far too few to guess the rest (43 characters, 256 bits).
SHOWN_CHARS = len(PREFIX) + 4
NAME_MAX_LENGTH = 100


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class Scope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def for_community(self, community: Community) -> ApiTokenQuerySet:
        return self.filter(community=community)

    def active(self, now: datetime | None = None) -> ApiTokenQuerySet:
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=NAME_MAX_LENGTH, help_text="What the token is for.")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    secret_hash = models.CharField(
        max_length=64, unique=True, editable=False, help_text="SHA-256 of the secret, in hex."
    )
    shown = models.CharField(
        max_length=SHOWN_CHARS, editable=False, help_text="The secret's first characters."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["community", "-created_at"], name="api_token_list")]

    def __str__(self) -> str:
        return f"{self.name} ({self.shown}…)"

    @property
    def can_write(self) -> bool:
        return self.scope == Scope.WRITE

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_active(self, now: datetime | None = None) -> bool:
        return not self.is_revoked and not self.is_expired(now)
