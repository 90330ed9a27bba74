"""notifications/mail.py and the unsubscribe and preferences pages: every email is text plus
HTML with absolute links and a one-click unsubscribe (RFC 8058) that turns its kind off."""

from __future__ import annotations

import re

import pytest
from django.core import mail as outbox
from django.core import signing
from django.urls import reverse

from notifications import mail, services
from notifications.models import USER_KINDS, EmailKind, OptOut
from tests.factories import UserFactory
from tests.notifications.conftest import SITE

pytestmark = pytest.mark.django_db

UNSUBSCRIBE = re.compile(r"<(https://community\.example\.org/unsubscribe/([^/>]+)/)>")


def test_an_email_is_text_and_html_with_the_one_click_headers(alice):
    mail.send(
        kind=EmailKind.IMPORT,
        template="password_reset",
        to=alice.email,
        user=alice,
        context={"user": alice, "link": f"{SITE}/x/", "minutes": 60},
    )
    [sent] = outbox.outbox
    assert sent.to == ["alice@example.com"]
    assert sent.alternatives[0][1] == "text/html"
    found = UNSUBSCRIBE.fullmatch(sent.extra_headers["List-Unsubscribe"])
    assert found, sent.extra_headers["List-Unsubscribe"]
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    assert found.group(1) in sent.body
    assert f'href="{found.group(1)}"' in sent.alternatives[0][0]
    assert f"{SITE}/account/notifications/" in sent.body
    # the headers survive into the message as sent
    raw = sent.message().as_string()
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw
    assert mail.read_unsubscribe_token(found.group(2)) == (EmailKind.IMPORT, alice.pk, "")


def test_the_token_is_signed_per_user_and_kind(alice, victor):
    mine = mail.unsubscribe_token(kind=EmailKind.DIGEST, user=alice)
    assert mine != mail.unsubscribe_token(kind=EmailKind.DIGEST, user=victor)
    assert mine != mail.unsubscribe_token(kind=EmailKind.IMPORT, user=alice)
    payload = signing.loads(mine, salt=mail.UNSUBSCRIBE_SALT)
    forged = signing.dumps({**payload, "u": victor.pk}, salt="another salt", compress=True)
    with pytest.raises(mail.BadToken):
        mail.read_unsubscribe_token(forged)
    with pytest.raises(mail.BadToken):
        mail.read_unsubscribe_token(mine[:-2] + "xx")


def one_click(client, token):
    """What a mail client sends for RFC 8058: a POST, no cookies, no CSRF token."""
    return client.post(
        reverse("notifications:unsubscribe", args=[token]),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )


def test_one_click_post_turns_the_kind_off_without_a_session_or_csrf(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    token = mail.unsubscribe_token(kind=EmailKind.DIGEST, user=alice)
    response = one_click(client, token)
    assert response.status_code == 200
    assert "Unsubscribed" in response.content.decode()
    assert list(OptOut.objects.values_list("user", "kind")) == [(alice.pk, EmailKind.DIGEST)]
    assert one_click(client, token).status_code == 200  # twice is fine
    assert OptOut.objects.count() == 1
    assert not mail.opted_out(kind=EmailKind.IMPORT, user=alice)


def test_opening_the_link_changes_nothing(client, alice):
    """Link checkers and previews GET every link: only the button's POST unsubscribes."""
    token = mail.unsubscribe_token(kind=EmailKind.REVIEW_DUE, user=alice)
    response = client.get(reverse("notifications:unsubscribe", args=[token]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "review reminders of manual segments" in page
    assert 'name="List-Unsubscribe" value="One-Click"' in page
    assert not OptOut.objects.exists()
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.parametrize("token", ["nonsense", "a" * 500, "eyJrIjoiZGlnZXN0In0:forged"])
def test_a_bad_token_is_404(client, token):
    for method in (client.get, client.post):
        response = method(reverse("notifications:unsubscribe", args=[token]))
        assert response.status_code == 404
        assert "not valid" in response.content.decode()
    assert not OptOut.objects.exists()


def test_a_token_of_a_deleted_user_is_404(client):
    gone = UserFactory(username="gone")
    token = mail.unsubscribe_token(kind=EmailKind.DIGEST, user=gone)
    gone.delete()
    assert one_click(client, token).status_code == 404


def test_an_address_token_opts_the_address_out(client):
    token = mail.unsubscribe_token(kind=EmailKind.INVITATION, email="Nina@Example.org")
    assert one_click(client, token).status_code == 200
    assert mail.opted_out(kind=EmailKind.INVITATION, email="NINA@example.org")


def test_the_preferences_page_turns_kinds_on_and_off(client, alice):
    client.force_login(alice)
    url = reverse("notifications:preferences")
    page = client.get(url).content.decode()
    for kind in USER_KINDS:
        assert f'name="{kind}"' in page
        assert EmailKind(kind).label in page
    assert page.count("checked") == len(USER_KINDS)  # everything on by default
    response = client.post(url, {"review_due": "on", "password_reset": "on"})
    assert response.status_code == 302
    off = set(OptOut.objects.filter(user=alice).values_list("kind", flat=True))
    assert off == {EmailKind.DIGEST, EmailKind.IMPORT}
    page = client.get(url).content.decode()
    assert page.count("checked") == 2
    client.post(url, dict.fromkeys(USER_KINDS, "on"))
    assert not OptOut.objects.exists()


def test_the_preferences_page_needs_a_login(client):
    response = client.get(reverse("notifications:preferences"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_services_refuse_an_unknown_kind(alice):
    with pytest.raises(services.NotificationError):
        services.opt_out(kind="spam", user=alice)


def test_site_url_must_be_an_origin(settings):
    from notifications.checks import site_url

    settings.SITE_URL = "community.example.org"
    assert [error.id for error in site_url(None)] == ["notifications.E001"]
    settings.SITE_URL = SITE
    assert site_url(None) == []
