import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from engagement.models import Activity, ActivityKind
from engagement.scoring import score_community
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AS_OF = datetime(2026, 6, 3, 12, tzinfo=UTC)


def build_history(community, *, members=60, weeks=6, seed=7):
    """Members with a spread of habits, scored once a week so the page has a trend."""
    rng = random.Random(seed)
    kinds = {k.slug: k for k in ActivityKind.objects.for_community(community)}
    start = AS_OF - timedelta(days=365)
    activities = []
    for index in range(members):
        member = MemberFactory(community=community, name=f"Member {index:03d}")
        # A few regulars, some occasional members, many who drifted away.
        habit = rng.choices(["core", "regular", "occasional", "lapsed"], [1, 3, 4, 6])[0]
        per_week = {"core": 6, "regular": 2, "occasional": 0.4, "lapsed": 0.6}[habit]
        last = AS_OF if habit != "lapsed" else AS_OF - timedelta(days=rng.randint(60, 300))
        day = start
        while day < last:
            if rng.random() < per_week / 7:
                slug = rng.choice(["message", "message", "reply", "reaction_given", "post"])
                occurred = day + timedelta(minutes=rng.randint(0, 1439))
                activities.append(
                    Activity(
                        community=community,
                        member=member,
                        kind=kinds[slug],
                        occurred_at=occurred,
                    )
                )
                if habit == "core" and rng.random() < 0.3:
                    activities.append(
                        Activity(
                            community=community,
                            member=member,
                            kind=kinds["reaction_received"],
                            occurred_at=occurred + timedelta(hours=2),
                        )
                    )
            day += timedelta(days=1)
    Activity.objects.bulk_create(activities, batch_size=2000)
    for week in range(weeks - 1, -1, -1):
        score_community(community, as_of=AS_OF - timedelta(weeks=week))


def test_open_engagement_from_the_sidebar(page, live_server, log_in, alice, community):
    build_history(community)
    log_in(page, "alice")
    page.get_by_role("navigation", name="Community").get_by_role("link", name="Engagement").click()

    expect(page.get_by_role("heading", name="Engagement", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/c/acme/engagement/$"))
    nav_link = page.get_by_role("navigation", name="Community").get_by_role(
        "link", name="Engagement"
    )
    expect(nav_link).to_have_attribute("aria-current", "page")

    expect(page.get_by_role("heading", name="Community Health")).to_be_visible()
    for group in ("Super users", "Active", "Inactive"):
        expect(page.get_by_role("heading", name=group, exact=True)).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^Weekly shares of members"))).to_be_visible()
    expect(
        page.get_by_role("img", name=re.compile(r"^Engagement distribution of 60 members"))
    ).to_be_visible()

    # The range pills refresh the trend in place and put the range in the URL.
    page.get_by_role("navigation", name="Trend range").get_by_role("link", name="12 weeks").click()
    expect(page).to_have_url(re.compile(r"weeks=12"))
    expect(
        page.get_by_role("navigation", name="Trend range").get_by_role("link", name="12 weeks")
    ).to_have_attribute("aria-current", "true")

    # Managers read the activity kinds; only admins can change them.
    page.get_by_role("link", name="Activity kinds & weights").click()
    expect(page.get_by_role("heading", name="Activity kinds")).to_be_visible()
    expect(page.get_by_text("Only a community admin can change these.")).to_be_visible()


def test_an_admin_changes_a_weight(page, live_server, log_in, amy, community):
    log_in(page, "amy")
    page.goto(f"{live_server.url}/c/{community.slug}/engagement/kinds/")
    weight = page.get_by_label("Weight of Message")
    expect(weight).to_have_value("1.0")
    weight.fill("1.5")
    page.get_by_role("button", name="Save and rescore").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.get_by_label("Weight of Message")).to_have_value("1.5")
    assert ActivityKind.objects.get(community=community, slug="message").weight == 1.5
