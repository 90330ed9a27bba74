"""A platform's export on the Imports page in Chromium: the Slack tab explains the export, the
upload is checked, then imported by keyboard, and the members are in the table."""

import pytest
from playwright.sync_api import expect

from engagement.models import Activity
from members.models import Member
from tests.browser.conftest import ARTIFACTS
from tests.platforms.exports import zipped
from tests.platforms.test_slack import DATA

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_slack_export_is_checked_then_imported(page, live_server, log_in, alice):
    log_in(page, "alice")
    page.goto(f"{live_server.url}/c/acme/imports/")
    page.get_by_role("link", name="Slack", exact=True).click()
    expect(page.get_by_role("heading", name="Import from Slack")).to_be_visible()
    expect(page.get_by_role("heading", name="How to export it")).to_be_visible()
    for width in (1440, 1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"slack-imports-{width}.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, width
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_label("Slack (a .zip file)").set_input_files(
        {
            "name": "Acme Slack export.zip",
            "mimeType": "application/zip",
            "buffer": zipped(DATA / "current").getvalue(),
        }
    )
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_text("Ready to import")).to_be_visible()
    counts = page.locator(".job-counts")
    expect(counts).to_contain_text("Members created")
    expect(counts).to_contain_text("Activities created: reaction_given")
    assert Member.objects.count() == 0
    page.screenshot(path=ARTIFACTS / "slack-job-ready.png", full_page=True)

    import_button = page.get_by_role("button", name="Import", exact=True)
    import_button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Import complete")).to_be_visible()
    assert Member.objects.count() == 6
    assert Activity.objects.count() == 19
    page.get_by_role("link", name="See the members").click()
    expect(page.get_by_role("link", name="Alice Example")).to_be_visible()


@pytest.mark.parametrize("tab", ["Discord", "Discourse", "Event attendance"])
def test_every_platform_tab_explains_its_export_at_every_width(
    page, live_server, log_in, alice, tab
):
    log_in(page, "alice")
    page.goto(f"{live_server.url}/c/acme/imports/")
    page.get_by_role("link", name=tab, exact=True).click()
    expect(page.get_by_role("button", name="Upload and check")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1440, 1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(
            path=ARTIFACTS / f"imports-{tab.split()[0].lower()}-{width}.png", full_page=True
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= width, width
