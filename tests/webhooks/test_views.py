"""Settings > Webhooks, for each role: admins manage endpoints, the community's other roles get
403 (an endpoint's URL may carry a credential), outsiders 404."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import Role
from tests.factories import CommunityRoleFactory, UserFactory
from webhooks import services
from webhooks.models import Delivery, Endpoint, Event


@pytest.fixture
def admin_client(client, amy):
    client.force_login(amy)
    return client


@pytest.fixture
def endpoint(community, receiver):
    return services.endpoint_create(
        community=community, url=receiver.url, events=[Event.MEMBER_ENTERED]
    )


def _urls(community, endpoint, delivery=None):
    urls = [
        reverse("webhooks:settings", args=[community.slug]),
        reverse("webhooks:endpoint", args=[community.slug, endpoint.pk]),
    ]
    if delivery is not None:
        urls.append(reverse("webhooks:resend", args=[community.slug, endpoint.pk, delivery.pk]))
    return urls


def _delivery(endpoint, **fields):
    now = timezone.now()
    values = {
        "community": endpoint.community,
        "endpoint": endpoint,
        "message_id": "msg_view",
        "event": Event.MEMBER_ENTERED,
        "body": '{"type":"segment.member_entered"}',
        "created_at": now,
        "give_up_at": now + services.RETRY_FOR,
        "status": Delivery.Status.FAILED,
        "attempts": 11,
        "last_attempt_at": now,
        "last_error": "Connection refused.",
        "last_duration_ms": 3,
    }
    return Delivery.objects.create(**(values | fields))


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("manager", 403), ("outsider", 404), ("admin", 200)],
)
def test_each_role(client, community, other_community, endpoint, role, expected):
    user = UserFactory(username=f"the-{role}")
    if role == "outsider":
        CommunityRoleFactory(user=user, community=other_community, role=Role.ADMIN)
    else:
        CommunityRoleFactory(user=user, community=community, role=Role(role))
    client.force_login(user)
    delivery = _delivery(endpoint)
    settings_url, endpoint_url, resend_url = _urls(community, endpoint, delivery)
    assert client.get(settings_url).status_code == expected
    assert client.get(endpoint_url).status_code == expected
    if expected != 200:
        assert client.post(settings_url, {"url": "https://example.org/"}).status_code == expected
        assert client.post(endpoint_url, {"action": "delete", "confirm": "on"}).status_code == (
            expected
        )
        assert client.post(resend_url).status_code == expected
        assert Endpoint.objects.filter(pk=endpoint.pk).exists()
        page = client.get(reverse("signup:settings", args=[community.slug]))
        assert b"Webhooks</a>" not in page.content or role == "outsider"
    else:
        assert client.get(resend_url).status_code == 405
        page = client.get(settings_url)
        assert endpoint.url.encode() in page.content
        assert endpoint.secret.encode() not in page.content  # shown once, at creation only
        assert endpoint.secret.encode() not in client.get(endpoint_url).content


def test_anonymous_is_sent_to_login(client, community, endpoint):
    for url in _urls(community, endpoint):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_another_communitys_endpoint_is_404(client, community, other_community, receiver):
    theirs = services.endpoint_create(
        community=other_community, url=receiver.url, events=[Event.MEMBER_LEFT]
    )
    user = UserFactory(username="acme-admin")
    CommunityRoleFactory(user=user, community=community, role=Role.ADMIN)
    client.force_login(user)
    url = reverse("webhooks:endpoint", args=[community.slug, theirs.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "delete", "confirm": "on"}).status_code == 404
    assert Endpoint.objects.filter(pk=theirs.pk).exists()


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(admin_client, community, receiver):
    url = reverse("webhooks:settings", args=[community.slug])
    response = admin_client.post(
        url, {"url": receiver.url, "events": [Event.MEMBER_ENTERED, Event.IMPORT_FINISHED]}
    )
    assert response.status_code == 200
    endpoint = Endpoint.objects.get()
    assert endpoint.events == [Event.MEMBER_ENTERED, Event.IMPORT_FINISHED]
    page = response.content.decode()
    assert endpoint.secret in page and "it is not shown again" in page
    assert endpoint.secret not in admin_client.get(endpoint.get_absolute_url()).content.decode()
    nav = admin_client.get(url).content.decode()
    assert 'aria-current="page">Webhooks</a>' in nav


def test_the_fields_name_their_errors(admin_client, community, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = []
    url = reverse("webhooks:settings", args=[community.slug])
    response = admin_client.post(url, {"url": "http://10.0.0.1/", "events": ["member.created"]})
    page = response.content.decode()
    assert response.status_code == 200 and "Nothing was added" in page
    assert "10.0.0.1, a private address" in page
    response = admin_client.post(url, {"url": "https://example.org/", "events": ["nope"]})
    assert "Select a valid choice" in response.content.decode()
    response = admin_client.post(url, {"url": "https://example.org/"})
    assert "Choose at least one event" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_edit_switch_off_rotate_and_delete(admin_client, community, endpoint, receiver):
    url = endpoint.get_absolute_url()
    response = admin_client.post(
        url,
        {
            "action": "save",
            "url": receiver.url,
            "events": [Event.MEMBER_LEFT],
            "description": "CRM sync",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.events, endpoint.description) == ([Event.MEMBER_LEFT], "CRM sync")

    admin_client.post(url, {"action": "disable"})
    endpoint.refresh_from_db()
    assert not endpoint.enabled

    old = endpoint.secret
    response = admin_client.post(url, {"action": "rotate"})
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in response.content.decode()

    assert admin_client.post(url, {"action": "delete"}).status_code == 302
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()  # not confirmed
    assert admin_client.post(url, {"action": "delete", "confirm": "on"}).status_code == 302
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()


def test_the_log_shows_attempts_and_sends_again(
    admin_client, community, endpoint, receiver, worker, django_capture_on_commit_callbacks
):
    delivery = _delivery(endpoint, last_response="<html>bad gateway</html>")
    page = admin_client.get(endpoint.get_absolute_url()).content.decode()
    assert "msg_view" in page and "Connection refused." in page and "in 3 ms" in page
    assert "&lt;html&gt;bad gateway&lt;/html&gt;" in page
    resend = reverse("webhooks:resend", args=[community.slug, endpoint.pk, delivery.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(resend).status_code == 302
    worker()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED and delivery.attempts == 12
    assert [r.webhook_id for r in receiver.received] == ["msg_view"]


def test_an_endpoint_switched_off_for_failures_says_so(admin_client, community, endpoint):
    Endpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_reason="Switched off on 2025-01-02: a delivery failed for 24 hours"
    )
    listing = admin_client.get(reverse("webhooks:settings", args=[community.slug]))
    assert "Switched off after failing deliveries" in listing.content.decode()
    page = admin_client.get(endpoint.get_absolute_url()).content.decode()
    assert "a delivery failed for 24 hours" in page and "Switch on" in page
    delivery = _delivery(endpoint)
    resend = reverse("webhooks:resend", args=[community.slug, endpoint.pk, delivery.pk])
    response = admin_client.post(resend, follow=True)
    assert "Switch the endpoint on first" in response.content.decode()
