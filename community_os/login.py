"""Login throttling (django-axes): the username it records and counts failures under.

django-axes stores the username a login form was sent with (a varchar of 255). A form can send
anything: 300 characters failed to insert (DataError, a 500 on the login page) and a NUL is
refused by PostgreSQL. No account's username is longer than Django's 150 characters or holds
a NUL, so the recorded name drops NULs and is cut at 150: the same account, the same count.
"""

from __future__ import annotations

from django.http import HttpRequest

USERNAME_MAX_LENGTH = 150  # django.contrib.auth's User.username


def throttled_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The AXES_USERNAME_CALLABLE: the username from the credentials, else from the form."""
    source = credentials if credentials else getattr(request, "data", request.POST)
    raw = source.get("username")
    if raw is None:
        return None
    return str(raw).replace("\x00", "")[:USERNAME_MAX_LENGTH]
