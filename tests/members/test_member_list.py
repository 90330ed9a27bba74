from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.filters import MAX_SEARCH_WORD_LENGTH, MAX_SEARCH_WORDS, MemberFilter, search_words
from members.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def list_url(community, **params):
    from urllib.parse import urlencode

    url = reverse("members:list", args=[community.slug])
    return f"{url}?{urlencode(params)}" if params else url


def names(response):
    return [m.name for m in response.context["page"].rows]


def test_full_page_lists_members_of_this_community_only(alice_client, community, other_community):
    MemberFactory(community=community, name="Zed Zulu", company_name="Acme")
    MemberFactory(community=other_community, name="Olga Other")
    response = alice_client.get(list_url(community))
    assert response.status_code == 200
    content = response.content.decode()
    assert content.startswith("<!doctype html>")
    assert "Zed Zulu" in content
    assert "Olga Other" not in content
    assert "1 member" in content


def test_htmx_request_gets_only_the_table_partial(alice_client, community):
    MemberFactory(community=community, name="Zed Zulu")
    response = alice_client.get(
        list_url(community, q="zed"), headers={"HX-Request": "true", "HX-Target": "members-table"}
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert content.lstrip().startswith('<section id="members-table"')
    assert "Zed Zulu" in content
    assert "HX-Request" in response["Vary"]


def test_outsider_gets_404_and_anonymous_goes_to_login(client, otto_client, community):
    member = MemberFactory(community=community)
    assert otto_client.get(list_url(community)).status_code == 404
    detail = reverse("members:detail", args=[community.slug, member.pk])
    assert otto_client.get(detail).status_code == 404
    client.logout()
    response = client.get(list_url(community))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unknown_community_is_404(alice_client):
    assert alice_client.get("/c/nope/").status_code == 404


def test_viewer_reads_the_table_but_cannot_post(victor_client, community):
    MemberFactory(community=community, name="Zed Zulu")
    assert victor_client.get(list_url(community)).status_code == 200
    assert victor_client.post(list_url(community)).status_code == 403


def test_search_matches_every_word_across_name_email_company_and_title(alice_client, community):
    MemberFactory(community=community, name="Ann Lee", company_name="Acme", job_title="Designer")
    MemberFactory(community=community, name="Bob Roe", company_name="Globex", job_title="Designer")
    MemberFactory(community=community, name="Cy Acme", company_name="Initech", job_title="Engineer")
    MemberFactory(
        community=community, name="Dee", email="dee@acme.io", company_name="", job_title=""
    )
    assert sorted(names(alice_client.get(list_url(community, q="acme")))) == [
        "Ann Lee",
        "Cy Acme",
        "Dee",
    ]
    assert names(alice_client.get(list_url(community, q="ACME designer"))) == ["Ann Lee"]


def test_filters_combine(alice_client, community):
    def member(name, **kw):
        defaults = {"company_name": "Acme", "job_title": "Product Designer", "city": "Austin"}
        return MemberFactory(community=community, name=name, **{**defaults, **kw})

    member("In", country="United States", joined_at=datetime(2026, 3, 10, tzinfo=UTC))
    member("Other company", company_name="Acme Corp", joined_at=datetime(2026, 3, 10, tzinfo=UTC))
    member("Other title", job_title="Engineer", joined_at=datetime(2026, 3, 10, tzinfo=UTC))
    member("Other city", city="Berlin", joined_at=datetime(2026, 3, 10, tzinfo=UTC))
    member("Joined too early", joined_at=datetime(2026, 2, 28, 23, 59, tzinfo=UTC))
    member("Joined too late", joined_at=datetime(2026, 4, 1, tzinfo=UTC))
    response = alice_client.get(
        list_url(
            community,
            company="acme",
            title="designer",
            city="austin",
            joined_after="2026-03-01",
            joined_before="2026-03-31",
        )
    )
    assert names(response) == ["In"]
    assert names(alice_client.get(list_url(community, country="united states"))) == ["In"]


def test_last_seen_range_excludes_members_never_seen(alice_client, community):
    MemberFactory(community=community, name="Seen", last_seen_at=datetime(2026, 5, 5, tzinfo=UTC))
    MemberFactory(community=community, name="Never", last_seen_at=None)
    MemberFactory(community=community, name="Old", last_seen_at=datetime(2025, 1, 1, tzinfo=UTC))
    response = alice_client.get(list_url(community, last_seen_after="2026-05-01"))
    assert names(response) == ["Seen"]


def test_invalid_filter_is_reported_not_crashed(alice_client, community):
    MemberFactory(community=community, name="Ann")
    response = alice_client.get(list_url(community, joined_after="not-a-date"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Some filters were not understood" in content
    # The panel opens, so the user sees the field to correct.
    assert '<details class="filter-panel" open>' in content


def test_search_words_drop_repeats_whatever_their_case_and_are_capped():
    assert search_words("  Ann ann\tANN  bob\nAnn ") == ["Ann", "bob"]
    assert search_words("Straße STRASSE") == ["Straße"]  # the same word, casefolded
    assert search_words("") == search_words(" \t ") == []
    many = [f"w{i}" for i in range(20)]
    assert search_words(" ".join(many)) == many[:MAX_SEARCH_WORDS]
    assert search_words("a " * 1300 + "b") == ["a", "b"]  # repeats do not use up the cap
    long = "x" * (MAX_SEARCH_WORD_LENGTH + 50)
    assert search_words(f"{long} {long}y") == ["x" * MAX_SEARCH_WORD_LENGTH]


def _likes(params, community) -> int:
    """How many LIKE conditions the table's query would carry for these filters."""
    queryset = Member.objects.for_community(community)
    return str(MemberFilter(params, queryset=queryset).qs.query).count(" LIKE ")


def test_a_search_of_repeated_words_costs_one_condition_per_distinct_word(alice_client, community):
    MemberFactory(community=community, name="Ann Acme", company_name="Initech")
    MemberFactory(community=community, name="Bob", company_name="Globex")
    assert _likes({"q": "acme"}, community) == 4  # name, email, company, job title
    assert _likes({"q": "acme " * 1300}, community) == 4
    assert _likes({"q": "Acme ACME acme"}, community) == 4
    assert _likes({"q": " ".join(f"w{i}" for i in range(1300))}, community) == 4 * 8
    response = alice_client.get(list_url(community, q="acme ACME " * 1300 + "ann"))
    assert response.status_code == 200
    assert names(response) == ["Ann Acme"]
    # A word longer than any column is cut, not refused: it matches nothing.
    assert names(alice_client.get(list_url(community, q="x" * 10_000))) == []


NUL = "\x00"
HOSTILE_FILTERS = {
    # (parameter, value, the error shown)
    "nul-in-search": ("q", f"ann{NUL}", "Null characters are not allowed."),
    "nul-in-company": ("company", f"Acme{NUL}", "Null characters are not allowed."),
    "nul-in-title": ("title", NUL, "Null characters are not allowed."),
    "nul-in-city": ("city", f"Austin{NUL}", "Null characters are not allowed."),
    "nul-in-country": ("country", NUL, "Null characters are not allowed."),
    "long-company": ("company", "x" * 10_000, "at most 200 characters (it has 10000)"),
    "long-title": ("title", "x" * 10_000, "at most 200 characters (it has 10000)"),
    "long-city": ("city", "x" * 10_000, "at most 200 characters (it has 10000)"),
    "long-country": ("country", "x" * 10_000, "at most 200 characters (it has 10000)"),
    "five-digit-year": ("joined_after", "99999-01-01", "Enter a valid date."),
    "year-0": ("joined_after", "0000-00-00", "Enter a valid date."),
    "nul-in-date": ("joined_before", f"2026-01-01{NUL}", "Enter a valid date."),
    "only-a-nul": ("last_seen_after", NUL, "Enter a valid date."),
    "long-date": ("last_seen_before", "1" * 10_000, "Enter a valid date."),
    # The filters engagement and segments add to the table.
    "nan-score": ("engagement_min", "NaN", "Enter a number."),
    "infinite-score": ("impact_max", "Infinity", "Enter a number."),
    "huge-score": ("recency_min", "1e999999", "less than or equal to 3"),
    "nul-in-score": ("frequency_max", NUL, "Enter a number."),
    "segment-not-a-number": ("segment", "abc", "Select a valid choice."),
    "segment-beyond-bigint": ("segment", str(2**63), "Select a valid choice."),
    "nul-in-segment": ("segment", f"1{NUL}", "Null characters are not allowed."),
}


@pytest.mark.parametrize(("param", "value", "error"), HOSTILE_FILTERS.values(), ids=HOSTILE_FILTERS)
def test_a_hostile_filter_value_is_a_form_error_not_a_crash(
    alice_client, community, param, value, error
):
    MemberFactory(community=community, name="Ann", joined_at=datetime(2026, 1, 1, tzinfo=UTC))
    response = alice_client.get(list_url(community, **{param: value}))
    assert response.status_code == 200
    assert any(error in message for message in response.context["filter_errors"]), response.context[
        "filter_errors"
    ]
    assert "Some filters were not understood" in response.content.decode()
    assert names(response) == ["Ann"]  # the filter it could not read is not applied


@pytest.mark.parametrize(
    ("zone", "edge", "other_end"),
    [
        # Tokyo's offset before 1888 is +09:18:59: its first day of year 1 began in year 0 UTC.
        ("Asia/Tokyo", {"joined_after": "0001-01-01"}, {"joined_before": "2025-06-01"}),
        ("Asia/Tokyo", {"last_seen_after": "0001-01-01"}, {"last_seen_before": "2025-06-01"}),
        # New York's last day of 9999 ends in year 10000 UTC.
        ("America/New_York", {"joined_before": "9999-12-31"}, {"joined_after": "2026-06-01"}),
        ("America/New_York", {"last_seen_before": "9999-12-31"}, {"last_seen_after": "2026-06-01"}),
    ],
)
def test_a_date_at_the_end_of_the_calendar_filters_without_a_crash(
    alice_client, community, zone, edge, other_end
):
    """The bound lies beyond the datetimes Python holds in UTC, so every member is within it:
    the bound is dropped, not an error and not a 500 (SQLite's adapter overflowed)."""
    community.timezone = zone
    community.save()
    when = datetime(2026, 1, 1, tzinfo=UTC)
    MemberFactory(community=community, name="Ann", joined_at=when, last_seen_at=when)
    response = alice_client.get(list_url(community, **edge))
    assert response.status_code == 200
    assert response.context["filter_errors"] == []
    assert names(response) == ["Ann"]
    # The range's other end still filters: Ann falls outside it.
    assert names(alice_client.get(list_url(community, **edge, **other_end))) == []


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Ann", "Bob", "Cat"]),
        ("-name", ["Cat", "Bob", "Ann"]),
        ("company_name", ["Bob", "Cat", "Ann"]),
        ("-last_seen_at", ["Cat", "Ann", "Bob"]),
        ("last_seen_at", ["Ann", "Cat", "Bob"]),
        ("bogus", ["Bob", "Ann", "Cat"]),  # unknown: the default, newest joined first
    ],
)
def test_sorting(alice_client, community, sort, expected):
    def at(day):
        return datetime(2026, 1, day, tzinfo=UTC)

    MemberFactory(
        community=community, name="Ann", company_name="Zeta", joined_at=at(2), last_seen_at=at(5)
    )
    MemberFactory(
        community=community, name="Bob", company_name="Alpha", joined_at=at(3), last_seen_at=None
    )
    MemberFactory(
        community=community, name="Cat", company_name="Mid", joined_at=at(1), last_seen_at=at(9)
    )
    assert names(alice_client.get(list_url(community, sort=sort))) == expected


@pytest.mark.parametrize("sort", ["name", "-name", "last_seen_at", "-last_seen_at", "-joined_at"])
def test_keyset_pages_walk_forward_and_back_over_every_member_once(
    alice_client, community, settings, sort
):
    settings.MEMBERS_PAGE_SIZE = 4
    seen = datetime(2026, 1, 1, tzinfo=UTC)
    # Ties in the sort column and missing last-seen dates are where keyset paging breaks.
    for i in range(11):
        MemberFactory(
            community=community,
            name=f"Name {i % 3}",
            joined_at=seen,
            last_seen_at=None if i % 4 == 0 else seen.replace(day=1 + i % 2),
        )
    pages, response = [], alice_client.get(list_url(community, sort=sort))
    while True:
        page = response.context["page"]
        pages.append([m.pk for m in page.rows])
        if not page.next_cursor:
            break
        response = alice_client.get(list_url(community, sort=sort, after=page.next_cursor))
    walked = [pk for rows in pages for pk in rows]
    assert [len(rows) for rows in pages] == [4, 4, 3]
    assert len(set(walked)) == 11

    # Walking back from the last page gives the same pages in reverse.
    back = []
    while page.previous_cursor:
        response = alice_client.get(list_url(community, sort=sort, before=page.previous_cursor))
        page = response.context["page"]
        back.append([m.pk for m in page.rows])
    assert back == pages[-2::-1]


def test_count_is_capped_and_count_all_gives_the_exact_number(alice_client, community, settings):
    settings.MEMBERS_COUNT_CAP = 3
    settings.MEMBERS_PAGE_SIZE = 2
    MemberFactory.create_batch(5, community=community)
    MemberFactory(community=community, company_name="Acme")
    content = alice_client.get(list_url(community, sort="name")).content.decode()
    assert "3+ members" in content
    count_all = f"{list_url(community)}?sort=name&amp;count=all"
    assert f'href="{count_all}"' in content

    response = alice_client.get(list_url(community, sort="name", count="all"))
    content = response.content.decode()
    assert "6 members" in content
    assert "Count all" not in content
    assert "count=all" in response.context["query"]  # the next pages count all too
    # Under the cap nothing is offered.
    content = alice_client.get(list_url(community, company="Acme")).content.decode()
    assert "1 member" in content and "Count all" not in content


def test_a_count_exactly_at_the_cap_is_exact(alice_client, community, settings):
    settings.MEMBERS_COUNT_CAP = 3
    MemberFactory.create_batch(3, community=community)
    content = alice_client.get(list_url(community)).content.decode()
    assert "3 members" in content
    assert "3+ members" not in content and "Count all" not in content


def test_date_cells_show_the_community_s_local_day_and_never(alice_client, community):
    community.timezone = "Europe/Berlin"
    community.save()
    MemberFactory(
        community=community,
        name="Late",
        joined_at=datetime(2026, 11, 2, 23, 30, tzinfo=UTC),
        last_seen_at=datetime(2026, 11, 2, 23, 30, tzinfo=UTC),
    )
    MemberFactory(community=community, name="Quiet", last_seen_at=None)
    content = alice_client.get(list_url(community, sort="name")).content.decode()
    local = '<time datetime="2026-11-03T00:30:00+01:00"'
    assert f"{local}>Nov 3, 2026</time>" in content  # joined: the day in Berlin
    assert f'{local} title="Nov 3, 2026 00:30">' in content  # last seen: "... ago", dated
    assert '<td class="col-last_seen_at cell-since"><span class="muted">Never</span></td>' in (
        content
    )


def test_combined_filters_are_counted_to_their_own_cap(alice_client, community, settings):
    settings.MEMBERS_COUNT_CAP = 5
    settings.MEMBERS_COMBINED_COUNT_CAP = 2
    MemberFactory.create_batch(4, community=community, company_name="Acme", country="France")
    assert "4 members" in alice_client.get(list_url(community, company="Acme")).content.decode()
    both = alice_client.get(list_url(community, company="Acme", country="France"))
    assert "2+ members" in both.content.decode()
    exact = alice_client.get(list_url(community, company="Acme", country="France", count="all"))
    assert "4 members" in exact.content.decode()


def test_mangled_cursor_falls_back_to_the_first_page(alice_client, community):
    MemberFactory(community=community, name="Ann")
    response = alice_client.get(list_url(community, after="%%%garbage"))
    assert response.status_code == 200
    assert names(response) == ["Ann"]


def test_table_query_count_does_not_grow_with_rows(alice_client, community):
    MemberFactory.create_batch(30, community=community)
    with CaptureQueriesContext(connection) as queries:
        alice_client.get(list_url(community))
    # session + user, community + role, sidebar communities, page rows, capped count, and the
    # segments the sidebar and the pills share (and, on PostgreSQL, the page's transaction).
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert len(reads) <= 8, reads


@pytest.mark.postgres
def test_a_page_is_read_without_parallel_workers(alice_client, community):
    MemberFactory.create_batch(3, community=community)
    with CaptureQueriesContext(connection) as queries:
        alice_client.get(list_url(community, company="x", country="y"))
    statements = [q["sql"] for q in queries]
    setting = statements.index("SET LOCAL max_parallel_workers_per_gather = 0")
    count = next(i for i, sql in enumerate(statements) if sql.startswith("SELECT COUNT(*)"))
    rows = next(i for i, sql in enumerate(statements) if "ORDER BY" in sql and i > count)
    assert setting < count < rows


def test_member_values_are_escaped(alice_client, community):
    MemberFactory(community=community, name="<script>alert(1)</script>", company_name="a&b")
    content = alice_client.get(list_url(community)).content.decode()
    assert '<td class="col-company_name cell-text">a&amp;b</td>' in content
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_the_table_loaded_into_another_page_does_not_take_over_its_address(alice_client, community):
    MemberFactory(community=community)
    here = alice_client.get(
        list_url(community),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="members-table",
        HTTP_HX_CURRENT_URL=f"http://testserver{list_url(community)}?q=a",
    ).content.decode()
    assert 'hx-push-url="true"' in here
    assert 'hx-push-url="false"' not in here
    elsewhere = alice_client.get(
        list_url(community),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="members-table",
        HTTP_HX_CURRENT_URL="http://testserver/c/acme/segments/1/",
    ).content.decode()
    assert 'hx-push-url="true"' not in elsewhere
    assert 'hx-push-url="false"' in elsewhere


@pytest.mark.parametrize("header", ["http://[", "http://[::1", "not a url", "/c/acme/?q=\x00"])
def test_a_forged_current_url_header_is_ignored(alice_client, community, header):
    MemberFactory(community=community, name="Ada")
    response = alice_client.get(
        list_url(community), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=header
    )
    assert response.status_code == 200
    assert "Ada" in names(response)
