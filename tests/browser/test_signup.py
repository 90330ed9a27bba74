"""The join page in Chromium: a visitor signs up, confirms the emailed link, and a manager
finds the new member in the table and in the smart segment their answers match; the form works
by keyboard alone; an admin edits, previews and publishes the page on Settings."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from members.models import Member
from segments import refresh, services
from segments.models import Kind, SegmentMembership
from signup.models import JoinPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"http://[^/\s]+(/join/acme/confirm/[\w-]+/)")
CONSENT = "I agree that Acme Builders keeps my details to run the community."


@pytest.fixture
def join_page(community):
    return JoinPage.objects.create(
        community=community,
        enabled=True,
        title="Join the Acme Builders",
        intro="Builders helping builders.",
        city="required",
        company_name="optional",
        questions=[{"label": "What do you build?", "required": False}],
        consent_text=CONSENT,
        welcome_text="Welcome aboard! Say hello in #general.",
        invite_url="https://join.slack.com/t/acme/shared_invite/zt-123",
        invite_label="Join us on Slack",
    )


def emailed_path() -> str:
    assert len(mail.outbox) == 1, [m.to for m in mail.outbox]
    found = LINK.search(mail.outbox[0].body)
    assert found, mail.outbox[0].body
    return found.group(1)


def confirm_and_see_the_welcome(page, live_server):
    page.goto(f"{live_server.url}{emailed_path()}")
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    assert Member.objects.count() == 0  # opening the link confirms nothing
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Welcome to Acme Builders")).to_be_visible()
    expect(page.get_by_text("Welcome aboard! Say hello in #general.")).to_be_visible()
    invite = page.get_by_role("link", name="Join us on Slack")
    expect(invite).to_have_attribute("href", "https://join.slack.com/t/acme/shared_invite/zt-123")


def test_sign_up_confirm_and_find_the_member_in_the_table_and_a_segment(
    browser, page, live_server, log_in, alice, join_page, community
):
    austin = services.segment_create(
        community=community,
        name="Austin builders",
        kind=Kind.SMART,
        rule={"all": [{"field": "city", "op": "is", "value": "Austin"}]},
        pinned=True,
    )
    refresh.refresh_segment(austin.pk)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server.url}/join/acme/")
    expect(page.get_by_role("heading", name="Join the Acme Builders")).to_be_visible()
    page.get_by_label("Name").fill("Ann Lee")
    page.get_by_label("Email").fill("Ann@Example.org")
    page.get_by_label("Company").fill("Initech")
    page.get_by_label("City").fill("Austin")
    page.get_by_label("What do you build?").fill("Bridges")
    page.get_by_label(CONSENT).check()
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    assert mail.outbox[0].to == ["Ann@Example.org"]

    visitor = browser.new_context().new_page()  # the mail opened elsewhere: another browser
    confirm_and_see_the_welcome(visitor, live_server)
    visitor.context.close()
    assert errors == []  # nothing the CSP refused, no script error

    member = Member.objects.get()
    assert (member.name, member.city, member.attributes["What do you build?"]) == (
        "Ann Lee",
        "Austin",
        "Bridges",
    )
    # The changed-members refresh ran (inline here: tests/browser/conftest.py).
    assert SegmentMembership.objects.filter(segment=austin, member=member).exists()

    log_in(page, "alice")
    expect(page.get_by_role("link", name="Ann Lee")).to_be_visible()
    pills = page.get_by_role("navigation", name="Segment pills")
    pills.get_by_role("link", name=re.compile(r"^Austin builders 1$")).click()
    expect(page).to_have_url(re.compile(rf"[?&]segment={austin.pk}(&|$)"))
    expect(page.locator("#members-table .person-name")).to_have_text(["Ann Lee"])
    page.get_by_role("link", name="Ann Lee").click()
    expect(page.get_by_role("heading", name="Ann Lee")).to_be_visible()
    expect(page.get_by_text("Bridges")).to_be_visible()


def test_the_join_form_works_by_keyboard_alone(page, live_server, join_page):
    page.goto(f"{live_server.url}/join/acme/")
    keyboard = page.keyboard
    # Empty required fields first: the errors are announced and tied to their fields.
    for _ in range(6):  # name, email, company, city, question, consent
        keyboard.press("Tab")
    expect(page.get_by_label(CONSENT)).to_be_focused()
    keyboard.press("Tab")
    expect(page.get_by_role("button", name="Join")).to_be_focused()
    keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Please check the fields marked below.")
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name")).to_have_accessible_description("This field is required.")

    page.get_by_label("Name").focus()
    keyboard.type("Kay Board")
    keyboard.press("Tab")
    keyboard.type("kay@example.org")
    keyboard.press("Tab")
    keyboard.press("Tab")  # no company
    keyboard.type("Austin")
    keyboard.press("Tab")
    keyboard.press("Tab")  # no answer
    expect(page.get_by_label(CONSENT)).to_be_focused()
    keyboard.press("Space")
    keyboard.press("Tab")
    expect(page.get_by_role("button", name="Join")).to_be_focused()
    keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    page.goto(f"{live_server.url}{emailed_path()}")
    keyboard.press("Tab")
    expect(page.get_by_role("button", name="Confirm")).to_be_focused()
    keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Welcome to Acme Builders")).to_be_visible()
    keyboard.press("Tab")
    expect(page.get_by_role("link", name="Join us on Slack")).to_be_focused()
    assert Member.objects.get().name == "Kay Board"


def test_an_admin_edits_previews_and_publishes_the_page(page, live_server, log_in, amy, community):
    log_in(page, "amy")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    expect(page.get_by_text("Not published")).to_be_visible()
    expect(page.get_by_label("Public address")).to_have_value(f"{live_server.url}/join/acme/")

    page.get_by_label("Title", exact=True).fill("Builders welcome")
    page.get_by_label("City", exact=True).select_option("required")
    page.get_by_label("Question 1", exact=True).fill("What do you build?")
    page.get_by_role("button", name="Preview changes").click()
    preview = page.get_by_role("region", name="Preview")
    expect(preview.get_by_role("heading", name="Builders welcome")).to_be_visible()
    expect(preview.get_by_label("What do you build?")).to_be_disabled()
    assert not JoinPage.objects.exists()  # a preview saves nothing

    page.get_by_label("Publish the join page").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The join page is published.")).to_be_visible()
    page.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name="Builders welcome")).to_be_visible()
    expect(page.get_by_label("City")).to_be_visible()
