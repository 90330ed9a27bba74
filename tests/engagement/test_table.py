"""The engagement scores in the community table: columns, sorting with keyset paging, filters."""

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from engagement.models import MemberScore
from members import table
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 6, 1, 12, tzinfo=UTC)
SCORE_KEYS = ["engagement_score", "frequency_score", "recency_score", "impact_score"]


def list_url(community, **params):
    url = reverse("members:list", args=[community.slug])
    return f"{url}?{urlencode(params)}" if params else url


def names(response):
    return [m.name for m in response.context["page"].rows]


def give_score(member, engagement, frequency=None, recency=None, impact=None):
    """A MemberScore; unspecified components default to the engagement value."""

    def d(value):
        return Decimal(str(engagement if value is None else value))

    return MemberScore.objects.create(
        member=member,
        community=member.community,
        engagement=d(engagement),
        frequency=d(frequency),
        recency=d(recency),
        impact=d(impact),
        as_of=AS_OF,
    )


def test_the_score_columns_are_registered_once_after_the_base_columns():
    keys = [column.key for column in table.columns()]
    assert keys[-4:] == SCORE_KEYS
    assert keys.count("engagement_score") == 1
    assert {column.kind for column in table.columns()[-4:]} == {"score"}


def test_scores_show_with_two_decimals_and_a_dash_without_a_score(alice_client, community):
    give_score(MemberFactory(community=community, name="Ann"), "2.5", "1.6", "3", "0.09")
    MemberFactory(community=community, name="Unscored")
    response = alice_client.get(list_url(community, sort="name"))
    content = response.content.decode()
    for label in ("Engagement", "Frequency", "Recency", "Impact"):
        assert f">{label}<span" in content
    rows = response.context["rows"]
    assert [cell.value for cell in rows[0].cells[-4:]] == [
        Decimal("2.50"),
        Decimal("1.60"),
        Decimal("3.00"),
        Decimal("0.09"),
    ]
    assert [cell.value for cell in rows[1].cells[-4:]] == [None] * 4
    compact = "".join(content.split())
    assert '<tdclass="col-engagement_scorecell-score">2.50</td>' in compact
    assert content.count('<span class="muted">—</span>') == 4


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-engagement_score", ["High", "Mid", "Low", "Unscored"]),
        ("engagement_score", ["Low", "Mid", "High", "Unscored"]),
        ("-frequency_score", ["Low", "High", "Mid", "Unscored"]),
        ("recency_score", ["Mid", "High", "Low", "Unscored"]),
        ("-impact_score", ["Mid", "Low", "High", "Unscored"]),
        ("impact_score", ["High", "Low", "Mid", "Unscored"]),
    ],
)
def test_sorting_by_a_score_puts_unscored_members_last_both_ways(
    alice_client, community, sort, expected
):
    give_score(MemberFactory(community=community, name="High"), "2.9", "2", "1", "0.5")
    give_score(MemberFactory(community=community, name="Mid"), "1.5", "1", "0.5", "3")
    give_score(MemberFactory(community=community, name="Low"), "0.2", "3", "2", "1")
    MemberFactory(community=community, name="Unscored")
    assert names(alice_client.get(list_url(community, sort=sort))) == expected


def test_the_engagement_header_sorts_highest_first_on_the_first_click(alice_client, community):
    response = alice_client.get(list_url(community))
    header = next(h for h in response.context["headers"] if h["column"].key == "engagement_score")
    assert header["sort_param"] == "-engagement_score"
    assert header["aria_sort"] == "none"


@pytest.mark.parametrize("sort", [*SCORE_KEYS, *(f"-{key}" for key in SCORE_KEYS)])
def test_keyset_pages_walk_forward_and_back_over_ties_and_unscored_members(
    alice_client, community, settings, sort
):
    settings.MEMBERS_PAGE_SIZE = 4
    # Ties in every score, and members without one, are where keyset paging breaks.
    for i in range(13):
        member = MemberFactory(community=community, name=f"Member {i:02d}")
        if i % 4:
            value = ["0.50", "1.25", "2.75"][i % 3]
            give_score(member, value, value, value, value)
    pages, response = [], alice_client.get(list_url(community, sort=sort))
    while True:
        page = response.context["page"]
        pages.append([m.pk for m in page.rows])
        if not page.next_cursor:
            break
        response = alice_client.get(list_url(community, sort=sort, after=page.next_cursor))
    walked = [pk for rows in pages for pk in rows]
    assert [len(rows) for rows in pages] == [4, 4, 4, 1]
    assert len(set(walked)) == 13
    # The order is the score (nulls last), then id, in the direction of the sort.
    field = sort.removeprefix("-").removesuffix("_score")
    by_member = dict(MemberScore.objects.values_list("member_id", field))
    values = [by_member.get(pk) for pk in walked]
    scored = [v for v in values if v is not None]
    assert values[: len(scored)] == scored  # unscored members come last
    assert scored == sorted(scored, reverse=sort.startswith("-"))

    back = []
    while page.previous_cursor:
        response = alice_client.get(list_url(community, sort=sort, before=page.previous_cursor))
        page = response.context["page"]
        back.append([m.pk for m in page.rows])
    assert back == pages[-2::-1]


