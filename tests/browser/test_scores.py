import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from engagement.models import MemberScore
from tests.factories import ActivityFactory, MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scored(community):
    as_of = datetime.now(tz=UTC) - timedelta(minutes=5)

    def member(name, engagement, frequency, recency, impact, days, raw, last_ago):
        member = MemberFactory(community=community, name=name)
        MemberScore.objects.create(
            member=member,
            community=community,
            engagement=Decimal(engagement),
            frequency=Decimal(frequency),
            recency=Decimal(recency),
            impact=Decimal(impact),
            active_days_90=days,
            last_active_at=as_of - last_ago,
            impact_raw=raw,
            as_of=as_of,
        )
        return member

    member("Low Lou", "0.97", "0.50", "1.75", "0.66", 1, 3.5, timedelta(days=45))
    top = member("Top Tia", "2.36", "2.00", "3.00", "2.09", 13, 123.4, timedelta(days=2))
    member("Mid Max", "1.27", "0.50", "3.00", "0.30", 1, 1.0, timedelta(hours=1))
    MemberFactory(community=community, name="New Nell")
    ActivityFactory(
        member=top,
        kind_slug="post",
        title="How we ship <fast>",
        channel="#general",
        url="https://forum.example.org/t/42",
        occurred_at=as_of - timedelta(days=2),
    )
    return top


def test_sort_by_engagement_and_read_the_profile(page, live_server, log_in, alice, scored):
    log_in(page, "alice")
    expect(page.get_by_text("4 members")).to_be_visible()

    page.get_by_role("columnheader", name="Engagement").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=-engagement_score"))
    rows = page.locator("#members-table tbody tr")
    expect(rows.first).to_contain_text("Top Tia")
    expect(rows.first).to_contain_text("2.36")
    expect(rows.last).to_contain_text("New Nell")
    expect(rows.last).to_contain_text("—")

    # A score filter combines with the sort.
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Engagement from").fill("1")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("2 members")).to_be_visible()
    expect(page).to_have_url(re.compile(r"engagement_min=1"))

    page.get_by_role("link", name="Top Tia").click()
    expect(page.get_by_role("heading", name="Engagement scores")).to_be_visible()
    for reading in [
        "Engagement 2.36: the average of the three",
        "Frequency 2.00: active on 13 days in the last 90",
        "Recency 3.00: last active 2 days ago",
        "Impact 2.09: about 123 weighted contributions this year",
    ]:
        expect(page.get_by_text(reading)).to_be_visible()
    standings = page.get_by_role("list", name="Community Health")
    expect(standings.get_by_role("listitem")).to_have_text(["Super user", "Active"])
    expect(page.get_by_text(re.compile(r"Scored 5\sminutes ago"))).to_be_visible()
    expect(page.get_by_role("meter", name="Engagement")).to_have_attribute("value", "2.36")
    link = page.get_by_role("link", name="How we ship <fast>")
    expect(link).to_have_attribute("href", "https://forum.example.org/t/42")
