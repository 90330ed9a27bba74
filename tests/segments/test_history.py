"""The segment page's 30-day chart (segments/history.py): entries and exits per local day."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from segments import history, services
from segments.models import Change, MembershipChange, Via
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_the_chart_counts_entries_and_exits_per_day_in_the_community_s_time_zone(community):
    segment = services.segment_create(community=community, name="Picked", kind="manual")
    member = MemberFactory(community=community)

    def log(change, at):
        MembershipChange.objects.create(
            community=community,
            segment=segment,
            member=member,
            change=change,
            at=at,
            via=Via.MANUAL,
        )

    log(Change.ENTERED, datetime(2026, 11, 18, 23, 30, tzinfo=UTC))  # Nov 19, 01:30 in Athens
    log(Change.LEFT, datetime(2026, 11, 19, 10, 0, tzinfo=UTC))
    log(Change.LEFT, datetime(2026, 10, 15, 10, 0, tzinfo=UTC))  # before the 30 days
    with timezone.override(ZoneInfo("Europe/Athens")):
        chart = history.chart(segment, now=NOW)
    by_day = {day.day.isoformat(): (day.entered, day.left) for day in chart.days}
    assert by_day["2026-11-19"] == (1, 1)
    assert by_day["2026-11-18"] == (0, 0)
    assert (chart.entered, chart.left) == (1, 1)
    assert [d.title for d in chart.days if d.entered or d.left] == ["Nov 19: 1 entered, 1 left"]
    assert chart.summary == "In the last 30 days 1 members entered and 1 left (Oct 22 to Nov 20)."
