"""Settings > API tokens (/c/<slug>/settings/api/): admins create (shown once) and revoke;
managers and viewers read the list; outsiders get 404."""

from __future__ import annotations

from django.urls import reverse

from api.models import ApiToken
from api.tokens import token_create, token_for_secret

URL = reverse("api:tokens", args=["acme"])


def test_an_admin_creates_a_token_shown_once(client, amy, community):
    client.force_login(amy)
    response = client.post(URL, {"name": "CRM sync", "scope": "write", "expires_in_days": "90"})
    assert response.status_code == 302  # a reload does not make a second token
    response = client.get(response["Location"])
    token = ApiToken.objects.get(community=community)
    secret = response.context["created"].secret
    assert token_for_secret(secret) == token and token.can_write and token.created_by == amy
    html = response.content.decode()
    assert secret in html and "shown only this once" in html
    assert "no-store" in response["Cache-Control"]
    again = client.get(URL).content.decode()
    assert secret not in again  # never shown again
    assert token.shown in again and "CRM sync" in again and "never" in again


def test_form_errors(client, amy, community):
    client.force_login(amy)
    for data in (
        {"name": "", "scope": "read"},
        {"name": "x", "scope": "admin"},
        {"name": "x", "scope": "read", "expires_in_days": "0"},
    ):
        response = client.post(URL, data)
        assert response.status_code == 200 and response.context["created"] is None
        assert response.context["form"].errors
    assert not ApiToken.objects.exists()


def test_an_admin_revokes(client, amy, community, other_community):
    client.force_login(amy)
    new = token_create(community=community, name="Old", scope="read")
    theirs = token_create(community=other_community, name="Theirs")
    response = client.post(URL, {"action": "revoke", "token": str(new.token.pk)}, follow=True)
    assert "is revoked" in response.content.decode()
    new.token.refresh_from_db()
    assert new.token.is_revoked
    client.post(URL, {"action": "revoke", "token": str(theirs.token.pk)})
    theirs.token.refresh_from_db()
    assert not theirs.token.is_revoked  # another community's token is not there


def test_managers_and_viewers_see_the_list_only(client, alice, victor, otto, community):
    token_create(community=community, name="Dashboard")
    for user in (alice, victor):
        client.force_login(user)
        page = client.get(URL)
        assert page.status_code == 200
        assert "Dashboard" in page.content.decode() and "Create token" not in page.content.decode()
        assert client.post(URL, {"name": "x", "scope": "write"}).status_code == 403
    client.force_login(otto)
    assert client.get(URL).status_code == 404
    assert ApiToken.objects.count() == 1


def test_the_settings_nav_links_the_page(client, amy, community):
    client.force_login(amy)
    page = client.get(reverse("signup:settings", args=["acme"])).content.decode()
    assert f'href="{URL}"' in page
