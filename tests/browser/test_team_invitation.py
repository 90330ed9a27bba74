"""The invitation flow in Chromium at 390 px: an admin invites a colleague on Settings > Team,
the colleague opens the emailed link, creates an account and lands in the community; the
admin then sees them on the team."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from members.models import CommunityRole, Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long and unusual passphrase 42"
PHONE = {"width": 390, "height": 844}


def fits(page) -> None:
    """Nothing wider than the screen: no sideways scrolling."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width


def test_invite_accept_as_a_new_user_at_390px(
    browser, live_server, log_in, amy, community, settings
):
    settings.SITE_URL = live_server.url
    admin = browser.new_context(viewport=PHONE)
    page = admin.new_page()
    log_in(page, "amy")
    page.goto(f"{live_server.url}/c/acme/settings/team/")
    expect(page.get_by_role("heading", name="Team")).to_be_visible()
    fits(page)
    page.get_by_label("Email address").fill("nina@example.org")
    page.get_by_label("Role", exact=True).select_option("manager")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text("nina@example.org is invited as manager")).to_be_visible()
    expect(
        page.get_by_role("button", name="Revoke the invitation of nina@example.org")
    ).to_be_visible()
    fits(page)

    [message] = mail.outbox
    link = re.search(r"http://[^\s]+/invitations/[^/\s]+/", message.body).group(0)
    assert link.startswith(live_server.url)

    guest = browser.new_context(viewport=PHONE)
    invited = guest.new_page()
    invited.goto(link)
    expect(invited.get_by_role("heading", name="Join Acme Builders")).to_be_visible()
    fits(invited)
    invited.get_by_label("Username").fill("nina")
    invited.get_by_label("Password", exact=True).fill(PASSWORD)
    invited.get_by_label("Password again").fill("not the same")
    invited.get_by_role("button", name="Create account and join").click()
    expect(invited.get_by_text("The two passwords differ.")).to_be_visible()
    invited.get_by_label("Password", exact=True).fill(PASSWORD)
    invited.get_by_label("Password again").fill(PASSWORD)
    invited.keyboard.press("Enter")
    expect(invited.get_by_text("Welcome to Acme Builders: you are manager.")).to_be_visible()
    assert invited.url == f"{live_server.url}/c/acme/"
    fits(invited)
    assert (
        CommunityRole.objects.get(user__username="nina", community=community).role == Role.MANAGER
    )

    page.reload()
    team = page.get_by_role("list", name="People on the team")
    expect(team.get_by_text("nina", exact=True)).to_be_visible()
    expect(page.get_by_label("Role of nina", exact=True)).to_have_value("manager")
    expect(page.get_by_text("No invitation is waiting.")).to_be_visible()
    page.screenshot(path="test-artifacts/team-390.png", full_page=True)
    admin.close()
    guest.close()
