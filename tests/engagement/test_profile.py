"""The member profile's engagement part: scores with their readings, and recent activity."""

import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from engagement import readings
from engagement.models import MemberScore
from engagement.scoring import score_community
from tests.factories import ActivityFactory, MemberFactory

AS_OF = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
D = Decimal


def detail_url(member):
    return reverse("members:detail", args=[member.community.slug, member.pk])


def page_text(response):
    """The page's text as a reader sees it (tags dropped, whitespace collapsed)."""
    text = re.sub(r"<[^>]+>", "", response.content.decode())
    return " ".join(html.unescape(text).split())


# --- Readings: pure functions, no database ---------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "days", "expected"),
    [
        ("1.60", 9, "Frequency 1.60: active on 9 days in the last 90"),
        ("0.50", 1, "Frequency 0.50: active on 1 day in the last 90"),
        ("3", 45, "Frequency 3.00: active on 45 days in the last 90"),
        ("0", 0, "Frequency 0.00: not active in the last 90 days"),
    ],
)
def test_frequency_reading(frequency, days, expected):
    assert readings.frequency_reading(D(frequency), days) == expected


@pytest.mark.parametrize(
    ("recency", "ago", "expected"),
    [
        ("2.50", timedelta(days=18, hours=5), "Recency 2.50: last active 18 days ago"),
        ("3.00", timedelta(days=1), "Recency 3.00: last active 1 day ago"),
        ("3.00", timedelta(hours=23, minutes=59), "Recency 3.00: last active today"),
        ("1.75", timedelta(days=45), "Recency 1.75: last active 45 days ago"),
        ("0.00", timedelta(days=200), "Recency 0.00: last active 200 days ago"),
        ("0.00", None, "Recency 0.00: no activity in the last year"),
    ],
)
def test_recency_reading_counts_whole_days_back_from_the_scoring_instant(recency, ago, expected):
    last = None if ago is None else AS_OF - ago
    assert readings.recency_reading(D(recency), last, AS_OF) == expected


@pytest.mark.parametrize(
    ("impact", "raw", "expected"),
    [
        ("2.09", 123.4, "about 123 weighted contributions this year"),
        ("0.66", 3.5, "about 4 weighted contributions this year"),
        ("0.30", 1.0, "about 1 weighted contribution this year"),
        ("0.10", 0.3, "less than one weighted contribution this year"),
        ("0.00", 0.0, "no contributions this year"),
        ("3.00", 5123.7, "about 5124 weighted contributions this year"),
    ],
)
def test_impact_reading(impact, raw, expected):
    reading = readings.impact_reading(D(impact), raw)
    assert reading == f"Impact {impact}: {expected} (each Impact point is \u00d710)"


def test_engagement_reading():
    assert readings.engagement_reading(D("2.36")) == "Engagement 2.36: the average of the three"


@pytest.mark.parametrize(
    ("f", "r", "i", "expected"),
    [
        ("2.00", "3.00", "2.09", ["Super user", "Active"]),
        ("0.00", "0.00", "2.59", ["Super user", "Neither active nor inactive"]),
        ("1.01", "1.01", "1.01", ["Active"]),
        ("1.00", "3.00", "1.50", ["Neither active nor inactive"]),  # F must be above 1
        ("0.99", "0.99", "0.99", ["Inactive"]),
        ("0.00", "0.00", "0.00", ["Inactive"]),
        ("0.50", "1.75", "0.66", ["Neither active nor inactive"]),
    ],
)
def test_standings_follow_community_health(f, r, i, expected):
    assert [s.label for s in readings.standings(D(f), D(r), D(i))] == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/t/1", "https://example.org/t/1"),
        ("HTTP://example.org", "HTTP://example.org"),
        ("javascript:alert(1)", None),
        ("data:text/html,<b>x</b>", None),
        ("//example.org/x", None),
        ("ftp://example.org/x", None),
        ("", None),
    ],
)
def test_only_http_links_are_links(url, expected):
    assert readings.web_link(url) == expected


@pytest.mark.parametrize(("score", "meter"), [("1.6", "1.60"), ("3", "3.00"), ("-1", "0.00")])
def test_meter_value(score, meter):
    assert readings.meter_value(D(score)) == meter


# --- The profile ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_profile_shows_exact_readings_of_real_scores(alice_client, community):
    # The worked example of issue 3: one post and two replies every week for 52 weeks.
    member = MemberFactory(community=community, name="Weekly Poster")
    for week in range(52):
        at = AS_OF - 2 * DAY - week * 7 * DAY
        ActivityFactory(member=member, kind_slug="post", occurred_at=at)
        ActivityFactory.create_batch(2, member=member, kind_slug="reply", occurred_at=at)
    # One accepted answer 45 days ago.
    answerer = MemberFactory(community=community, name="Answerer")
    ActivityFactory(member=answerer, kind_slug="answer_accepted", occurred_at=AS_OF - 45 * DAY)
    score_community(community, as_of=AS_OF)

    text = page_text(alice_client.get(detail_url(member)))
    for reading in [
        "Engagement 2.36: the average of the three",
        "Frequency 2.00: active on 13 days in the last 90",
        "Recency 3.00: last active 2 days ago",
        "Impact 2.09: about 123 weighted contributions this year (each Impact point is \u00d710)",
    ]:
        assert reading in text
    assert "Super user" in text
    assert "Active" in text

    text = page_text(alice_client.get(detail_url(answerer)))
    for reading in [
        "Engagement 0.97: the average of the three",
        "Frequency 0.50: active on 1 day in the last 90",
        "Recency 1.75: last active 45 days ago",
        "Impact 0.66: about 4 weighted contributions this year",
    ]:
        assert reading in text
    assert "Neither active nor inactive" in text


