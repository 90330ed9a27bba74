"""Making, checking and revoking API tokens (api/models.py says what a token is)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from members.models import Community

from .models import NAME_MAX_LENGTH, PREFIX, SHOWN_CHARS, ApiToken, Scope, hash_secret

# A secret is PREFIX + token_urlsafe(32): 43 characters of the URL-safe alphabet.
SECRET_LENGTH = len(PREFIX) + 43
MAX_EXPIRY_DAYS = 3650
# last_used_at is written at most this often per token: not one UPDATE per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """Input a token cannot take; `field` names the form field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def token_create(
    *,
    community: Community,
    name: str,
    scope: str = Scope.READ,
    expires_in_days: int | None = None,
    by=None,
    now: datetime | None = None,
) -> NewToken:
    """A new token of the community; its secret is in the result and nowhere else."""
    name = (name or "").strip()
    if not name:
        raise TokenError("A token needs a name, e.g. what it is for.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise TokenError(f"A name has at most {NAME_MAX_LENGTH} characters.", field="name")
    if "\x00" in name:
        raise TokenError("A name cannot contain a NUL character.", field="name")
    if scope not in Scope.values:
        raise TokenError(f"The scope is {' or '.join(Scope.values)}.", field="scope")
    expires_at = None
    if expires_in_days is not None:
        if isinstance(expires_in_days, bool) or not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise TokenError(
                f"A token expires in 1 to {MAX_EXPIRY_DAYS} days, or never.",
                field="expires_in_days",
            )
        expires_at = (now or timezone.now()) + timedelta(days=expires_in_days)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        community=community,
        name=name,
        scope=scope,
        secret_hash=hash_secret(secret),
        shown=secret[:SHOWN_CHARS],
        expires_at=expires_at,
        created_by=by,
    )
    return NewToken(token, secret)


def token_revoke(*, token: ApiToken, now: datetime | None = None) -> ApiToken:
    """Revoke the token (at once, for every request after this one); revoking twice keeps the
    first time."""
    if token.revoked_at is None:
        token.revoked_at = now or timezone.now()
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=token.revoked_at
        )
    return token


def token_for_secret(secret: str) -> ApiToken | None:
    """The token whose secret this is, revoked and expired ones included; None for anything
    else. The lookup is by the secret's SHA-256, which an attacker cannot steer, and the hash
    found is compared again in constant time."""
    if not secret.startswith(PREFIX) or len(secret) != SECRET_LENGTH:
        return None
    digest = hash_secret(secret)
    token = ApiToken.objects.filter(secret_hash=digest).select_related("community").first()
    if token is None or not hmac.compare_digest(token.secret_hash, digest):
        return None
    return token


def token_touch(token: ApiToken, now: datetime | None = None) -> None:
    """Record that the token was used now (at most once per LAST_USED_RESOLUTION)."""
    now = now or timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
