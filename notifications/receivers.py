"""What the notifications app does when a lower app says something happened."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from members.models import Invitation
from members.signals import import_finished, invitation_created
from members.team import INVITATION_DAYS, InvitationNotSent

from . import mail, services
from .models import EmailKind

logger = logging.getLogger(__name__)


@receiver(import_finished, dispatch_uid="notifications.import_finished")
def mail_the_uploader(sender, job_id: int, **kwargs) -> None:
    services.import_notice_after_commit(job_id)


@receiver(invitation_created, dispatch_uid="notifications.invitation_created")
def mail_the_invitation(sender, invitation: Invitation, link: str, **kwargs) -> None:
    """Mail the invitation now: the admin who sent it learns at once if it could not go."""
    if mail.opted_out(kind=EmailKind.INVITATION, email=invitation.email):
        raise InvitationNotSent(
            f"{invitation.email} asked not to get invitations from CommunityOS.", field="email"
        )
    try:
        mail.send(
            kind=EmailKind.INVITATION,
            template="invitation",
            to=invitation.email,
            context={
                "invitation": invitation,
                "community": invitation.community,
                "inviter": invitation.invited_by,
                "link": link,
                "days": INVITATION_DAYS,
            },
        )
    except Exception as error:  # SMTP, socket, a misconfigured backend: all mean not sent
        logger.exception("The invitation %s was not mailed.", invitation.pk)
        raise InvitationNotSent(
            "The invitation email could not be sent (the mail server did not take it); "
            "nothing was kept. Try again in a while.",
            field="email",
        ) from error
