"""Webhook endpoints through the API: the Settings page's services and checks (the SSRF guard
among them), for a write token or an admin's session only, within the token's community."""

import pytest
from django.test import Client

from segments import services as segment_services
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

PUBLIC = "https://hooks.example.org/communityos"


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    """hooks.example.org resolves to a public address; no DNS is asked."""
    monkeypatch.setattr("webhooks.transport.resolve", lambda host, port: ["93.184.215.14"])


def test_a_write_token_creates_reads_changes_and_deletes_an_endpoint(api, community):
    segment = segment_services.segment_create(community=community, name="Board", kind="manual")
    created = api.post(
        "webhook-endpoints",
        {"url": PUBLIC, "events": ["segment.member_entered"], "segments": [segment.pk]},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    endpoint = Endpoint.objects.get(pk=body["id"], community=community)
    assert body["secret"] == endpoint.secret and body["secret"].startswith("whsec_")
    assert (body["url"], body["events"], body["segments"]) == (
        PUBLIC,
        ["segment.member_entered"],
        [segment.pk],
    )
    listed = api.get("webhook-endpoints").json()
    assert [item["id"] for item in listed] == [endpoint.pk]
    assert "secret" not in listed[0]
    changed = api.patch(f"webhook-endpoints/{endpoint.pk}", {"enabled": False, "segments": []})
    assert changed.status_code == 200
    assert (changed.json()["enabled"], changed.json()["segments"]) == (False, [])
    assert api.delete(f"webhook-endpoints/{endpoint.pk}").status_code == 204
    assert not Endpoint.objects.exists()


def test_the_ssrf_guard_and_the_events_name_their_field(api, monkeypatch):
    monkeypatch.setattr("webhooks.transport.resolve", lambda host, port: ["10.0.0.7"])
    refused = api.post("webhook-endpoints", {"url": PUBLIC, "events": ["member.created"]})
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["url"]
    monkeypatch.setattr("webhooks.transport.resolve", lambda host, port: ["93.184.215.14"])
    unknown = api.post("webhook-endpoints", {"url": PUBLIC, "events": ["member.deleted"]})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "events"
    assert not Endpoint.objects.exists()


def test_a_read_token_and_a_managers_session_may_not_manage_endpoints(
    reader, community, alice, amy
):
    assert reader.post("webhook-endpoints", {"url": PUBLIC, "events": ["x"]}).status_code == 403
    manager = Client()
    manager.force_login(alice)
    answer = manager.get("/api/v1/webhook-endpoints", headers={"X-Community": community.slug})
    assert answer.status_code == 403
    admin = Client()
    admin.force_login(amy)
    answer = admin.get("/api/v1/webhook-endpoints", headers={"X-Community": community.slug})
    assert answer.status_code == 200


def test_another_communitys_endpoint_is_404(api, outsider, community):
    endpoint = api.post("webhook-endpoints", {"url": PUBLIC, "events": ["import.finished"]}).json()
    path = f"webhook-endpoints/{endpoint['id']}"
    assert outsider.get(path).status_code == 404
    assert outsider.patch(path, {"enabled": False}).status_code == 404
    assert outsider.delete(path).status_code == 404
    assert outsider.get("webhook-endpoints").json() == []
    assert Endpoint.objects.get().enabled


def test_the_schema_documents_the_operations(api):
    paths = api.get("openapi.json").json()["paths"]
    assert set(paths["/api/v1/webhook-endpoints"]) == {"get", "post"}
    assert set(paths["/api/v1/webhook-endpoints/{endpoint_id}"]) == {"get", "patch", "delete"}
