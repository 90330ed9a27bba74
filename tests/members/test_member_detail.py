import random
import re
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


# --- Other attributes, a page at a time ------------------------------------------------------


def attribute_keys(html: str) -> list[str]:
    """The attribute names shown, in page order."""
    section = html[html.index('<dl class="facts attributes">') :]
    return re.findall(r"<dt>([^<]*)</dt>", section[: section.index("</dl>")])


@pytest.fixture
def many(community):
    """A member with 120 attributes k000..k119, stored out of order."""
    keys = [f"k{i:03}" for i in range(120)]
    random.Random(7).shuffle(keys)
    return MemberFactory(community=community, attributes={key: f"v-{key}" for key in keys})


def test_attributes_show_50_by_name_with_a_link_to_the_next_page(alice_client, many):
    html = alice_client.get(detail_url(many)).content.decode()

    assert attribute_keys(html) == [f"k{i:03}" for i in range(50)]
    assert "<dd>v-k049</dd>" in html
    assert "k050" not in html
    assert "1\N{EN DASH}50 of 120, by name" in html
    assert 'rel="next" href="?attributes=2#attributes-heading">Next attributes</a>' in html
    assert "Previous attributes" not in html


def test_the_next_pages_of_attributes(alice_client, many):
    second = alice_client.get(detail_url(many), {"attributes": "2"}).content.decode()
    third = alice_client.get(detail_url(many), {"attributes": "3"}).content.decode()

    assert attribute_keys(second) == [f"k{i:03}" for i in range(50, 100)]
    assert 'rel="prev" href="?attributes=1#attributes-heading"' in second
    assert 'rel="next" href="?attributes=3#attributes-heading"' in second
    assert attribute_keys(third) == [f"k{i:03}" for i in range(100, 120)]
    assert "101\N{EN DASH}120 of 120, by name" in third
    assert 'rel="prev" href="?attributes=2#attributes-heading"' in third
    assert "Next attributes" not in third


@pytest.mark.parametrize(
    "asked",
    [
        "",
        "0",
        "-1",
        "4",
        "abc",
        "2.0",
        " 2",
        "+2",
        "1e1",
        "\N{SUPERSCRIPT TWO}",
        "\N{ARABIC-INDIC DIGIT TWO}",
        "\N{FULLWIDTH DIGIT TWO}",
        "9" * 10,
        "9" * 5000,
    ],
)
def test_a_page_of_attributes_that_is_not_one_shows_the_first(alice_client, many, asked):
    response = alice_client.get(detail_url(many), {"attributes": asked})

    assert response.status_code == 200
    assert attribute_keys(response.content.decode()) == [f"k{i:03}" for i in range(50)]


def test_attributes_are_sorted_by_name_ignoring_case(alice_client, community):
    member = MemberFactory(community=community, attributes={"b": "2", "C": "3", "a": "1", "A": "0"})

    html = alice_client.get(detail_url(member)).content.decode()

    assert attribute_keys(html) == ["A", "a", "b", "C"]
    assert "Next attributes" not in html
    assert "by name" not in html  # one page: no range line


def test_a_member_without_attributes_has_no_attributes_heading(alice_client, community):
    member = MemberFactory(community=community, attributes={})

    assert "Other attributes" not in alice_client.get(detail_url(member)).content.decode()


def test_a_member_with_400000_attributes_gets_a_small_page(alice_client, community):
    """Imports cap attributes now (members/importing.py); members stored before are paged."""
    member = MemberFactory(
        community=community, attributes={f"attribute {i:06}": "x" * 20 for i in range(400_000)}
    )

    response = alice_client.get(detail_url(member), {"attributes": "8000"})

    html = response.content.decode()
    assert len(html) < 100_000
    assert attribute_keys(html)[0] == "attribute 399950"
    assert "399,951\N{EN DASH}400,000 of 400,000, by name" in html
