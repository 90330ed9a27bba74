"""System checks: the links in emails need a SITE_URL that mail readers can open (https in
production: RFC 8058 asks for an https one-click unsubscribe; README says so)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register


@register()
def site_url(app_configs, **kwargs) -> list:
    parts = urlsplit(settings.SITE_URL)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [
            Error(
                f"SITE_URL must be the site's origin, such as https://community.example.org "
                f"(it is {settings.SITE_URL!r}).",
                id="notifications.E001",
            )
        ]
    return []
