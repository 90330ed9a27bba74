"""Settings > Webhooks in Chromium: an admin adds an endpoint by keyboard, copies its secret
(shown once), and finds it in the list; the page fits a 390 px screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.webhooks import conftest as webhooks_fixtures
from webhooks.models import Endpoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The real HTTP receiver on 127.0.0.1, and the setting that allows sending to it.
receiver = webhooks_fixtures.receiver
_allow_loopback = webhooks_fixtures._allow_loopback


def test_an_admin_adds_an_endpoint_and_sees_the_secret_once(
    page, live_server, log_in, amy, receiver
):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "amy")
    page.goto(f"{live_server.url}/c/acme/settings/webhooks/")
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()

    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("segment.member_entered — A member entered a segment").check()
    page.get_by_label("segment.member_left — A member left a segment").press("Space")
    page.get_by_role("button", name="Add endpoint").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Signing secret")).to_be_visible()
    endpoint = Endpoint.objects.get()
    secret = page.get_by_label("Secret", exact=True)
    expect(secret).to_have_value(endpoint.secret)
    expect(page.get_by_text("it is not shown again")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "webhooks-secret-390.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px wide)"

    page.get_by_role("link", name="← All webhooks").click()
    expect(page.get_by_role("link", name=receiver.url[:57], exact=False)).to_be_visible()
    assert endpoint.secret not in page.content()
    assert endpoint.events == ["segment.member_entered", "segment.member_left"]
