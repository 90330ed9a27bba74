"""Tokens (stored hashed, expiry, revocation, last use), browser sessions with X-Community and
CSRF, and the rate limit."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken
from api.tokens import token_create, token_for_secret, token_revoke
from segments.models import Segment
from tests.api.conftest import ApiClient
from tests.factories import MemberFactory


def test_a_token_is_stored_hashed_and_shown_once(community, amy):
    new = token_create(community=community, name="CRM", scope="write", by=amy)
    assert new.secret.startswith("cos_") and len(new.secret) == 47
    stored = ApiToken.objects.get(pk=new.token.pk)
    assert stored.secret_hash == hashlib.sha256(new.secret.encode()).hexdigest()
    assert new.secret not in {stored.name, stored.shown, stored.secret_hash}
    assert stored.shown == new.secret[:8]
    assert token_for_secret(new.secret) == stored
    assert token_for_secret(new.secret[:-1] + ("A" if new.secret[-1] != "A" else "B")) is None
    assert token_for_secret("cos_" + "x" * 10) is None


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer nope", "Bearer cos_" + "a" * 43, "Basic dXNlcjpwYXNz", "Token x"],
)
def test_no_or_a_bad_token_is_401(community, header):
    client = ApiClient(**({"Authorization": header} if header else {}))
    response = client.get("members")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_and_revoked_tokens_are_401(community, write_token):
    client = ApiClient(write_token.secret)
    assert client.get("members").status_code == 200
    ApiToken.objects.filter(pk=write_token.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = client.get("members")
    assert (response.status_code, response.json()["detail"]) == (401, "The token has expired.")
    ApiToken.objects.filter(pk=write_token.token.pk).update(expires_at=None)
    token_revoke(token=write_token.token)
    response = client.get("members")
    assert (response.status_code, response.json()["detail"]) == (401, "The token was revoked.")


def test_last_used_is_recorded(api, write_token):
    assert write_token.token.last_used_at is None
    api.get("members")
    write_token.token.refresh_from_db()
    first = write_token.token.last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=30)
    api.get("members")  # within the minute: not written again
    write_token.token.refresh_from_db()
    assert write_token.token.last_used_at == first


def test_expiry_in_days(community):
    new = token_create(community=community, name="Short", expires_in_days=7)
    left = new.token.expires_at - timezone.now()
    assert timedelta(days=6, hours=23) < left <= timedelta(days=7)


def test_the_command_prints_a_token_once(community):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_token",
        "acme",
        "Nightly sync",
        "--scope",
        "write",
        "--expires-days",
        "30",
        stdout=out,
        stderr=err,
    )
    secret = out.getvalue().strip()
    token = token_for_secret(secret)
    assert token is not None and token.community == community and token.can_write
    assert token.name == "Nightly sync" and token.expires_at is not None
    assert secret not in err.getvalue() and "shown once" in err.getvalue()
    assert ApiClient(secret).get("members").status_code == 200
    with pytest.raises(CommandError, match="No community"):
        call_command("create_api_token", "nope", "x", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="1 to 3650"):
        call_command(
            "create_api_token",
            "acme",
            "x",
            "--expires-days",
            "0",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


# --- Browser sessions ----------------------------------------------------------------------------


def _session(user, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def test_a_session_reads_with_x_community(community, victor, otto):
    member = MemberFactory(community=community)
    client = _session(victor)
    response = client.get("/api/v1/members", headers={"X-Community": "acme"})
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["items"]] == [member.pk]
    assert client.get("/api/v1/members").status_code == 401  # no community named
    assert client.get("/api/v1/members", headers={"X-Community": "globex"}).status_code == 404
    assert client.get("/api/v1/members", headers={"X-Community": "nope\x00"}).status_code == 404
    outsider = _session(otto)
    assert outsider.get("/api/v1/members", headers={"X-Community": "acme"}).status_code == 404
    # A viewer reads only.
    response = client.post(
        "/api/v1/segments",
        {"name": "X", "kind": "manual"},
        content_type="application/json",
        headers={"X-Community": "acme"},
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Your role in this community is read-only."


def test_a_session_writes_with_csrf_only(community, alice):
    client = _session(alice, csrf=True)
    page = client.get(reverse("members:list", args=["acme"]))  # sets the CSRF cookie
    assert page.status_code == 200
    token = client.cookies["csrftoken"].value
    body = {"name": "From the browser", "kind": "manual"}
    refused = client.post(
        "/api/v1/segments", body, content_type="application/json", headers={"X-Community": "acme"}
    )
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("CSRF check failed")
    assert not Segment.objects.filter(name="From the browser").exists()
    accepted = client.post(
        "/api/v1/segments",
        body,
        content_type="application/json",
        headers={"X-Community": "acme", "X-CSRFToken": token},
    )
    assert accepted.status_code == 201
    assert Segment.objects.get(name="From the browser").created_by == alice


def test_a_token_needs_no_csrf(community, write_token):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/segments",
        {"name": "By token", "kind": "manual"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {write_token.secret}"},
    )
    assert response.status_code == 201


# --- Rate limit ----------------------------------------------------------------------------------


def test_the_rate_limit_answers_429_with_retry_after(
    community, settings, write_token, read_token, monkeypatch
):
    import api.auth

    settings.API_RATE_LIMIT = 3
    settings.API_RATE_WINDOW_SECONDS = 60
    # One instant: the requests never straddle the end of a window (a flaky 200 otherwise).
    monkeypatch.setattr(api.auth.time, "time", lambda: 1_000_000_020.0)
    client = ApiClient(write_token.secret)
    statuses = [client.get("members").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("members")
    assert limited.status_code == 429
    assert limited["Content-Type"] == "application/problem+json"
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Another token has its own count.
    assert ApiClient(read_token.secret).get("members").status_code == 200


def test_the_window_ends(community, settings, write_token, monkeypatch):
    import api.auth

    settings.API_RATE_LIMIT = 1
    settings.API_RATE_WINDOW_SECONDS = 10
    now = [1_000_000_000.0]
    monkeypatch.setattr(api.auth.time, "time", lambda: now[0])
    client = ApiClient(write_token.secret)
    assert client.get("members").status_code == 200
    refused = client.get("members")
    assert (refused.status_code, refused["Retry-After"]) == (429, "10")
    now[0] += 10
    assert client.get("members").status_code == 200
