import pytest
from django.urls import reverse

from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_smoke(alice_client, community):
    MemberFactory(community=community, name="Zed Zulu")
    response = alice_client.get(reverse("members:list", args=[community.slug]))
    assert response.status_code == 200
    assert b"Zed Zulu" in response.content
