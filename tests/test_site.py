"""Pages outside a community: home, login (the health check: tests/ops/test_health.py)."""

import pytest
from django.urls import reverse

from members.models import Role
from tests.factories import CommunityFactory, CommunityRoleFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_home_sends_a_user_with_one_community_to_its_table(alice_client, community):
    response = alice_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("members:list", args=[community.slug])


def test_home_offers_a_chooser_for_several_communities(alice_client, alice, other_community):
    CommunityRoleFactory(user=alice, community=other_community, role=Role.VIEWER)
    content = alice_client.get("/").content.decode()
    assert "Acme Builders" in content
    assert "Globex Makers" in content


def test_home_without_any_community_explains_what_to_do(client):
    client.force_login(UserFactory(username="newbie"))
    content = client.get("/").content.decode()
    assert "No community yet" in content
    assert "grant_access" in content


def test_superuser_opens_any_community(client, community):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    assert client.get(reverse("members:list", args=[community.slug])).status_code == 200


def test_switcher_lists_only_my_communities(alice_client, community, other_community):
    CommunityFactory(name="Hidden Guild", slug="hidden")
    content = alice_client.get(reverse("members:list", args=[community.slug])).content.decode()
    assert 'aria-label="Switch community"' in content
    assert "Hidden Guild" not in content
    assert "Globex Makers" not in content


def test_anonymous_home_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_with_password_then_logout(client, alice, community):
    response = client.post(
        reverse("login"), {"username": "alice", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client.get("/", follow=True).request["PATH_INFO"] == f"/c/{community.slug}/"
    client.post(reverse("logout"))
    assert client.get("/").status_code == 302


def test_bad_login_says_so(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
