"""Web security (SECURITY.md, issue "Trust"): CSP, framing, CSRF, caching of member data, login
throttling, passwords, and `check --deploy` under production settings."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from members.models import Role
from segments.models import Segment
from segments.services import segment_add_members
from tests.factories import MemberFactory, UserFactory
from tests.test_isolation import COMMUNITY_URLS, _objects, _url

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.PACKAGE_DIR) / "templates"
PASSWORD = "correct horse battery staple"  # tests/factories.py


def _csp(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:])
        for part in (p.strip() for p in header.split(";"))
        if part
    }


@pytest.mark.parametrize(
    "path",
    ["/login/", "/c/acme/", "/c/acme/segments/", "/c/acme/engagement/", "/c/acme/imports/"],
)
def test_pages_carry_a_strict_csp_and_refuse_framing(client, alice, community, path):
    if path != "/login/":
        client.force_login(alice)
    response = client.get(path)
    assert response.status_code == 200
    csp = _csp(response)
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_htmx_partials_carry_the_csp_too(alice_client, community):
    response = alice_client.get("/c/acme/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="members-table")
    assert "<html" not in response.content.decode()
    assert _csp(response)["script-src"] == "'self'"


def _cache_control(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Cache-Control", "").split(",")}


# Every community URL a manager can GET (the isolation matrix lists them all).
COMMUNITY_GETS = sorted(name for name, spec in COMMUNITY_URLS.items() if spec.get)


@pytest.mark.parametrize("name", COMMUNITY_GETS)
def test_community_pages_are_never_cached(client, alice, amy, community, name):
    """Member data stays out of shared caches and the browser's disk cache (read by a manager,
    or by an admin where only admins may read)."""
    client.force_login(amy if COMMUNITY_URLS[name].read_role == Role.ADMIN else alice)
    response = client.get(_url(name, community, _objects(community)))
    assert response.status_code == 200
    assert {"private", "no-store"} <= _cache_control(response)


def test_every_community_get_is_checked_for_caching():
    assert "segments:export" in COMMUNITY_GETS  # the CSV export, a StreamingHttpResponse
    assert len(COMMUNITY_GETS) == sum(spec.get for spec in COMMUNITY_URLS.values()) >= 10


def test_htmx_partials_and_posted_answers_are_never_cached_and_still_vary(alice_client, community):
    partial = alice_client.get("/c/acme/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="members-table")
    assert {"private", "no-store"} <= _cache_control(partial)
    assert "HX-Request" in partial["Vary"]
    posted = alice_client.post(
        reverse("segments:preview", args=[community.slug]),
        {"kind": "smart", "name": "Anyone"},
        HTTP_HX_REQUEST="true",
    )
    assert posted.status_code == 200
    assert {"private", "no-store"} <= _cache_control(posted)


def test_a_segment_csv_export_is_never_cached(alice_client, alice, community):
    member = MemberFactory(community=community, email="ann@example.org")
    segment = Segment.objects.create(community=community, name="Picked", kind="manual")
    segment_add_members(segment=segment, members=[member], by=alice)
    response = alice_client.get(reverse("segments:export", args=[community.slug, segment.pk]))
    assert response.status_code == 200
    assert response.streaming
    assert {"private", "no-store"} <= _cache_control(response)
    assert "ann@example.org" in b"".join(response.streaming_content).decode()


def test_templates_have_no_inline_script_style_or_event_handlers():
    """What a strict CSP would block: inline <script>, <style>, style="" and on*="" attributes."""
    problems = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for pattern, what in [
            (r"<script(?![^>]*\bsrc=)[^>]*>", "inline script"),
            (r"<style\b", "style element"),
            (r"\sstyle=", "style attribute"),
            (r"\son[a-z]+=", "event handler attribute"),
            (r"hx-on", "hx-on (needs eval)"),
            (r"javascript:", "javascript: URL"),
        ]:
            problems += [
                f"{path.relative_to(TEMPLATES)}: {what}" for _ in re.findall(pattern, text)
            ]
    assert problems == []


def test_htmx_is_configured_for_the_csp(alice_client, community):
    content = alice_client.get("/c/acme/").content.decode()
    config = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'>', content).group(1)
    assert '"includeIndicatorStyles": false' in config
    assert '"allowEval": false' in config
    assert '"allowScriptTags": false' in config
    assert '"historyCacheSize": 0' in config


def test_every_post_needs_the_csrf_token_and_htmx_sends_it(alice, community):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    page = client.get("/c/acme/")
    token = page.cookies["csrftoken"].value
    # The page puts the token into htmx's headers for every request it makes.
    assert 'hx-headers=\'{"X-CSRFToken": "' in page.content.decode()
    data = {"kind": "manual", "name": "Mentors", "color": "blue", "action": "save"}
    refused = client.post("/c/acme/segments/new/", data, HTTP_HX_REQUEST="true")
    assert refused.status_code == 403
    assert not Segment.objects.filter(name="Mentors").exists()
    accepted = client.post(
        "/c/acme/segments/new/", data, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 204
    assert Segment.objects.filter(name="Mentors").exists()


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_is_throttled_per_username_and_address_then_cools_off(client, alice, community):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        response = _login(client, "alice", "wrong password")
        assert response.status_code == 200  # the form again, with its error
    assert _login(client, "alice", "wrong password").status_code == 429  # the limit-th failure
    locked = _login(client, "alice", PASSWORD)  # even the right password waits
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session

    # Another user from the same address is not locked out.
    other = Client()
    UserFactory(username="bob")
    assert _login(other, "bob", PASSWORD).status_code == 302

    # The cool-off passes: not a permanent lockout.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.first().attempt_time
        - settings.AXES_COOLOFF_TIME
        - timedelta(seconds=1)
    )
    assert _login(client, "alice", PASSWORD).status_code == 302


@pytest.mark.parametrize("username", ["a" * 300, "ali\x00ce", "\x00" * 10])
def test_a_hostile_username_is_a_failed_login_not_a_crash(client, alice, username):
    response = _login(client, username, "wrong password")
    assert response.status_code == 200  # the form again, with its error
    for attempt in AccessAttempt.objects.all():  # a NUL never reaches authentication
        assert "\x00" not in attempt.username and len(attempt.username) <= 150


def test_a_username_cut_at_150_characters_counts_against_the_same_name(client, alice):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = _login(client, "b" * 150 + "tail " * 40, "wrong password")
    assert response.status_code == 429
    assert _login(client, "b" * 150 + "other", PASSWORD).status_code == 429


def test_password_validators_refuse_weak_passwords(alice):
    assert len(settings.AUTH_PASSWORD_VALIDATORS) == 4
    for weak in ["password", "12345678", "alice", "short"]:
        with pytest.raises(ValidationError):
            validate_password(weak, user=alice)
    validate_password("a long and unusual passphrase 7", user=alice)


def test_check_deploy_passes_under_production_settings(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        # Test-only switches (the browser tests allow async-unsafe ORM calls) stay behind.
        if key not in ("PYTEST_VERSION", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(60),
        HTTPS="true",
        ALLOWED_HOSTS="communityos.example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
