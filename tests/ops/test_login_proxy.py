"""Login throttling behind proxies: the client's address from X-Forwarded-For through
django-ipware, as many proxies deep as AXES_IPWARE_PROXY_COUNT says (community_os/login.py)."""

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from community_os.login import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # tests/factories.py
PROXY = "10.0.0.2"  # the reverse proxy: every request reaches Django from it
CLIENT_A, CLIENT_B = "203.0.113.10", "198.51.100.20"


def _login(forwarded_for: str, password: str) -> int:
    """A login through the proxy, which appended the address it saw to X-Forwarded-For."""
    response = Client().post(
        reverse("login"),
        {"username": "alice", "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )
    return response.status_code


def test_two_clients_behind_one_proxy_are_locked_out_separately(settings, alice):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(CLIENT_A, "wrong password") == 200
    assert _login(CLIENT_A, "wrong password") == 429  # the 5th failure locks A out
    assert _login(CLIENT_A, PASSWORD) == 429
    # B, behind the same proxy, with the same username: not locked out.
    assert _login(CLIENT_B, PASSWORD) == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {CLIENT_A}


def test_a_client_cannot_escape_its_lockout_by_writing_x_forwarded_for(settings, alice):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        # A writes a different made-up address each time; the proxy appends A's real one.
        _login(f"192.0.2.{attempt + 1}, {CLIENT_A}", "wrong password")
    assert _login(f"192.0.2.99, {CLIENT_A}", PASSWORD) == 429
    assert _login(CLIENT_B, PASSWORD) == 302


def test_with_no_proxy_counted_the_proxys_address_is_used(settings, alice):
    settings.AXES_IPWARE_PROXY_COUNT = 0
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(CLIENT_A, "wrong password")
    # Everyone behind the proxy is one address: B is locked out with A.
    assert _login(CLIENT_B, PASSWORD) == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {PROXY}


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "expected"),
    [
        (0, "203.0.113.10", PROXY),  # the header is not trusted
        (1, "203.0.113.10", "203.0.113.10"),
        (1, "192.0.2.1, 203.0.113.10", "203.0.113.10"),  # what the client wrote is ignored
        (2, "203.0.113.10, 172.16.0.5", "203.0.113.10"),  # a CDN, then our proxy
        (2, "192.0.2.1, 203.0.113.10, 172.16.0.5", "203.0.113.10"),
        (1, "2001:db8::7", "2001:db8::7"),
        (1, None, PROXY),  # not through the proxy (a health check from inside)
        (2, "203.0.113.10", PROXY),  # fewer entries than proxies: not through them all
        (1, "not an address", PROXY),
    ],
)
def test_the_client_address(settings, rf, proxies, forwarded_for, expected):
    settings.AXES_IPWARE_PROXY_COUNT = proxies
    headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {}
    assert client_ip(rf.post("/login/", REMOTE_ADDR=PROXY, **headers)) == expected
