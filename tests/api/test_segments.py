"""Segments through the API: the services' checks and messages, members by cursor, manual
membership."""

from __future__ import annotations

import pytest
from django.db import transaction

from segments import services
from segments.models import MembershipChange, Segment, SegmentMembership
from tests.factories import MemberFactory

SMART = {
    "name": "Acme people",
    "kind": "smart",
    "rule": {"all": [{"field": "company_name", "op": "is", "value": "Acme"}]},
}


def test_create_get_list_update_delete(api, community, celery_calls):
    created = api.post("segments", {**SMART, "pinned": True, "color": "green"})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["kind"] == "smart" and body["pinned"] and body["color"] == "green"
    assert body["rule_text"] == "Company Name is Acme"
    assert body["is_updating"] is True
    segment = Segment.objects.get(pk=body["id"], community=community)

    assert api.get(f"segments/{segment.pk}").json()["name"] == "Acme people"
    listed = api.get("segments").json()
    assert [s["id"] for s in listed["items"]] == [segment.pk] and listed["next"] is None

    changed = api.patch(f"segments/{segment.pk}", {"name": "Acme folks", "description": "Hi"})
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["description"]) == ("Acme folks", "Hi")
    version = changed.json()["edit_version"]
    rule = {"any": [{"field": "city", "op": "is", "value": "Paris"}]}
    edited = api.patch(f"segments/{segment.pk}", {"rule": rule, "edit_version": version})
    assert edited.json()["rule_version"] == 2
    stale = api.patch(f"segments/{segment.pk}", {"name": "Late", "edit_version": version})
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["field"] == "edit_version"

    assert api.delete(f"segments/{segment.pk}").status_code == 204
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert api.get(f"segments/{segment.pk}").status_code == 404


def _screen_message(**kwargs) -> str:
    """What the screens (the same service) say for this input."""
    with pytest.raises(services.SegmentError) as error, transaction.atomic():
        services.segment_create(**kwargs)
    return str(error.value)


def test_the_same_errors_as_the_screens(api, community):
    services.segment_create(community=community, name="Board", kind="manual")
    cases = [
        ({"name": "board", "kind": "manual"}, "name"),
        ({"name": "  ", "kind": "manual"}, "name"),
        ({"name": "X", "kind": "manual", "rule": {"all": []}}, "rule"),
        ({"name": "X", "kind": "smart"}, "rule"),
        (
            {
                "name": "X",
                "kind": "smart",
                "rule": {"all": [{"field": "shoe_size", "op": "is", "value": "9"}]},
            },
            "rule",
        ),
        (
            {
                "name": "X",
                "kind": "smart",
                "rule": {"all": [{"field": "segment", "op": "in", "value": 99999}]},
            },
            "rule",
        ),
    ]
    for payload, field in cases:
        response = api.post("segments", payload)
        assert response.status_code == 422, payload
        errors = response.json()["errors"]
        assert [e["field"] for e in errors] == [field]
        expected = _screen_message(community=community, **payload)
        assert errors[0]["message"] == expected == response.json()["detail"]
    for payload, field in [
        ({"name": "X", "kind": "sometimes"}, "kind"),
        ({"name": "X", "kind": "manual", "color": "pink"}, "color"),
        ({"name": "X", "kind": "manual", "review_every_days": 0}, "review_every_days"),
        ({"name": "X", "kind": "manual", "colour": "blue"}, "colour"),
        ({"name": "x" * 101, "kind": "manual"}, "name"),
    ]:
        response = api.post("segments", payload)
        assert response.status_code == 422
        assert field in [e["field"] for e in response.json()["errors"]]
    assert Segment.objects.filter(community=community).count() == 1


def test_a_referred_segment_cannot_be_deleted_and_cycles_are_refused(api, community):
    base = services.segment_create(community=community, name="Base", kind="manual")
    smart = api.post(
        "segments",
        {
            "name": "Reads base",
            "kind": "smart",
            "rule": {"all": [{"field": "segment", "op": "in", "value": base.pk}]},
        },
    ).json()
    assert smart["rule_text"] == "In segment Base"
    refused = api.delete(f"segments/{base.pk}")
    assert refused.status_code == 409
    assert "used in the rules of Reads base" in refused.json()["detail"]
    circle = api.patch(
        f"segments/{smart['id']}",
        {"rule": {"all": [{"field": "segment", "op": "in", "value": smart["id"]}]}},
    )
    assert circle.status_code == 422 and "circle" in circle.json()["errors"][0]["message"]


def test_add_and_remove_members_of_a_manual_segment(api, community, other_community):
    board = services.segment_create(community=community, name="Board", kind="manual")
    ada = MemberFactory(community=community, email="ada@example.org")
    bob = MemberFactory(community=community)
    theirs = MemberFactory(community=other_community, email="them@example.org")
    added = api.post(
        f"segments/{board.pk}/members",
        {"member_ids": [bob.pk, theirs.pk], "emails": ["ADA@example.org", "them@example.org"]},
    )
    assert added.status_code == 200
    assert added.json() == {
        "added": sorted([ada.pk, bob.pk]),
        "already": [],
        "unknown_member_ids": [theirs.pk],
        "unknown_emails": ["them@example.org"],
    }
    assert set(SegmentMembership.objects.filter(segment=board).values_list("via", flat=True)) == {
        "api"
    }
    again = api.post(f"segments/{board.pk}/members", {"member_ids": [bob.pk]}).json()
    assert again["already"] == [bob.pk] and again["added"] == []
    board.refresh_from_db()
    assert board.member_count == 2

    page = api.get(f"segments/{board.pk}/members").json()
    assert [m["id"] for m in page["items"]] == sorted([ada.pk, bob.pk])
    assert {m["via"] for m in page["items"]} == {"api"}

    removed = api.delete(f"segments/{board.pk}/members", {"emails": ["ada@example.org"]})
    assert removed.json() == {"removed": [ada.pk]}
    board.refresh_from_db()
    assert board.member_count == 1
    ledger = MembershipChange.objects.filter(segment=board).values_list("member_id", "change")
    assert sorted(ledger) == sorted([(ada.pk, "entered"), (bob.pk, "entered"), (ada.pk, "left")])


def test_a_smart_segments_members_are_its_rules(api, community):
    smart = services.segment_create(community=community, name="S", kind="smart", rule={"all": []})
    member = MemberFactory(community=community)
    for method in ("post", "delete"):
        response = getattr(api, method)(f"segments/{smart.pk}/members", {"member_ids": [member.pk]})
        assert response.status_code == 409
        assert "smart segment" in response.json()["detail"]


def test_segment_members_in_pages(api, community):
    from segments.refresh import refresh_segment

    members = [MemberFactory(community=community, company_name="Acme") for _ in range(5)]
    MemberFactory(community=community, company_name="Other")
    smart = services.segment_create(community=community, **SMART)
    refresh_segment(smart.pk)
    first = api.get(f"segments/{smart.pk}/members", query={"limit": 2}).json()
    assert [m["id"] for m in first["items"]] == [m.pk for m in members[:2]]
    assert first["items"][0]["via"] == "rule" and first["items"][0]["entered_at"]
    other_segment = services.segment_create(community=community, name="Other", kind="manual")
    wrong = api.get(f"segments/{other_segment.pk}/members", query={"cursor": first["next"]})
    assert wrong.status_code == 422  # a cursor of another segment's list
