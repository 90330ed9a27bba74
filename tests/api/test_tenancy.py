"""A token sees only its community: every operation of the schema, sent with globex's token
and acme's ids, is a 404; the lists show globex's own data only. And a read token gets 403 on
every operation that writes, before anything is read."""

from __future__ import annotations

import pytest

from api.api import api as rest_api
from members.models import ImportJob, Member
from segments import services
from segments.models import Segment
from tests.factories import MemberFactory
from webhooks.models import Endpoint

SCHEMA = rest_api.get_openapi_schema(path_params={})
OPERATIONS = sorted(
    (method.upper(), path) for path, operations in SCHEMA["paths"].items() for method in operations
)


def _fill(path: str, ids: dict) -> str:
    return path.format(**ids)


def _body(method: str, path: str, ids: dict) -> dict | None:
    """A valid body for each operation that takes one."""
    bodies = {
        ("POST", "/api/v1/members"): {"email": "new@example.org"},
        ("POST", "/api/v1/activities"): {
            "activities": [
                {"kind": "message", "occurred_at": "2025-01-01", "member_email": ids["email"]}
            ]
        },
        ("POST", "/api/v1/segments"): {"name": "Fresh", "kind": "manual"},
        ("PATCH", "/api/v1/segments/{segment_id}"): {"name": "Renamed"},
        ("POST", "/api/v1/segments/{segment_id}/members"): {"member_ids": [ids["member_id"]]},
        ("DELETE", "/api/v1/segments/{segment_id}/members"): {"member_ids": [ids["member_id"]]},
        ("POST", "/api/v1/webhook-endpoints"): {
            "url": "https://hooks.example.org/x",
            "events": ["import.finished"],
        },
        ("PATCH", "/api/v1/webhook-endpoints/{endpoint_id}"): {"enabled": False},
    }
    return bodies.get((method, path))


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    """Webhook URLs resolve to a public address; no DNS is asked."""
    monkeypatch.setattr("webhooks.transport.resolve", lambda host, port: ["93.184.215.14"])


@pytest.fixture
def acme(community):
    member = MemberFactory(community=community, email="ada@acme.example")
    segment = services.segment_create(community=community, name="Acme board", kind="manual")
    services.segment_add_members(segment=segment, members=[member])
    job = ImportJob.objects.create(community=community, importer="members", file_name="a.csv")
    endpoint = Endpoint.objects.create(
        community=community, url="https://hooks.example.org/acme", events=["import.finished"]
    )
    return {
        "endpoint_id": endpoint.pk,
        "member_id": member.pk,
        "segment_id": segment.pk,
        "job_id": job.pk,
        "email": member.email,
    }


def test_every_operation_is_covered():
    assert len(OPERATIONS) == 19
    takes_body = {op for op in OPERATIONS if "requestBody" in SCHEMA["paths"][op[1]][op[0].lower()]}
    ids = {"member_id": 1, "email": "a@example.org"}
    assert {op for op in OPERATIONS if _body(*op, ids) is not None} == takes_body


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_another_communitys_token_finds_nothing_of_this_one(outsider, acme, method, path):
    response = outsider.request(method, _fill(path, acme), _body(method, path, acme))
    acme_segment = Segment.objects.get(pk=acme["segment_id"])
    if "{" in path:
        assert response.status_code == 404, response.content
        assert response["Content-Type"] == "application/problem+json"
    else:
        # Its own community's lists, or its own writes: nothing of acme in them.
        assert response.status_code in (200, 201, 422), response.content
        text = response.content.decode()
        assert "Acme board" not in text
        if path == "/api/v1/activities":  # acme's member, by email: unknown there
            assert response.status_code == 422
            assert response.json()["errors"][0]["field"] == "activities[0].member_email"
        else:
            assert "ada@acme.example" not in text
        if response.status_code == 200 and "items" in response.json():
            assert acme["member_id"] not in [
                i.get("member_id", i["id"]) for i in response.json()["items"]
            ]
    # Nothing of acme changed.
    assert Member.objects.filter(pk=acme["member_id"]).exists()
    assert acme_segment.name == "Acme board" and acme_segment.memberships.count() == 1
    assert Segment.objects.filter(community__slug="acme").count() == 1


def test_another_communitys_ids_in_queries_are_404(outsider, acme):
    assert outsider.get("members", query={"segment": acme["segment_id"]}).status_code == 404
    response = outsider.get("membership-changes", query={"segment": acme["segment_id"]})
    assert response.status_code == 404


WRITES = [op for op in OPERATIONS if op[0] != "GET"]


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_a_read_token_cannot_write(reader, acme, method, path):
    response = reader.request(method, _fill(path, acme), _body(method, path, acme))
    assert response.status_code == 403
    assert response.json()["detail"] == "This token may only read: its scope is read."
    assert Segment.objects.filter(community__slug="acme").count() == 1
    assert not Member.objects.filter(email="new@example.org").exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [op for op in OPERATIONS if op[0] == "GET"],
    ids=[f"{m} {p}" for m, p in OPERATIONS if m == "GET"],
)
def test_a_read_token_reads(reader, acme, method, path):
    assert reader.request(method, _fill(path, acme)).status_code == 200
