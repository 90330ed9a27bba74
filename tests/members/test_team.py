"""Settings > Team (members/team.py, members/team_views.py): invitations by email, roles, the
last admin's protection; every role's view of the page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from members import team
from members.models import CommunityRole, Invitation, Role
from notifications.models import EmailKind, OptOut
from tests.factories import CommunityRoleFactory, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSWORD = "a long and unusual passphrase 42"
LINK = re.compile(r"http://testserver(/invitations/[^/\s]+/)")


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "http://testserver"


def team_url(community) -> str:
    return reverse("members:team", args=[community.slug])


def invite(community, by, email="new@example.org", role="manager", **kwargs) -> Invitation:
    return team.invitation_create(
        community=community,
        email=email,
        role=role,
        by=by,
        base_url="http://testserver",
        **kwargs,
    )


def emailed_path(index: int = -1) -> str:
    found = LINK.search(mail.outbox[index].body)
    assert found, mail.outbox[index].body
    return found.group(1)


def membership(user, community) -> CommunityRole:
    return CommunityRole.objects.get(user=user, community=community)


# --- The page, by role --------------------------------------------------------------------------


def test_admins_see_the_controls(client, amy, alice, victor, community):
    client.force_login(amy)
    page = client.get(team_url(community)).content.decode()
    for person in (amy, alice, victor):
        assert person.get_username() in page
        assert person.email in page
    assert "Invite a colleague" in page
    assert (
        f'action="{reverse("members:team_remove", args=["acme", membership(alice, community).pk])}"'
        in page
    )
    assert "Send the invitation" in page
    assert 'aria-current="page">Team</a>' in page  # the Settings nav has the section


@pytest.mark.parametrize("who", ["alice", "victor"])
def test_managers_and_viewers_read_the_team_but_change_nothing(
    client, amy, alice, victor, community, who
):
    user = {"alice": alice, "victor": victor}[who]
    client.force_login(user)
    response = client.get(team_url(community))
    page = response.content.decode()
    assert response.status_code == 200
    assert "amy" in page and "Admin" in page
    assert "Invite a colleague" not in page
    assert "team_remove" not in page and "/remove/" not in page
    assert "Only a community admin can invite" in page
    # and every write is refused
    assert (
        client.post(team_url(community), {"email": "x@example.org", "role": "admin"}).status_code
        == 403
    )
    role_url = reverse("members:team_role", args=[community.slug, membership(amy, community).pk])
    assert client.post(role_url, {"role": "viewer"}).status_code == 403
    remove_url = reverse(
        "members:team_remove", args=[community.slug, membership(amy, community).pk]
    )
    assert client.post(remove_url).status_code == 403
    assert membership(amy, community).role == Role.ADMIN
    assert not Invitation.objects.exists()


def test_outsiders_get_404(otto_client, community, amy):
    assert otto_client.get(team_url(community)).status_code == 404
    remove_url = reverse(
        "members:team_remove", args=[community.slug, membership(amy, community).pk]
    )
    assert otto_client.post(remove_url).status_code == 404


def test_another_communitys_role_is_404_under_this_community(
    client, amy, community, other_community, otto
):
    client.force_login(amy)
    theirs = membership(otto, other_community)
    for name in ("members:team_role", "members:team_remove"):
        url = reverse(name, args=[community.slug, theirs.pk])
        assert client.post(url, {"role": "viewer"}).status_code == 404
    assert membership(otto, other_community).role == Role.MANAGER


# --- Inviting -----------------------------------------------------------------------------------


def test_an_admin_invites_by_email_and_the_mail_holds_the_link(client, amy, community):
    client.force_login(amy)
    response = client.post(team_url(community), {"email": "Nina@Example.org", "role": "viewer"})
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "Nina@Example.org",
        Role.VIEWER,
        amy,
    )
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    [message] = mail.outbox
    assert message.to == ["Nina@Example.org"]
    assert message.subject == "amy invites you to Acme Builders on CommunityOS"
    assert "as viewer" in message.body
    assert "works for 7 days" in message.body
    path = emailed_path()
    html = message.alternatives[0][0]
    assert f'href="http://testserver{path}"' in html
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["List-Unsubscribe"].startswith("<http://testserver/unsubscribe/")
    page = client.get(team_url(community)).content.decode()
    assert "Nina@Example.org" in page and "Revoke" in page


@pytest.mark.parametrize(
    ("email", "role", "field", "message"),
    [
        ("not an address", "manager", "email", "Enter a valid email address."),
        ("ok@example.org", "owner", "role", "Select a valid choice."),
        ("alice@example.com", "viewer", "email", "is on the team already"),
    ],
)
def test_a_bad_invitation_names_the_field(
    client, amy, alice, community, email, role, field, message
):
    client.force_login(amy)
    response = client.post(team_url(community), {"email": email, "role": role})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Invitation.objects.exists()
    assert not mail.outbox


def test_the_service_refuses_an_unknown_role(amy, community):
    with pytest.raises(team.TeamError) as caught:
        invite(community, amy, role="owner")
    assert caught.value.field == "role"


def test_inviting_the_same_address_again_replaces_the_link(amy, community):
    first = invite(community, amy)
    first_path = emailed_path()
    second = invite(community, amy, role="admin")
    first.refresh_from_db()
    assert first.revoked_at is not None
    with pytest.raises(team.InvalidInvitation):
        team.invitation_for_token(first_path.split("/")[2])
    assert team.invitation_for_token(emailed_path().split("/")[2]) == second


def test_an_address_that_unsubscribed_from_invitations_gets_none(client, amy, community):
    OptOut.objects.create(email="quiet@example.org", kind=EmailKind.INVITATION)
    client.force_login(amy)
    response = client.post(team_url(community), {"email": "QUIET@example.org", "role": "viewer"})
    assert "asked not to get invitations" in " ".join(response.context["form"].errors["email"])
    assert not Invitation.objects.exists()
    assert not mail.outbox


def test_a_mail_server_that_refuses_keeps_nothing(client, amy, community, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    client.force_login(amy)
    response = client.post(team_url(community), {"email": "n@example.org", "role": "viewer"})
    assert response.status_code == 200
    assert "could not be sent" in " ".join(response.context["form"].errors["email"])
    assert not Invitation.objects.exists()


def test_an_admin_revokes_an_invitation(client, amy, community):
    invitation = invite(community, amy)
    path = emailed_path()
    client.force_login(amy)
    url = reverse("members:team_revoke", args=[community.slug, invitation.pk])
    assert client.post(url).status_code == 302
    client.logout()
    response = client.get(path)
    assert response.status_code == 404
    assert "was revoked already" in response.content.decode()


# --- Accepting ----------------------------------------------------------------------------------


def test_accept_as_a_new_user(client, amy, community):
    invite(community, amy, email="nina@example.org", role="manager")
    path = emailed_path()
    page = client.get(path).content.decode()
    assert "Join Acme Builders" in page and "manager" in page
    response = client.post(
        path, {"username": "nina", "password": PASSWORD, "password_again": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("members:list", args=[community.slug])
    nina = User.objects.get(username="nina")
    assert nina.email == "nina@example.org"
    assert nina.check_password(PASSWORD)
    assert membership(nina, community).role == Role.MANAGER
    assert client.get(response["Location"]).status_code == 200  # logged in
    invitation = Invitation.objects.get()
    assert (invitation.accepted_by, invitation.state()) == (nina, "accepted")
    # the link works once
    client.logout()
    assert client.get(path).status_code == 404


def test_accept_as_the_logged_in_user(client, amy, otto, community):
    invite(community, amy, email="otto-work@example.org", role="viewer")
    path = emailed_path()
    client.force_login(otto)
    page = client.get(path).content.decode()
    assert "You join as <strong>otto</strong>" in page
    response = client.post(path)
    assert response.status_code == 302
    assert membership(otto, community).role == Role.VIEWER
    assert User.objects.filter(username="otto").count() == 1


def test_a_logged_in_team_member_cannot_accept_twice(client, amy, alice, community):
    invite(community, amy, email="alice-other@example.org", role="admin")
    path = emailed_path()
    client.force_login(alice)
    assert "on this team already" in client.get(path).content.decode()
    response = client.post(path)
    assert "on the team of Acme Builders already" in response.content.decode()
    assert membership(alice, community).role == Role.MANAGER


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"username": "", "password": PASSWORD, "password_again": PASSWORD},
            "username",
            "required",
        ),
        (
            {"username": "amy", "password": PASSWORD, "password_again": PASSWORD},
            "username",
            "taken",
        ),
        (
            {"username": "AMY", "password": PASSWORD, "password_again": PASSWORD},
            "username",
            "taken",
        ),
        (
            {"username": "bad name!", "password": PASSWORD, "password_again": PASSWORD},
            "username",
            "valid username",
        ),
        (
            {"username": "nina", "password": "12345678", "password_again": "12345678"},
            "password",
            "too common",
        ),
        (
            {"username": "nina", "password": PASSWORD, "password_again": "other"},
            "password_again",
            "differ",
        ),
    ],
)
def test_a_bad_account_names_the_field(client, amy, community, fields, field, message):
    invite(community, amy)
    response = client.post(emailed_path(), fields)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not User.objects.filter(username="nina").exists()
    assert Invitation.objects.get().state() == "pending"


def test_an_invitation_expires_after_seven_days(client, amy, community):
    sent = timezone.now() - timedelta(days=7, minutes=1)
    invite(community, amy, now=sent)
    path = emailed_path()
    response = client.get(path)
    assert response.status_code == 404
    assert "has expired" in response.content.decode()
    response = client.post(
        path, {"username": "nina", "password": PASSWORD, "password_again": PASSWORD}
    )
    assert response.status_code == 404
    assert not User.objects.filter(username="nina").exists()
    # the team page shows it as expired, with no revoke button
    client.force_login(amy)
    page = client.get(team_url(community)).content.decode()
    assert "Expired" in page and "Revoke" not in page


def test_a_day_before_expiry_it_still_works(amy, community):
    invitation = invite(community, amy, now=timezone.now() - timedelta(days=6))
    assert team.invitation_for_token(emailed_path().split("/")[2]) == invitation


@pytest.mark.parametrize("token", ["x", "a" * 400, "eyJpIjoxfQ:1abc:forged"])
def test_a_forged_or_odd_token_is_not_an_invitation(client, token):
    response = client.get(f"/invitations/{token}/")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_a_token_with_the_wrong_nonce_is_refused(amy, community):
    invitation = invite(community, amy)
    invitation.nonce = "other"
    with pytest.raises(team.InvalidInvitation):
        team.invitation_for_token(team.invitation_token(invitation))


def test_sweep_deletes_invitations_that_ended_a_month_ago(amy, community):
    old = invite(community, amy, email="old@example.org", now=timezone.now() - timedelta(days=40))
    fresh = invite(community, amy, email="fresh@example.org")
    assert team.invitations_sweep() == 1
    assert list(Invitation.objects.all()) == [fresh]
    assert not Invitation.objects.filter(pk=old.pk).exists()


# --- Roles and the last admin -------------------------------------------------------------------


def test_an_admin_changes_a_role(client, amy, alice, community):
    client.force_login(amy)
    url = reverse("members:team_role", args=[community.slug, membership(alice, community).pk])
    response = client.post(url, {"role": "admin"}, follow=True)
    assert "alice is now admin." in response.content.decode()
    assert membership(alice, community).role == Role.ADMIN


def test_a_bad_role_is_a_clear_error(client, amy, alice, community):
    client.force_login(amy)
    url = reverse("members:team_role", args=[community.slug, membership(alice, community).pk])
    response = client.post(url, {"role": "owner"}, follow=True)
    assert "Choose a role: admin, manager or viewer." in response.content.decode()
    assert membership(alice, community).role == Role.MANAGER


def test_the_last_admin_cannot_be_demoted(client, amy, community):
    client.force_login(amy)
    url = reverse("members:team_role", args=[community.slug, membership(amy, community).pk])
    response = client.post(url, {"role": "manager"}, follow=True)
    assert "amy is the last admin of Acme Builders: make someone else an admin first." in (
        response.content.decode()
    )
    assert membership(amy, community).role == Role.ADMIN


def test_the_last_admin_cannot_be_removed(client, amy, community):
    client.force_login(amy)
    url = reverse("members:team_remove", args=[community.slug, membership(amy, community).pk])
    response = client.post(url, follow=True)
    assert "is the last admin" in response.content.decode()
    assert membership(amy, community).role == Role.ADMIN


def test_with_two_admins_one_may_step_down(client, amy, community):
    other = UserFactory(username="ada")
    CommunityRoleFactory(user=other, community=community, role=Role.ADMIN)
    client.force_login(amy)
    url = reverse("members:team_role", args=[community.slug, membership(amy, community).pk])
    client.post(url, {"role": "viewer"})
    assert membership(amy, community).role == Role.VIEWER
    # ada is the last one now
    with pytest.raises(team.TeamError, match="ada is the last admin"):
        team.role_remove(membership=membership(other, community))
    with pytest.raises(team.TeamError, match="ada is the last admin"):
        team.role_change(membership=membership(other, community), role="manager")


def test_an_admin_removes_someone_and_their_account_stays(client, amy, alice, community):
    client.force_login(amy)
    url = reverse("members:team_remove", args=[community.slug, membership(alice, community).pk])
    response = client.post(url, follow=True)
    assert "alice is no longer on the team." in response.content.decode()
    assert not CommunityRole.objects.filter(user=alice, community=community).exists()
    assert User.objects.filter(pk=alice.pk).exists()
    client.force_login(alice)
    assert client.get(reverse("members:list", args=[community.slug])).status_code == 404


def test_an_admin_who_leaves_goes_home(client, amy, community):
    CommunityRoleFactory(user=UserFactory(username="ada"), community=community, role=Role.ADMIN)
    client.force_login(amy)
    url = reverse("members:team_remove", args=[community.slug, membership(amy, community).pk])
    response = client.post(url)
    assert response["Location"] == reverse("home")
    assert not CommunityRole.objects.filter(user=amy, community=community).exists()


def test_other_communities_admins_do_not_count(amy, community, other_community):
    CommunityRoleFactory(
        user=UserFactory(username="ada"), community=other_community, role=Role.ADMIN
    )
    with pytest.raises(team.TeamError):
        team.role_change(membership=membership(amy, community), role="viewer")
