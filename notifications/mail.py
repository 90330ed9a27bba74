"""Every email of CommunityOS goes out through `send`: a subject, a plain-text body and an HTML
alternative rendered from templates/notifications/email/<name>{_subject.txt,.txt,.html}, with
absolute links (SITE_URL) and a one-click unsubscribe (RFC 8058): a `List-Unsubscribe` header
with the URL of a token signed (django.core.signing) over the recipient and the kind of email,
and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, so that a mail client's
"Unsubscribe" button POSTs to it and that kind stops.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from .models import EmailKind, OptOut

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
TOKEN_MAX_LENGTH = 400


class BadToken(Exception):
    """An unsubscribe link that is not one of ours."""


def absolute(path: str) -> str:
    """The path as a link that works from a mailbox: SITE_URL in front."""
    return settings.SITE_URL.rstrip("/") + path


def unsubscribe_token(*, kind: str, user=None, email: str = "") -> str:
    """Signed over (user, kind), or (address, kind) for mail to someone without an account."""
    payload: dict[str, Any] = {"k": str(kind)}
    if user is not None:
        payload["u"] = user.pk
    else:
        payload["e"] = email.lower()
    return signing.dumps(payload, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> tuple[str, int | None, str]:
    """(kind, user id or None, address or "") from a token; BadToken if it is not ours."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise BadToken("This unsubscribe link is not valid.")
    try:
        payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise BadToken("This unsubscribe link is not valid.") from None
    if not isinstance(payload, dict) or payload.get("k") not in EmailKind.values:
        raise BadToken("This unsubscribe link is not valid.")
    user_id, email = payload.get("u"), payload.get("e", "")
    if not (isinstance(user_id, int) or (user_id is None and isinstance(email, str) and email)):
        raise BadToken("This unsubscribe link is not valid.")
    return payload["k"], user_id, email if user_id is None else ""


def unsubscribe_url(*, kind: str, user=None, email: str = "") -> str:
    token = unsubscribe_token(kind=kind, user=user, email=email)
    return absolute(reverse("notifications:unsubscribe", args=[token]))


def opted_out(*, kind: str, user=None, email: str = "") -> bool:
    if user is not None:
        return OptOut.objects.filter(user=user, kind=kind).exists()
    return OptOut.objects.filter(email__iexact=email, kind=kind).exists()


def render(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of an email template."""
    subject = render_to_string(f"notifications/email/{template}_subject.txt", context)
    text = render_to_string(f"notifications/email/{template}.txt", context)
    html = render_to_string(f"notifications/email/{template}.html", context)
    return " ".join(subject.split()), text, html  # a subject is one line


def send(
    *, kind: str, template: str, context: dict[str, Any], to: str, user=None
) -> EmailMultiAlternatives:
    """Render and send one email to `to` (the address of `user`, when there is one). Raises
    whatever the mail backend raises (SMTP errors): the caller decides what that means."""
    unsubscribe = unsubscribe_url(kind=kind, user=user, email=to)
    context = {
        **context,
        "site_url": settings.SITE_URL.rstrip("/"),
        "unsubscribe_url": unsubscribe,
        "preferences_url": absolute(reverse("notifications:preferences")),
        "kind_label": EmailKind(kind).label,
        "for_user": user is not None,
    }
    subject, text, html = render(template, context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[to],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    message.send()
    return message
