"""Login throttling (django-axes): the username and the address it counts failures under, and
the deletion of its old records.

django-axes stores the username a login form was sent with (a varchar of 255). A form can send
anything: 300 characters failed to insert (DataError, a 500 on the login page) and a NUL is
refused by PostgreSQL. No account's username is longer than Django's 150 characters or holds
a NUL, so the recorded name drops NULs and is cut at 150: the same account, the same count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ipware.ip import get_client_ip

USERNAME_MAX_LENGTH = 150  # django.contrib.auth's User.username


def throttled_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The AXES_USERNAME_CALLABLE: the username from the credentials, else from the form."""
    source = credentials if credentials else getattr(request, "data", request.POST)
    raw = source.get("username")
    if raw is None:
        return None
    return str(raw).replace("\x00", "")[:USERNAME_MAX_LENGTH]


def client_ip(request: HttpRequest) -> str | None:
    """The AXES_CLIENT_IP_CALLABLE: the client's address, through django-ipware.

    AXES_IPWARE_PROXY_COUNT is the number of proxies in front of the site. Each one appends the
    address it received the request from to X-Forwarded-For, so the client is the N-th entry
    from the right; what a client wrote into the header itself is further left and ignored.
    ipware counts the proxies listed *in* the header ("client, proxy1" is 1), one fewer than
    those in front, and is told to accept a longer chain (strict=False) because a client may
    send its own X-Forwarded-For. With 0 proxies, or a request that did not come through them
    (no header, or fewer entries), it is REMOTE_ADDR.
    """
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.AXES_IPWARE_PROXY_COUNT
    if not proxies:
        return remote
    address, _routable = get_client_ip(
        request,
        proxy_count=proxies - 1,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=False,
    )
    return address or remote


def login_records_delete(*, now: datetime | None = None) -> int:
    """Delete failed-login attempts and login logs older than AXES_KEEP_DAYS (never an attempt
    that still counts: the cut-off is at least the cool-off ago). How many rows went."""
    now = now or timezone.now()
    cutoff = now - max(timedelta(days=settings.AXES_KEEP_DAYS), settings.AXES_COOLOFF_TIME)
    deleted = 0
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        count, _ = model.objects.filter(attempt_time__lt=cutoff).delete()
        deleted += count
    return deleted
