"""The team of a community (README "Email and the team"): who holds which role, and the
invitations that bring a colleague in.

Admins invite by email to a role; the email (sent by a receiver of `invitation_created`, the
notifications app) holds a link with a token signed by django.core.signing over the
invitation's id and a random nonce, valid for INVITATION_DAYS. Accepting creates the account
(with a password) or attaches the logged-in user. Admins change roles and remove people; the
last admin of a community can be neither demoted nor removed. Every write that counts admins
locks the community's row first, so two admins demoting each other at once cannot leave the
community without one.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import cast

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from .models import Community, CommunityRole, Invitation, Role
from .signals import invitation_created

INVITATION_DAYS = 7
SIGNING_SALT = "members.team.invitation"  # a namespace for signing, not a secret
TOKEN_MAX_LENGTH = 300


class TeamError(Exception):
    """A team change that cannot be made; `field` names the form field it is about."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvitationNotSent(TeamError):
    """Raised by a receiver of `invitation_created` that could not mail the invitation."""


class InvalidInvitation(TeamError):
    """The link is not (or no longer) an invitation: unknown, expired, revoked or used."""


def _lock(community: Community) -> None:
    Community.objects.select_for_update().filter(pk=community.pk).first()


def admin_count(community: Community) -> int:
    return CommunityRole.objects.filter(community=community, role=Role.ADMIN).count()


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise TeamError("Choose a role: admin, manager or viewer.", field="role") from None


# --- Invitations --------------------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=SIGNING_SALT)


def invitation_link(invitation: Invitation, *, base_url: str) -> str:
    return base_url + reverse("invitation_accept", args=[invitation_token(invitation)])


