from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.factories import IdentityFactory, MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(community):
    member = MemberFactory(
        community=community,
        name="Priya Raman",
        email="priya@example.org",
        company_name="Acme",
        job_title="Product Designer",
        location="Austin, TX",
        city="Austin",
        country="United States",
        bio="Designs <b>things</b>.",
        joined_at=datetime(2025, 4, 2, 9, 30, tzinfo=UTC),
        attributes={"tshirt": "M"},
    )
    IdentityFactory(member=member, source="slack", external_id="U123")
    return member


def detail_url(member):
    return reverse("members:detail", args=[member.community.slug, member.pk])


def test_profile_shows_fields_identities_and_attributes(alice_client, member):
    response = alice_client.get(detail_url(member))
    content = response.content.decode()
    assert response.status_code == 200
    for text in ["Priya Raman", "priya@example.org", "Product Designer", "Austin, TX", "U123"]:
        assert text in content
    assert "Apr 2, 2025" in content
    assert "tshirt" in content
    assert "Designs &lt;b&gt;things&lt;/b&gt;." in content


def test_profile_dates_use_the_community_timezone(alice_client, member):
    member.community.timezone = "Asia/Tokyo"
    member.community.save()
    member.joined_at = datetime(2025, 4, 2, 20, 0, tzinfo=UTC)  # Apr 3, 05:00 in Tokyo
    member.save()
    assert "Apr 3, 2025" in alice_client.get(detail_url(member)).content.decode()


def test_member_of_another_community_is_404_even_through_my_community_url(
    alice_client, community, other_community
):
    stranger = MemberFactory(community=other_community)
    url = reverse("members:detail", args=[community.slug, stranger.pk])
    assert alice_client.get(url).status_code == 404


def test_outsider_gets_404(otto_client, member):
    assert otto_client.get(detail_url(member)).status_code == 404


def test_viewer_can_read_profile(victor_client, member):
    assert victor_client.get(detail_url(member)).status_code == 200