@pytest.mark.django_db
def test_meters_carry_the_scores(alice_client, community):
    member = MemberFactory(community=community)
    MemberScore.objects.create(
        member=member,
        community=community,
        engagement=D("1.27"),
        frequency=D("0.50"),
        recency=D("3.00"),
        impact=D("0.30"),
        active_days_90=1,
        last_active_at=AS_OF - timedelta(hours=1),
        impact_raw=1.0,
        as_of=AS_OF,
    )
    content = alice_client.get(detail_url(member)).content.decode()
    meters = re.findall(r'<meter [^>]*value="([\d.]+)" aria-labelledby="score-(\w+)"', content)
    assert meters == [
        ("1.27", "engagement"),
        ("0.50", "frequency"),
        ("3.00", "recency"),
        ("0.30", "impact"),
    ]
    assert "Recency 3.00: last active today" in page_text(alice_client.get(detail_url(member)))


@pytest.mark.django_db
def test_the_scoring_time_is_shown_relative_to_now(alice_client, community):
    member = MemberFactory(community=community)
    MemberScore.objects.create(
        member=member, community=community, as_of=timezone.now() - timedelta(minutes=5)
    )
    text = page_text(alice_client.get(detail_url(member)))
    assert "Scored 5\xa0minutes ago" in text or "Scored 5 minutes ago" in text
    assert "Frequency 0.00: not active in the last 90 days" in text
    assert "Inactive" in text


@pytest.mark.django_db
def test_a_member_without_a_score_or_activity_scores_0(alice_client, community):
    member = MemberFactory(community=community)
    text = page_text(alice_client.get(detail_url(member)))
    assert "No activity yet, so every score is 0 (inactive)." in text
    assert "Not scored yet" not in text
    assert "No activity recorded yet." in text
    assert "Frequency" not in text


@pytest.mark.django_db
def test_a_member_with_activity_but_no_score_is_not_scored_yet(alice_client, community):
    member = MemberFactory(community=community)
    ActivityFactory(member=member, community=community)
    text = page_text(alice_client.get(detail_url(member)))
    assert (
        "Not scored yet. Scores are computed every 60 minutes and after each activities import; "
        "this member's appear with the next run."
    ) in text


@pytest.mark.django_db
def test_recent_activity_is_the_latest_fifteen_newest_first(alice_client, community):
    member = MemberFactory(community=community)
    for i in range(20):
        ActivityFactory(
            member=member,
            kind_slug="reply" if i % 2 else "post",
            occurred_at=AS_OF - i * DAY,
            title=f"Topic {i:02d}",
            channel="#general",
            url=f"https://forum.example.org/t/{i}",
        )
    content = alice_client.get(detail_url(member)).content.decode()
    assert re.findall(r"Topic \d\d", content) == [f"Topic {i:02d}" for i in range(15)]
    assert '<a href="https://forum.example.org/t/0" rel="noopener noreferrer nofollow"' in content
    text = page_text(alice_client.get(detail_url(member)))
    assert "Post Topic 00 #general" in text
    assert "Reply Topic 01 #general" in text
    assert "The latest 15 activities." in text


@pytest.mark.django_db
def test_other_communities_activities_are_never_shown(alice_client, community, other_community):
    member = MemberFactory(community=community)
    ActivityFactory(member=member, title="Mine")
    # A row pointing at this member but filed under another community (bad data) stays hidden.
    ActivityFactory(member=member, community=other_community, title="Filed elsewhere")
    ActivityFactory(member=MemberFactory(community=other_community), title="Theirs")
    content = alice_client.get(detail_url(member)).content.decode()
    assert "Mine" in content
    assert "Filed elsewhere" not in content
    assert "Theirs" not in content


@pytest.mark.django_db
def test_everything_is_escaped_and_only_http_urls_become_links(alice_client, community):
    member = MemberFactory(community=community)
    ActivityFactory(
        member=member,
        title="<script>alert(1)</script>",
        channel="<b>bold</b>",
        url="javascript:alert(2)",
        occurred_at=AS_OF,
    )
    ActivityFactory(
        member=member,
        title="",
        url='https://example.org/?q="><img src=x>',
        occurred_at=AS_OF - DAY,
    )
    content = alice_client.get(detail_url(member)).content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "&lt;b&gt;bold&lt;/b&gt;" in content
    assert "javascript:" not in content
    assert "<img src=x>" not in content
    assert 'href="https://example.org/?q=&quot;&gt;&lt;img src=x&gt;"' in content


@pytest.mark.django_db
def test_profile_query_count_does_not_grow_with_activity(alice_client, community):
    member = MemberFactory(community=community)
    MemberScore.objects.create(member=member, community=community, as_of=AS_OF)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get(detail_url(member)).status_code == 200
        return len(queries)

    ActivityFactory(member=member)
    few = count_queries()
    for slug in ["post", "reply", "message", "event_attended"]:
        ActivityFactory.create_batch(5, member=member, kind_slug=slug)
    assert count_queries() == few


@pytest.mark.django_db
def test_outsider_gets_404(otto_client, community):
    member = MemberFactory(community=community)
    ActivityFactory(member=member, title="Secret plans")
    response = otto_client.get(detail_url(member))
    assert response.status_code == 404
    assert "Secret plans" not in response.content.decode()
