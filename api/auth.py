"""Who is calling the API, for which community, and may they write (README "REST API").

Two ways in, tried in this order:

- **A token**: `Authorization: Bearer cos_…`. The community is the token's; a read token gets
  403 on every method but GET, HEAD and OPTIONS. A bad, expired or revoked token is a 401 at
  once (never a fall back to the session).
- **A browser session** (the logged-in user of the site), with the community named by the
  `X-Community: <slug>` header, and Django's CSRF check on every unsafe method (the
  `X-CSRFToken` header, as the site's htmx requests send it). A header rather than a query
  parameter, so that the URLs, and the `next` cursors, are the same for both ways in. The
  user's role in that community decides: no role is 404 (as for the site's pages), a viewer
  reads only.

Both give `request.auth`, an `Access`. Requests are then rate-limited per token (per user for
sessions): `API_RATE_LIMIT` requests per `API_RATE_WINDOW_SECONDS`, answered 429 with
`Retry-After` beyond that.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import APIKeyHeader, HttpBearer
from ninja.throttling import BaseThrottle
from ninja.utils import check_csrf

from members.access import SAFE_METHODS, has_role, role_for
from members.models import Community, Role

from .models import ApiToken
from .tokens import token_for_secret, token_touch

COMMUNITY_HEADER = "X-Community"
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,60}")


@dataclass(frozen=True)
class Access:
    """What `request.auth` holds for every API request."""

    community: Community
    can_write: bool
    token: ApiToken | None = None
    user: object | None = None  # the session's user; a token's creator is not "the user"

    @property
    def rate_key(self) -> str:
        # A token's own random hash, not its id: ids are reused by a test database, and a
        # counter must never carry over to another token.
        if self.token is not None:
            return f"t:{self.token.secret_hash[:32]}"
        return f"u:{getattr(self.user, 'pk', '')}"


class Unauthorized(HttpError):
    def __init__(self, message: str) -> None:
        super().__init__(401, message)


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`."""

    openapi_description = "An API token of the community: `Authorization: Bearer cos_…`."

    def __call__(self, request: HttpRequest) -> Access | None:
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        if not header or scheme.lower() != "bearer":
            return None  # no token: maybe a session
        return self.authenticate(request, secret.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Access:
        found = token_for_secret(token)
        if found is None:
            raise Unauthorized("The token is not valid.")
        now = timezone.now()
        if found.is_revoked:
            raise Unauthorized("The token was revoked.")
        if found.is_expired(now):
            raise Unauthorized("The token has expired.")
        if request.method not in SAFE_METHODS and not found.can_write:
            raise HttpError(403, "This token may only read: its scope is read.")
        token_touch(found, now)
        return Access(community=found.community, can_write=found.can_write, token=found)


class SessionAuth(APIKeyHeader):
    """The site's session cookie, with the community's slug in `X-Community`."""

    param_name = COMMUNITY_HEADER
    openapi_description = (
        "For the browser: a logged-in session (the site's cookie) and the community's slug in "
        "the X-Community header; unsafe methods also need the X-CSRFToken header."
    )

    def authenticate(self, request: HttpRequest, key: str | None) -> Access | None:
        user = getattr(request, "user", None)
        if not key or user is None or not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise HttpError(403, "CSRF check failed: send the X-CSRFToken header.")
        slug = key.strip()
        community = Community.objects.filter(slug=slug).first() if _SLUG.fullmatch(slug) else None
        role = role_for(user, community) if community is not None else None
        if community is None or not has_role(role, Role.VIEWER):
            raise Http404("No such community.")
        can_write = has_role(role, Role.MANAGER)
        if request.method not in SAFE_METHODS and not can_write:
            raise HttpError(403, "Your role in this community is read-only.")
        return Access(community=community, can_write=can_write, user=user)


class RateLimit(BaseThrottle):
    """At most API_RATE_LIMIT requests per API_RATE_WINDOW_SECONDS per token (or user), in
    fixed windows counted in Django's cache (Redis with REDIS_URL, else files shared by the
    processes of one machine: settings.CACHES)."""

    def __init__(self) -> None:
        # ninja asks wait() right after allow_request() refused, in the same thread.
        self._local = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        access = getattr(request, "auth", None)
        if not isinstance(access, Access):
            return True
        window = settings.API_RATE_WINDOW_SECONDS
        now = time.time()
        start = math.floor(now / window) * window
        key = f"api-rate:{access.rate_key}:{start}"
        cache.add(key, 0, timeout=window + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window + 5)
            count = 1
        if count <= settings.API_RATE_LIMIT:
            return True
        self._local.wait = max(1.0, start + window - now)
        return False

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)
