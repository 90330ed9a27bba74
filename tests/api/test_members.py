"""GET/POST /api/v1/members: the table's filters, cursor paging, one member, the upsert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from members.models import Identity, Member
from segments import services
from tests.factories import IdentityFactory, MemberFactory
from tests.security.test_fuzz_views import MEMBER_LIST


def test_the_list_takes_the_tables_filter_names():
    """Every query parameter of the table's filters (the fuzzer reads them from the forms) is
    a parameter of GET /members, and the API adds only its paging."""
    from api.api import api

    schema = api.get_openapi_schema(path_params={})
    names = {p["name"] for p in schema["paths"]["/api/v1/members"]["get"]["parameters"]}
    table_filters = set(MEMBER_LIST) - {"sort", "after", "before", "count"}
    assert names == table_filters | {"limit", "cursor"}


def test_list_members_filters_like_the_table(api, community, other_community):
    ada = MemberFactory(community=community, name="Ada Lovelace", company_name="Acme", city="Paris")
    MemberFactory(community=community, name="Grace Hopper", company_name="Navy", city="Paris")
    MemberFactory(community=other_community, name="Ada Elsewhere", company_name="Acme")
    response = api.get("members", query={"q": "ada", "company": "acme"})
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["items"]] == [ada.pk]
    assert response.json()["next"] is None
    in_paris = api.get("members", query={"city": "paris"}).json()["items"]
    assert sorted(m["name"] for m in in_paris) == ["Ada Lovelace", "Grace Hopper"]


def test_list_members_by_segment_and_dates(api, community):
    old = MemberFactory(community=community, joined_at=datetime(2020, 5, 1, tzinfo=UTC))
    new = MemberFactory(community=community, joined_at=datetime(2025, 5, 1, tzinfo=UTC))
    board = services.segment_create(community=community, name="Board", kind="manual")
    services.segment_add_members(segment=board, members=[old])
    items = api.get("members", query={"segment": board.pk}).json()["items"]
    assert [m["id"] for m in items] == [old.pk]
    items = api.get("members", query={"joined_after": "2024-01-01"}).json()["items"]
    assert [m["id"] for m in items] == [new.pk]


def test_cursor_paging_reads_every_member_once(api, community):
    members = [MemberFactory(community=community) for _ in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get("members", query=query).json()
        seen += [m["id"] for m in body["items"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == [m.pk for m in members]
    assert pages == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"joined_after": "2024-13-01"}, "joined_after"),
        ({"joined_after": "0"}, "joined_after"),
        ({"engagement_min": "4"}, "engagement_min"),
        ({"engagement_min": "0.125"}, "engagement_min"),
        ({"company": "x" * 201}, "company"),
        ({"q": "%00"}, "q"),
    ],
)
def test_bad_filters_are_422_naming_the_field(api, community, query, field):
    response = api.get("members", query=query)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and body["title"]
    assert field in [error["field"] for error in body["errors"]], body


def test_a_cursor_of_another_list_is_refused(api, community):
    MemberFactory(community=community)
    MemberFactory(community=community)
    segments_cursor = "c2VnbWVudHM6MQ"  # "segments:1"
    response = api.get("members", query={"cursor": segments_cursor})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


def test_another_communitys_segment_as_filter_is_404(api, other_community):
    theirs = services.segment_create(community=other_community, name="Theirs", kind="manual")
    assert api.get("members", query={"segment": theirs.pk}).status_code == 404


def test_get_member(api, community, other_community):
    member = MemberFactory(community=community, attributes={"plan": "pro"})
    IdentityFactory(member=member, source="slack", external_id="U1")
    body = api.get(f"members/{member.pk}").json()
    assert body["id"] == member.pk and body["email"] == member.email
    assert body["identities"] == [{"source": "slack", "external_id": "U1"}]
    assert body["attributes"] == {"plan": "pro"}
    assert body["scores"] is None
    theirs = MemberFactory(community=other_community)
    missing = api.get(f"members/{theirs.pk}")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No such member."
    assert api.get("members/0").status_code == 422
    assert api.get(f"members/{2**63}").status_code == 422


def test_upsert_creates_then_updates_then_changes_nothing(api, community, celery_calls):
    payload = {"source": "hubspot", "external_id": "h-1", "email": "ada@example.org"}
    created = api.post("members", {**payload, "name": "Ada", "attributes": {"plan": "pro"}})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["result"] == "created" and body["name"] == "Ada"
    assert body["attributes"] == {"plan": "pro"}
    member = Member.objects.get(pk=body["id"], community=community)
    assert Identity.objects.filter(member=member, source="hubspot", external_id="h-1").exists()

    updated = api.post("members", {**payload, "company_name": "Acme"})
    assert updated.status_code == 200
    assert updated.json()["result"] == "updated"
    member.refresh_from_db()
    assert (member.name, member.company_name) == ("Ada", "Acme")  # a field left out is kept

    again = api.post("members", {**payload, "company_name": "Acme"})
    assert (again.status_code, again.json()["result"]) == (200, "unchanged")
    # By email alone, in another letter case: the same member, the stored email kept.
    by_email = api.post("members", {"email": "ADA@example.org", "city": "Paris"})
    assert by_email.json()["id"] == member.pk
    member.refresh_from_db()
    assert (member.email, member.city) == ("ada@example.org", "Paris")


def test_upsert_refusals_name_the_field(api, community):
    MemberFactory(community=community, email="taken@example.org")
    IdentityFactory(member=MemberFactory(community=community), source="slack", external_id="U1")
    cases = [
        ({"name": "No key"}, ""),
        ({"source": "slack", "email": "a@example.org"}, ""),
        ({"email": "not an email"}, "email"),
        ({"email": "a@example.org", "name": "x" * 201}, "name"),
        ({"email": "a@example.org", "shoe_size": "44"}, "shoe_size"),
        ({"email": "a@example.org", "joined_at": 0}, "joined_at"),
        ({"email": "a@example.org", "name": 5}, "name"),
        ({"email": "a@example.org", "bio": "nul\x00"}, "bio"),
        ({"source": "slack", "external_id": "U1", "email": "taken@example.org"}, "email"),
    ]
    future = (timezone.now() + timedelta(days=3)).isoformat()
    cases.append(({"email": "a@example.org", "joined_at": future}, "joined_at"))
    for payload, field in cases:
        response = api.post("members", payload)
        assert response.status_code == 422, (payload, response.content)
        assert field in [error["field"] for error in response.json()["errors"]], payload
    assert not Member.objects.filter(email="a@example.org").exists()


def test_a_body_that_is_not_json_is_400(api):
    for body in ("{not json", '{"email": NaN}', b"\xff\xfe"):
        response = api.post("members", body)
        assert response.status_code == 400
        assert response["Content-Type"] == "application/problem+json"
