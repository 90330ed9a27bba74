"""Community Health snapshots (docs/scoring.md "Community Health"): exact counts and buckets, weekly
rows."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engagement.models import HealthSnapshot, MemberScore
from engagement.scoring import score_community
from tests.factories import ActivityFactory, MemberFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 6, 3, 12, tzinfo=UTC)  # a Wednesday; its ISO week starts Mon 2026-06-01
HOUR = timedelta(hours=1)

# (F, R, I, E) per member, with values on the group and bucket boundaries.
SCORES = [
    ("0", "0", "0", "0"),  # inactive
    ("0.50", "3.00", "0.30", "1.27"),  # recent but light: neither group
    ("2.00", "3.00", "2.09", "2.36"),  # active super user
    ("1.00", "1.00", "1.00", "1.00"),  # exactly 1 is neither above nor below 1
    ("0.99", "0.99", "0.99", "0.99"),  # inactive
    ("2.50", "2.49", "2.01", "2.33"),  # active super user
    ("0", "0.50", "0", "0.17"),  # inactive
]


def _score(community, f, r, i, e):
    MemberScore.objects.create(
        member=MemberFactory(community=community),
        community=community,
        frequency=Decimal(f),
        recency=Decimal(r),
        impact=Decimal(i),
        engagement=Decimal(e),
        as_of=AS_OF,
    )


def test_snapshot_counts_and_buckets_on_known_scores(community, other_community):
    for values in SCORES:
        _score(community, *values)
    _score(other_community, "3.00", "3.00", "3.00", "3.00")  # another tenant: never counted

    with CaptureQueriesContext(connection) as queries:
        snapshot = HealthSnapshot.objects.record(community, as_of=AS_OF)

    assert snapshot.week == date(2026, 6, 1)
    assert snapshot.as_of == AS_OF
    assert (snapshot.members, snapshot.super_users, snapshot.active, snapshot.inactive) == (
        7,
        2,
        2,
        3,
    )
    assert snapshot.distribution == {
        "frequency": [2, 2, 1, 0, 1, 1],
        "recency": [1, 2, 1, 0, 1, 2],
        "impact": [3, 1, 1, 0, 2, 0],
        "engagement": [2, 1, 2, 0, 2, 0],
    }
    # Set-based: the scores are read by one aggregate query, however many members there are,
    # and the members without a score (none here) are counted by one more.
    score_reads = [q for q in queries.captured_queries if "engagement_memberscore" in q["sql"]]
    assert len(score_reads) == 2


def test_a_score_of_three_lands_in_the_last_bucket(community):
    _score(community, "3.00", "3.00", "3.00", "3.00")
    _score(community, "2.50", "2.50", "2.50", "2.50")
    snapshot = HealthSnapshot.objects.record(community, as_of=AS_OF)
    assert snapshot.distribution["engagement"] == [0, 0, 0, 0, 0, 2]


def test_the_week_is_the_utc_monday_of_as_of(community):
    # Monday 01:00 at +02:00 is still Sunday in UTC: the week before.
    as_of = datetime(2026, 6, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    snapshot = HealthSnapshot.objects.record(community, as_of=as_of)
    assert snapshot.week == date(2026, 5, 25)
    assert snapshot.members == 0
    assert snapshot.distribution["frequency"] == [0] * 6


def test_scoring_records_the_weeks_health(community):
    MemberFactory(community=community)  # never active
    ActivityFactory(member=MemberFactory(community=community), occurred_at=AS_OF - HOUR)
    poster = MemberFactory(community=community)
    for week in range(52):  # one post and two replies every week, the last 2 days ago
        when = AS_OF - timedelta(days=2 + 7 * week)
        ActivityFactory(member=poster, kind_slug="post", occurred_at=when)
        ActivityFactory(member=poster, kind_slug="reply", occurred_at=when)
        ActivityFactory(member=poster, kind_slug="reply", occurred_at=when)

    score_community(community, as_of=AS_OF)

    snapshot = HealthSnapshot.objects.get(community=community)
    assert snapshot.week == date(2026, 6, 1)
    # Scores: (0, 0, 0, 0), (0.50, 3.00, 0.30, 1.27), (2.00, 3.00, 2.09, 2.36).
    assert (snapshot.members, snapshot.super_users, snapshot.active, snapshot.inactive) == (
        3,
        1,
        1,
        1,
    )
    assert snapshot.distribution == {
        "frequency": [1, 1, 0, 0, 1, 0],
        "recency": [1, 0, 0, 0, 0, 2],
        "impact": [2, 0, 0, 0, 1, 0],
        "engagement": [1, 0, 1, 0, 1, 0],
    }


def test_a_later_scoring_in_the_same_week_overwrites_it(community):
    member = MemberFactory(community=community)
    score_community(community, as_of=AS_OF)
    assert HealthSnapshot.objects.get(community=community).inactive == 1

    ActivityFactory(member=member, occurred_at=AS_OF + timedelta(days=1))
    later = AS_OF + timedelta(days=2)  # Friday of the same week
    score_community(community, as_of=later)

    snapshot = HealthSnapshot.objects.get(community=community)
    assert snapshot.week == date(2026, 6, 1)
    assert snapshot.as_of == later
    assert (snapshot.inactive, snapshot.distribution["recency"]) == (0, [0, 0, 0, 0, 0, 1])


def test_a_second_week_adds_a_row(community):
    MemberFactory(community=community)
    score_community(community, as_of=AS_OF)
    score_community(community, as_of=AS_OF + timedelta(days=7))
    weeks = list(
        HealthSnapshot.objects.for_community(community)
        .order_by("week")
        .values_list("week", flat=True)
    )
    assert weeks == [date(2026, 6, 1), date(2026, 6, 8)]


def test_share_of_an_empty_snapshot_is_zero():
    assert HealthSnapshot(members=0).share(0) == 0.0
    assert HealthSnapshot(members=8).share(2) == 0.25