def invitation_create(
    *, community: Community, email: str, role: str, by, base_url: str, now: datetime | None = None
) -> Invitation:
    """Invite `email` to `role` and mail the link (`base_url`: the site's origin). A pending
    invitation of the same address is replaced (its link stops working). Raises TeamError
    naming the field for an invalid address or role, or someone already on the team, and
    InvitationNotSent when the mail could not be sent (then nothing is kept)."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise TeamError("Enter a valid email address.", field="email") from None
    chosen = _role(role)
    now = now or timezone.now()
    with transaction.atomic():
        _lock(community)
        on_team = CommunityRole.objects.filter(community=community, user__email__iexact=email)
        if on_team.exists():
            raise TeamError(
                f"Someone with {email} is on the team already; change their role below.",
                field="email",
            )
        Invitation.objects.for_community(community).pending(now).filter(email__iexact=email).update(
            revoked_at=now
        )
        invitation = Invitation.objects.create(
            community=community,
            email=email,
            role=chosen,
            nonce=secrets.token_urlsafe(16),
            invited_by=by,
            created_at=now,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )
        link = invitation_link(invitation, base_url=base_url)
        invitation_created.send(sender=Invitation, invitation=invitation, link=link)
    return invitation


def invitation_revoke(*, invitation: Invitation, now: datetime | None = None) -> Invitation:
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
        if locked is None or locked.state(now) != "pending":
            raise TeamError("This invitation is not pending any more.")
        locked.revoked_at = now or timezone.now()
        locked.save(update_fields=["revoked_at"])
    return locked


def invitation_for_token(token: str, *, now: datetime | None = None) -> Invitation:
    """The pending invitation the link's token names; InvalidInvitation otherwise."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise InvalidInvitation("This invitation link is not valid.")
    try:
        data = signing.loads(token, salt=SIGNING_SALT, max_age=timedelta(days=INVITATION_DAYS))
    except signing.SignatureExpired:
        raise InvalidInvitation("This invitation has expired: ask for a new one.") from None
    except signing.BadSignature:
        raise InvalidInvitation("This invitation link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("i"), int):
        raise InvalidInvitation("This invitation link is not valid.")
    invitation = Invitation.objects.select_related("community").filter(pk=data["i"]).first()
    if invitation is None or not constant_time_compare(invitation.nonce, str(data.get("n"))):
        raise InvalidInvitation("This invitation link is not valid.")
    state = invitation.state(now)
    if state == "expired":
        raise InvalidInvitation("This invitation has expired: ask for a new one.")
    if state != "pending":
        raise InvalidInvitation(f"This invitation was {state} already.")
    return invitation


def invitation_accept(
    *,
    token: str,
    user=None,
    username: str = "",
    password: str = "",
    now: datetime | None = None,
) -> CommunityRole:
    """Accept the invitation: as `user` (logged in), or as a new account with `username` and
    `password` (validated like every password). Returns the new role. Raises
    InvalidInvitation for a link that does not work, TeamError (naming the field) otherwise."""
    now = now or timezone.now()
    with transaction.atomic():
        invitation = invitation_for_token(token, now=now)
        Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
        invitation.refresh_from_db()
        if invitation.state(now) != "pending":
            raise InvalidInvitation(f"This invitation was {invitation.state(now)} already.")
        if user is None:
            user = _new_user(username=username, password=password, email=invitation.email)
        elif CommunityRole.objects.filter(user=user, community=invitation.community).exists():
            raise TeamError(f"You are on the team of {invitation.community.name} already.")
        role = CommunityRole.objects.create(
            user=user, community=invitation.community, role=invitation.role
        )
        invitation.accepted_at = now
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return role


def _new_user(*, username: str, password: str, email: str):
    User = get_user_model()
    username = (username or "").strip()
    if not username:
        raise TeamError("Choose a username.", field="username")
    field = cast(models.Field, User._meta.get_field(User.USERNAME_FIELD))
    try:
        field.run_validators(username)
    except ValidationError as error:
        raise TeamError(" ".join(error.messages), field="username") from None
    if User._default_manager.filter(**{f"{User.USERNAME_FIELD}__iexact": username}).exists():
        raise TeamError("This username is taken; choose another.", field="username")
    candidate = User(**{User.USERNAME_FIELD: username}, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as error:
        raise TeamError(" ".join(error.messages), field="password") from None
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:  # the same name, taken a moment ago
        raise TeamError("This username is taken; choose another.", field="username") from None
    return candidate


def invitations_sweep(*, now: datetime | None = None, keep_days: int = 30) -> int:
    """Delete invitations that ended (accepted, revoked or expired) more than `keep_days` ago:
    the team page shows recent ones only. How many went."""
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    ended = (
        Invitation.objects.filter(accepted_at__lt=cutoff)
        | Invitation.objects.filter(revoked_at__lt=cutoff)
        | Invitation.objects.filter(expires_at__lt=cutoff)
    )
    count, _ = Invitation.objects.filter(pk__in=ended.values("pk")).delete()
    return count


# --- Roles --------------------------------------------------------------------------------------


def _last_admin_error(community: Community, user) -> TeamError:
    return TeamError(
        f"{user.get_username()} is the last admin of {community.name}: make someone else an "
        "admin first.",
        field="role",
    )


def role_change(*, membership: CommunityRole, role: str) -> CommunityRole:
    """Give the team member another role; never the last admin's."""
    chosen = _role(role)
    with transaction.atomic():
        _lock(membership.community)
        locked = CommunityRole.objects.filter(pk=membership.pk).select_related("user").first()
        if locked is None:
            raise TeamError("This person is not on the team any more.")
        demoted = locked.role == Role.ADMIN and chosen != Role.ADMIN
        if demoted and admin_count(locked.community) <= 1:
            raise _last_admin_error(membership.community, locked.user)
        locked.role = chosen
        locked.save(update_fields=["role"])
    return locked


def role_remove(*, membership: CommunityRole) -> None:
    """Take the person off the team (their account stays); never the last admin."""
    with transaction.atomic():
        _lock(membership.community)
        locked = CommunityRole.objects.filter(pk=membership.pk).select_related("user").first()
        if locked is None:
            return
        if locked.role == Role.ADMIN and admin_count(locked.community) <= 1:
            raise _last_admin_error(membership.community, locked.user)
        locked.delete()
