"""Signups from the join page: a request mails a confirmation link; the link's confirmation
writes the member (README "Join page (signup form)").

Nothing a visitor sees tells a new address from a known one: `signup_request` returns nothing
and mails the same message to both, and is as silent for an address or a client over its rate
limit. The mail holds no text the visitor typed (the form cannot be used to mail a stranger a
message), only the community's name and the link.

Tokens are `secrets.token_urlsafe(32)`; only their SHA-256 is stored, looked up by that hash
(a unique index), so neither the table nor a timing of comparisons gives a link away. A token
works once, and for SIGNUP_CONFIRM_HOURS.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from members.locks import import_lock
from members.models import Community, Identity, Member
from members.signals import members_changed

from .models import PROFILE_FIELDS, JoinPage, PendingSignup, token_hash

logger = logging.getLogger(__name__)

SOURCE = "signup"  # the identity a confirmed signup gives its member
CONSENT_ATTRIBUTE = "signup_consent"  # when the visitor ticked the consent line, and its words


class InvalidToken(Exception):
    """The link is unknown, used, expired, or of another community."""


class MailNotSent(Exception):
    """The confirmation mail could not be handed to the mail server; nothing was kept."""


def client_hash(ip: str | None) -> str:
    """The client's address as the rate limit keeps it: keyed, so the table holds no address."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, (ip or "unknown").encode(), hashlib.sha256).hexdigest()


def rate_limited(*, email: str, ip: str | None, now: datetime | None = None) -> bool:
    """Whether this address (on any community) or this client has asked too often lately."""
    since = (now or timezone.now()) - timedelta(minutes=settings.SIGNUP_RATE_WINDOW_MINUTES)
    recent = PendingSignup.objects.filter(created_at__gte=since)
    if recent.filter(email=email.lower()).count() >= settings.SIGNUP_EMAIL_LIMIT:
        return True
    return recent.filter(client_hash=client_hash(ip)).count() >= settings.SIGNUP_IP_LIMIT


def signup_request(
    *, page: JoinPage, answers: dict[str, Any], ip: str | None, base_url: str
) -> None:
    """Keep the answers and mail the address a confirmation link (`base_url`: the site's origin,
    "https://community.example.org"), unless the address or the client is over its rate limit.

    Returns nothing either way. Raises MailNotSent if the mail server refused the message (then
    nothing is kept and nothing counts against the limit).
    """
    now = timezone.now()
    email = answers["email"]
    if rate_limited(email=email, ip=ip, now=now):
        logger.info("Join page of %s: a signup over its rate limit was dropped.", page.pk)
        return
    token = secrets.token_urlsafe(32)
    pending = PendingSignup.objects.create(
        community=page.community,
        email=email.lower(),
        answers=answers,
        token_hash=token_hash(token),
        client_hash=client_hash(ip),
        created_at=now,
        expires_at=now + timedelta(hours=settings.SIGNUP_CONFIRM_HOURS),
    )
    link = base_url + reverse("signup:confirm", args=[page.community.slug, token])
    try:
        send_mail(
            subject=confirmation_subject(page.community),
            message=confirmation_text(page.community, link),
            from_email=None,  # DEFAULT_FROM_EMAIL
            recipient_list=[email],
        )
    except Exception as error:  # SMTP, socket, a misconfigured backend: all mean not sent
        logger.exception("Join page of %s: the confirmation mail was not sent.", page.pk)
        pending.delete()
        raise MailNotSent from error


def confirmation_subject(community: Community) -> str:
    name = " ".join(community.name.split())  # no line breaks in a header
    return f"Confirm your email address to join {name}"


def confirmation_text(community: Community, link: str) -> str:
    hours = settings.SIGNUP_CONFIRM_HOURS
    return (
        f"Hello,\n\n"
        f"Someone, hopefully you, asked to join {community.name} with this email address.\n"
        f"To confirm, open this link and press “Confirm”:\n\n"
        f"{link}\n\n"
        f"The link works once, for {hours} hours. If this was not you, ignore this email: "
        f"nothing is kept unless the address is confirmed.\n"
    )


def pending_for_token(*, page: JoinPage, token: str) -> PendingSignup | None:
    """The signup waiting on this link of this community's page, or None when the link is not
    (or no longer) one: unknown, used, expired."""
    if not token or len(token) > 100:
        return None
    return (
        PendingSignup.objects.for_community(page.community)
        .filter(
            token_hash=token_hash(token), confirmed_at__isnull=True, expires_at__gt=timezone.now()
        )
        .first()
    )


