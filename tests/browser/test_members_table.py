import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def crowd(community, settings):
    settings.MEMBERS_PAGE_SIZE = 10
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(25):
        MemberFactory(
            community=community,
            name=f"Designer {i:02d}",
            company_name="Acme" if i % 2 else "Globex",
            job_title="Product Designer",
            city="Austin",
            joined_at=start + timedelta(days=i),
        )
    MemberFactory(community=community, name="Esther Engineer", job_title="Software Engineer")


def test_log_in_filter_sort_page_and_open_a_profile(page, live_server, log_in, alice, crowd):
    log_in(page, "alice")
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    expect(page.get_by_text("26 members")).to_be_visible()

    # Search narrows the table in place and puts the query in the URL.
    page.get_by_label("Search members").fill("designer")
    expect(page.get_by_text("25 members")).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=designer"))
    expect(page.get_by_role("link", name="Esther Engineer")).to_have_count(0)

    # A filter combines with the search.
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Company").fill("acme")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("12 members")).to_be_visible()

    # Sort by name, A to Z, then page forward.
    page.get_by_role("link", name="Name").click()
    expect(page).to_have_url(re.compile(r"sort=name"))
    rows = page.locator("#members-table tbody tr")
    expect(rows).to_have_count(10)
    expect(rows.first).to_contain_text("Designer 01")
    page.get_by_role("link", name="Next →").click()
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Designer 21")
    expect(page).to_have_url(re.compile(r"after="))

    # Back returns to the first page; reload keeps the filters.
    page.go_back()
    expect(rows.first).to_contain_text("Designer 01")
    page.reload()
    expect(page.get_by_text("12 members")).to_be_visible()
    expect(page.get_by_label("Company")).to_have_value("acme")

    page.get_by_role("link", name="Designer 03").click()
    expect(page.get_by_role("heading", name="Designer 03")).to_be_visible()
    expect(page.get_by_text("Product Designer at Acme")).to_be_visible()


def test_outsider_sees_not_found(page, live_server, log_in, otto, community):
    log_in(page, "otto")
    response = page.goto(f"{live_server.url}/c/{community.slug}/")
    assert response.status == 404
