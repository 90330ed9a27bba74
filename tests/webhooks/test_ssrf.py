"""The SSRF guard (webhooks/transport.py): what may be sent to, and that the connection goes to
the address that was checked."""

from __future__ import annotations

import pytest
from django.utils import timezone

from webhooks import services, transport
from webhooks.models import Delivery, Event


@pytest.fixture
def dns(monkeypatch):
    """A resolver of our own: {host: [addresses]}; a host it does not know is not found."""
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    monkeypatch.setattr(transport, "resolve", resolve)
    return table


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://10.0.0.1/hook", "10.0.0.1, a private address"),
        ("http://192.168.1.20/hook", "a private address"),
        ("http://127.0.0.1:8000/hook", "127.0.0.1, a loopback address"),
        ("http://[::1]/hook", "a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "a cloud metadata address"),
        ("http://169.254.10.10/", "a link-local address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://0.0.0.0/", "the unspecified address"),
        ("http://240.0.0.1/", "a reserved address"),
        ("http://[::ffff:10.0.0.1]/", "a private address"),
        ("http://100.64.0.1/", "not a public address"),
    ],
)
def test_private_and_special_addresses_are_refused(settings, url, words):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = []
    with pytest.raises(transport.UnsafeURL) as refused:
        transport.check_url(url)
    assert words in str(refused.value)


def test_a_name_resolving_to_a_private_address_is_refused(dns):
    dns["hooks.example.com"] = ["93.184.215.14", "10.1.2.3"]  # one bad address is enough
    with pytest.raises(transport.UnsafeURL, match=r"hooks\.example\.com resolves to 10\.1\.2\.3"):
        transport.check_url("https://hooks.example.com/in")
    dns["hooks.example.com"] = ["93.184.215.14"]
    target = transport.check_url("https://hooks.example.com:8443/in?x=1")
    assert (str(target.address), target.port, target.path) == ("93.184.215.14", 8443, "/in?x=1")
    assert target.host_header == "hooks.example.com:8443"


def test_the_setting_allows_listed_networks_but_never_the_metadata_service(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1", "169.254.0.0/16"]
    assert str(transport.check_url("http://127.0.0.1:9/").address) == "127.0.0.1"
    with pytest.raises(transport.UnsafeURL, match=r"10\.0\.0\.1"):
        transport.check_url("http://10.0.0.1/")
    with pytest.raises(transport.UnsafeURL, match="metadata"):
        transport.check_url("http://169.254.169.254/")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "Enter the URL"),
        ("ftp://example.org/", "https://"),
        ("file:///etc/passwd", "https://"),
        ("https://user:secret@example.org/", "user name or password"),
        ("https:///path", "needs a host name"),
        ("https://example.org:99999/", "not a URL"),
        ("https://exa mple.org/", "spaces"),
        ("https://example.org/#x", "fragment"),
        ("https://" + "a" * 2100 + ".org/", "at most 2,000"),
        ("https://unknown.invalid/", "could not be found"),
    ],
)
def test_urls_that_are_not_webhook_urls(dns, url, words):
    with pytest.raises(transport.UnsafeURL, match=words):
        transport.check_url(url)


def test_an_endpoint_cannot_be_made_for_a_refused_url(community, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = []
    with pytest.raises(services.WebhookError) as refused:
        services.endpoint_create(
            community=community, url="http://127.0.0.1:8000/", events=[Event.MEMBER_ENTERED]
        )
    assert refused.value.field == "url"
    assert "loopback" in str(refused.value)


def test_a_name_that_rebinds_to_a_private_address_after_the_check_is_refused_at_send(
    community, dns, receiver, settings
):
    """The endpoint was checked when it was saved; at each attempt the host is resolved and
    checked again, and the connection goes to the address checked then."""
    dns["hooks.example.com"] = ["93.184.215.14"]
    endpoint = services.endpoint_create(
        community=community,
        url=f"http://hooks.example.com:{receiver.port}/in",
        events=[Event.IMPORT_FINISHED],
    )
    now = timezone.now()
    delivery = Delivery.objects.create(
        community=community,
        endpoint=endpoint,
        message_id="msg_rebind",
        event=Event.IMPORT_FINISHED,
        body="{}",
        created_at=now,
        next_attempt_at=now,
        give_up_at=now + services.RETRY_FOR,
    )
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = []
    dns["hooks.example.com"] = ["127.0.0.1"]  # DNS now points at this server
    services.delivery_attempt(delivery.pk, now=now)
    delivery.refresh_from_db()
    assert "resolves to 127.0.0.1, a loopback address" in delivery.last_error
    assert delivery.last_status_code is None
    assert receiver.received == []

    # Allowed (a receiver in the private network): the request goes to the checked address,
    # the name only in the Host header (the name has no DNS record anywhere else).
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    later = delivery.next_attempt_at
    services.delivery_attempt(delivery.pk, now=later)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    [request] = receiver.received
    assert request.headers["host"] == f"hooks.example.com:{receiver.port}"
    assert request.path == "/in"
