"""API tokens and the API docs in Chromium: an admin creates a token on Settings > API tokens
(shown once), a program uses it, the admin revokes it and it stops working; the page works at
390 px; the Swagger UI docs render under the strict CSP with no violation; and the logged-in
browser uses the API with X-Community and its CSRF token."""

import pytest
from playwright.sync_api import expect

from api.models import ApiToken
from segments.models import Segment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_creates_uses_and_revokes_a_token(page, live_server, log_in, amy, community):
    log_in(page, "amy")
    page.goto(f"{live_server.url}/c/acme/settings/join/")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", exact=True)).to_be_visible()

    page.get_by_role("textbox", name="Name").fill("CRM sync")
    page.get_by_label("Read and write").check()
    page.get_by_label("Expires after (days)").fill("30")
    page.get_by_role("button", name="Create token").click()

    expect(page.get_by_role("heading", name="“CRM sync” is ready")).to_be_visible()
    secret = page.get_by_label("Token (read and write, expires").input_value()
    assert secret.startswith("cos_")
    used = page.request.get(
        f"{live_server.url}/api/v1/members", headers={"Authorization": f"Bearer {secret}"}
    )
    assert used.status == 200 and used.json()["items"] == []

    page.reload()  # shown once: a new page load has no secret
    assert secret not in page.content()
    row = page.get_by_role("row", name="CRM sync")
    expect(row).to_contain_text("Read and write")
    expect(row).to_contain_text("ago")  # last used
    row.get_by_role("button", name="Revoke CRM sync").click()
    expect(page.get_by_text("“CRM sync” is revoked")).to_be_visible()
    expect(page.get_by_role("row", name="CRM sync")).to_contain_text("Revoked")
    refused = page.request.get(
        f"{live_server.url}/api/v1/members", headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused.status == 401
    assert ApiToken.objects.get().is_revoked


def test_the_tokens_page_at_390_px(browser, live_server, amy, community):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("amy")
        page.get_by_label("Password").fill("correct horse battery staple")
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{live_server.url}/c/acme/settings/api/")
        page.get_by_role("textbox", name="Name").fill("Phone")
        page.get_by_role("textbox", name="Name").press("Enter")  # by keyboard: Enter submits
        expect(page.get_by_role("heading", name="“Phone” is ready")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        page.screenshot(path="test-artifacts/api-tokens-390.png", full_page=True)
    finally:
        context.close()


def test_the_docs_render_under_the_csp(page, live_server, alice, log_in, community):
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or message.type == "error"
            else None
        ),
    )
    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.get_by_text("CommunityOS API").first).to_be_visible()
    expect(page.get_by_text("List members").first).to_be_visible()
    expect(page.get_by_text("Create a segment").first).to_be_visible()
    assert violations == []

    # The logged-in browser uses the API: X-Community names the community, X-CSRFToken
    # comes from the site's CSRF cookie.
    log_in(page, "alice")
    page.goto(f"{live_server.url}/c/acme/")
    result = page.evaluate(
        """async () => {
            const csrf = document.cookie.split("; ").find(c => c.startsWith("csrftoken="));
            const body = JSON.stringify({name: "From the browser", kind: "manual"});
            const json = {"Content-Type": "application/json", "X-Community": "acme"};
            const read = await fetch("/api/v1/segments", {headers: {"X-Community": "acme"}});
            const refused = await fetch("/api/v1/segments", {method: "POST", headers: json, body});
            const made = await fetch("/api/v1/segments", {method: "POST", body,
                headers: {...json, "X-CSRFToken": csrf.split("=")[1]}});
            return [read.status, refused.status, made.status];
        }"""
    )
    assert result == [200, 403, 201]
    assert Segment.objects.get(name="From the browser").created_by == alice
