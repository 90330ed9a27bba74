"""Password reset by email (Django's views, notifications/views.py): the same answer for
every address, a rate limit per address and per client, a link that works once."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail as outbox
from django.urls import reverse

from notifications import services
from notifications.models import EmailKind, OptOut, ResetRequest
from tests.factories import UserFactory
from tests.notifications.conftest import SITE

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_PASSWORD = "an entirely new passphrase 7"
LINK = re.compile(re.escape(SITE) + r"(/password-reset/[\w-]+/[\w-]+/)")
RESET = "notifications.tasks.send_password_reset"


def ask(client, email, django_capture_on_commit_callbacks, **extra):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("notifications:password_reset"), {"email": email}, **extra)


def run_resets(celery_calls) -> None:
    for name, args, _kwargs, _options in celery_calls:
        if name == RESET:
            services.password_reset_send(email=args[0])


def test_the_login_page_links_to_it(client):
    page = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("notifications:password_reset")}">Forgot your password?</a>' in page


def test_the_reset_flow(client, alice, celery_calls, django_capture_on_commit_callbacks):
    response = ask(client, "ALICE@example.com", django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response["Location"] == reverse("notifications:password_reset_done")
    assert celery_calls == [(RESET, ("ALICE@example.com",), {}, {})]  # sent by a worker
    run_resets(celery_calls)
    [message] = outbox.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "Reset your CommunityOS password"
    assert "works once, for 60 minutes" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = LINK.search(message.body).group(1)
    assert f'href="{SITE}{path}"' in message.alternatives[0][0]

    page = client.get(path, follow=True)
    assert "Choose a new password" in page.content.decode()
    set_url = page.redirect_chain[-1][0]  # Django moves the token out of the URL
    response = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response["Location"] == reverse("notifications:password_reset_complete")
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert "Password changed" in client.get(response["Location"]).content.decode()
    # the link works once
    assert "Link not valid" in client.get(path, follow=True).content.decode()


def test_no_account_enumeration(client, alice, celery_calls, django_capture_on_commit_callbacks):
    """A known and an unknown address get the same answer, and the request takes the same
    path (a task is enqueued for both; only the worker looks the address up)."""
    known = ask(client, "alice@example.com", django_capture_on_commit_callbacks)
    unknown = ask(client, "nobody@example.com", django_capture_on_commit_callbacks)
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert [c[0] for c in celery_calls] == [RESET, RESET]
    done = client.get(known["Location"]).content.decode()
    assert "If an account has this address" in done
    run_resets(celery_calls)
    assert [m.to for m in outbox.outbox] == [["alice@example.com"]]


def test_inactive_users_and_users_without_a_password_get_nothing(
    client, celery_calls, django_capture_on_commit_callbacks
):
    UserFactory(username="off", email="off@example.com", is_active=False)
    unusable = UserFactory(username="sso", email="sso@example.com")
    unusable.set_unusable_password()
    unusable.save()
    for email in ("off@example.com", "sso@example.com"):
        ask(client, email, django_capture_on_commit_callbacks)
    run_resets(celery_calls)
    assert outbox.outbox == []


def test_an_invalid_address_names_the_field(client):
    response = client.post(reverse("notifications:password_reset"), {"email": "not an address"})
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()


def test_rate_limited_per_address(
    client, alice, celery_calls, django_capture_on_commit_callbacks, settings
):
    settings.PASSWORD_RESET_EMAIL_LIMIT = 3
    for _ in range(5):
        response = ask(client, "alice@example.com", django_capture_on_commit_callbacks)
        assert response["Location"] == reverse("notifications:password_reset_done")  # alike
    assert len(celery_calls) == 3
    # another address from the same client is not affected
    ask(client, "victor@example.com", django_capture_on_commit_callbacks)
    assert len(celery_calls) == 4


def test_rate_limited_per_client(
    client, celery_calls, django_capture_on_commit_callbacks, settings
):
    settings.PASSWORD_RESET_IP_LIMIT = 2
    for index in range(4):
        ask(client, f"user{index}@example.com", django_capture_on_commit_callbacks)
    assert len(celery_calls) == 2
    ask(client, "user9@example.com", django_capture_on_commit_callbacks, REMOTE_ADDR="10.0.0.9")
    assert len(celery_calls) == 3


def test_the_limit_keeps_no_address(client, django_capture_on_commit_callbacks):
    ask(client, "alice@example.com", django_capture_on_commit_callbacks)
    row = ResetRequest.objects.get()
    assert "alice" not in row.email_hash and "127.0.0.1" not in row.client_hash
    assert len(row.email_hash) == 64


def test_a_user_who_turned_resets_off_gets_none(alice):
    OptOut.objects.create(user=alice, kind=EmailKind.PASSWORD_RESET)
    assert services.password_reset_send(email="alice@example.com") == 0
    assert outbox.outbox == []


def test_old_requests_are_swept(client, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    ask(client, "alice@example.com", django_capture_on_commit_callbacks)
    assert services.reset_requests_sweep(now=timezone.now() + timedelta(minutes=30)) == 0
    assert services.reset_requests_sweep(now=timezone.now() + timedelta(minutes=61)) == 1


@pytest.mark.parametrize(
    "name", ["password_reset", "password_reset_done", "password_reset_complete"]
)
def test_the_pages_carry_the_strict_csp(client, name):
    response = client.get(reverse(f"notifications:{name}"))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp


def test_a_forged_link_is_not_valid(client):
    url = reverse("notifications:password_reset_confirm", args=["MQ", "forged-token"])
    assert "Link not valid" in client.get(url).content.decode()