def signup_confirm(*, page: JoinPage, token: str) -> Member:
    """Create or update the member the link's signup describes, in one transaction.

    The member is the one with the `signup` identity of this address, else the one with this
    email in any letter case, else a new one; only the answers that are not empty overwrite
    stored values, and the page's own questions land in `attributes`, keyed by their label.
    The link is used up. `members_changed` then lets the apps above follow (the segments'
    changed-members refresh). Raises InvalidToken for a link that is not (or no longer) valid.
    """
    community = page.community
    now = timezone.now()
    if not token or len(token) > 100:
        raise InvalidToken
    with transaction.atomic():
        # Every writer of members takes the community's import lock (members/locks.py), so an
        # import running now finishes first and its members are matched, not duplicated.
        import_lock(community.pk)
        pending = (
            PendingSignup.objects.select_for_update()
            .for_community(community)
            .filter(token_hash=token_hash(token), confirmed_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if pending is None:
            raise InvalidToken
        member = _write_member(community, pending.answers, now)
        pending.confirmed_at = now
        pending.member = member
        pending.answers = {}  # they are the member's now; the row only counts for the limit
        pending.save(update_fields=["confirmed_at", "member", "answers"])
        members_changed.send(Member, community=community, member_ids=[member.pk])
    return member


def _write_member(community: Community, answers: dict[str, Any], now: datetime) -> Member:
    """The member of these answers, created or updated. Written without post_save (as an
    import writes), so the one `members_changed` of the caller does all of the follow-up."""
    email: str = answers["email"]
    key = email.lower()
    member = _match(community, email, key)
    if member is None:
        member = Member(community=community, email=email, joined_at=now)
        _apply(member, answers, now)
        try:
            with transaction.atomic():
                Member.objects.bulk_create([member])
        except IntegrityError:
            # Someone else wrote a member of this email meanwhile (not through an import):
            # that one is this person.
            member = _match(community, email, key)
            if member is None:
                raise
        else:
            _add_identity(community, member, key)
            return member
    changes = _apply(member, answers, now)
    if changes:
        Member.objects.filter(pk=member.pk).update(**changes, updated_at=now)
    _add_identity(community, member, key)
    return member


def _match(community: Community, email: str, key: str) -> Member | None:
    members = Member.objects.for_community(community)
    # Lower() on both sides: exactly the comparison of the unique index on (community,
    # lower(email)), which this reads; email <> '' matches the index's condition.
    by_email = (
        members.exclude(email="")
        .annotate(email_key=Lower("email"))
        .filter(email_key=Lower(Value(email)))
        .first()
    )
    if by_email is not None:
        return by_email
    identity = (
        Identity.objects.filter(community=community, source=SOURCE, external_id=key)
        .select_related("member")
        .first()
    )
    return identity.member if identity is not None else None


def _apply(member: Member, answers: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Set the non-empty answers on `member`; the fields that changed, with their values."""
    changes: dict[str, Any] = {}
    wanted: dict[str, Any] = {"name": answers.get("name", "")}
    wanted.update({name: answers.get(name, "") for name, _label in PROFILE_FIELDS})
    if not member.email:
        wanted["email"] = answers["email"]
    if member.joined_at is None:
        wanted["joined_at"] = now
    for field, value in wanted.items():
        if value and getattr(member, field) != value:
            setattr(member, field, value)
            changes[field] = value
    attributes = dict(member.attributes or {})
    for label, answer in (answers.get("questions") or {}).items():
        if answer:
            attributes[label] = answer
    if answers.get("consent"):
        attributes[CONSENT_ATTRIBUTE] = f"{now:%Y-%m-%d %H:%M} UTC: {answers['consent']}"
    if attributes != (member.attributes or {}):
        member.attributes = attributes
        changes["attributes"] = attributes
    return changes


def _add_identity(community: Community, member: Member, key: str) -> None:
    """The member's `signup` identity, unless this address already has one (on this member or,
    after an edit of emails, on another: identities are not moved)."""
    identities = Identity.objects.filter(community=community, source=SOURCE, external_id=key)
    if not identities.exists():
        Identity.objects.bulk_create(
            [Identity(community=community, member=member, source=SOURCE, external_id=key)]
        )


def sweep_pending_signups(now: datetime | None = None) -> int:
    """Delete the signups that count no more for the rate limit and whose link works no more
    (confirmed, or expired); the number deleted."""
    now = now or timezone.now()
    since = now - timedelta(minutes=settings.SIGNUP_RATE_WINDOW_MINUTES)
    done = PendingSignup.objects.filter(created_at__lt=since)
    deleted, _ = (
        done.filter(confirmed_at__isnull=False) | done.filter(expires_at__lte=now)
    ).delete()
    return deleted