def test_score_filters_are_inclusive_and_exclude_unscored_members(alice_client, community):
    give_score(MemberFactory(community=community, name="Edge low"), "1.00")
    give_score(MemberFactory(community=community, name="Inside"), "1.50")
    give_score(MemberFactory(community=community, name="Edge high"), "2.00")
    give_score(MemberFactory(community=community, name="Above"), "2.01")
    give_score(MemberFactory(community=community, name="Below"), "0.99")
    MemberFactory(community=community, name="Unscored")
    response = alice_client.get(
        list_url(community, engagement_min="1", engagement_max="2", sort="name")
    )
    assert names(response) == ["Edge high", "Edge low", "Inside"]
    assert response.context["active_filter_count"] == 2
    assert names(alice_client.get(list_url(community, engagement_max="0.99"))) == ["Below"]


def test_score_filters_combine_with_each_other_with_search_and_member_filters(
    alice_client, community
):
    def member(name, company, engagement, frequency, recency, impact):
        give_score(
            # A fixed job title: a random one ("Planner") could contain the searched "ann".
            MemberFactory(community=community, name=name, company_name=company, job_title="Chef"),
            engagement,
            frequency,
            recency,
            impact,
        )

    member("Ann Match", "Acme", "2", "2", "2", "2.5")
    member("Ann Low impact", "Acme", "2", "2", "2", "1")
    member("Ann Low frequency", "Acme", "2", "0.5", "2", "2.5")
    member("Ann Other company", "Globex", "2", "2", "2", "2.5")
    member("Bob Match", "Acme", "2", "2", "2", "2.5")
    params = {"frequency_min": "1", "impact_min": "2", "recency_max": "3"}
    assert sorted(names(alice_client.get(list_url(community, **params)))) == [
        "Ann Match",
        "Ann Other company",
        "Bob Match",
    ]
    assert names(alice_client.get(list_url(community, q="ann", company="acme", **params))) == [
        "Ann Match"
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"engagement_min": "lots"}, "Engagement from: Enter a number."),
        ({"impact_max": "4"}, "Impact to: Ensure this value is less than or equal to 3."),
        ({"recency_min": "-1"}, "Recency from: Ensure this value is greater than or equal to 0."),
        (
            {"frequency_max": "1.234"},
            "Frequency to: Ensure that there are no more than 2 decimal places.",
        ),
    ],
)
def test_invalid_score_filters_are_reported_and_ignored(alice_client, community, params, message):
    give_score(MemberFactory(community=community, name="Ann"), "1")
    response = alice_client.get(list_url(community, **params))
    assert response.status_code == 200
    assert message in response.context["filter_errors"]
    assert "Some filters were not understood" in response.content.decode()
    assert names(response) == ["Ann"]
    assert response.context["active_filter_count"] == 0


def test_the_filter_panel_has_labelled_number_inputs_that_keep_their_values(
    alice_client, community
):
    content = alice_client.get(list_url(community, impact_min="1.5")).content.decode()
    for name, label in [
        ("engagement_min", "Engagement from"),
        ("engagement_max", "Engagement to"),
        ("frequency_min", "Frequency from"),
        ("frequency_max", "Frequency to"),
        ("recency_min", "Recency from"),
        ("recency_max", "Recency to"),
        ("impact_min", "Impact from"),
        ("impact_max", "Impact to"),
    ]:
        assert f'<label for="id_{name}">{label}</label>' in content
        assert f'<input id="id_{name}" type="number" name="{name}"' in content
    assert 'name="impact_min" value="1.5" step="0.01" min="0" max="3"' in content
    assert '<details class="filter-panel" open>' in content


def test_table_query_count_does_not_grow_with_rows(alice_client, community):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.get(list_url(community, sort="-engagement_score"))
        assert response.status_code == 200
        return len([q for q in queries if q["sql"].startswith("SELECT")])

    for member in MemberFactory.create_batch(3, community=community):
        give_score(member, "1")
    few = count_queries()
    for member in MemberFactory.create_batch(30, community=community):
        give_score(member, "2")
    # 8 reads: session, user, community, role, page, count, the switcher's communities, and
    # the segments the sidebar and the pills share.
    assert count_queries() == few <= 8
