"""POST /api/v1/activities: batches, idempotent by (source, external_id), all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction

from engagement.models import Activity
from tests.factories import IdentityFactory, MemberFactory


def _activity(**fields):
    return {"kind": "message", "occurred_at": "2025-03-01T10:00:00Z", **fields}


def test_a_batch_is_added_once(
    api, community, celery_calls, django_capture_on_commit_callbacks, monkeypatch
):
    ada = MemberFactory(community=community, email="ada@example.org", last_seen_at=None)
    IdentityFactory(member=ada, source="slack", external_id="U1")
    changed = []
    from members.signals import members_changed

    def receiver(sender, community, member_ids, **kwargs):
        changed.append(set(member_ids))

    members_changed.connect(receiver, weak=False, dispatch_uid="test-api-activities")
    try:
        batch = {
            "activities": [
                _activity(member={"source": "slack", "external_id": "U1"}, external_id="m-1"),
                _activity(
                    member_email="ADA@example.org",
                    external_id="m-2",
                    kind="post",
                    url="https://example.org/p/2",
                    channel="#general",
                    title="Hello",
                ),
                _activity(member_email="ada@example.org", external_id="m-2"),  # a repeat
            ]
        }
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post("activities", batch)
        assert response.status_code == 200, response.json()
        assert response.json() == {"created": 2, "unchanged": 1}
        assert changed == [{ada.pk}]  # the changed-members refresh
        assert ("engagement.tasks.score_community_task", (community.pk,)) in [
            (name, args) for name, args, _, _ in celery_calls
        ]
        stored = Activity.objects.filter(community=community).order_by("external_id")
        assert [(a.external_id, a.kind.slug, a.source) for a in stored] == [
            ("m-1", "message", "api"),
            ("m-2", "post", "api"),
        ]
        ada.refresh_from_db()
        assert ada.last_seen_at == datetime(2025, 3, 1, 10, tzinfo=UTC)

        celery_calls.clear()
        with django_capture_on_commit_callbacks(execute=True):
            again = api.post("activities", batch)
        assert again.json() == {"created": 0, "unchanged": 3}
        assert Activity.objects.filter(community=community).count() == 2
        assert not [c for c in celery_calls if c[0] == "engagement.tasks.score_community_task"]
    finally:
        members_changed.disconnect(dispatch_uid="test-api-activities")


def test_an_unknown_member_or_kind_refuses_the_whole_batch(api, community):
    MemberFactory(community=community, email="ada@example.org")
    batch = {
        "activities": [
            _activity(member_email="ada@example.org", external_id="ok"),
            _activity(member_email="nobody@example.org", external_id="x"),
            _activity(member={"source": "slack", "external_id": "U9"}, external_id="y"),
        ]
    }
    response = api.post("activities", batch)
    assert response.status_code == 422
    fields = [error["field"] for error in response.json()["errors"]]
    assert fields == ["activities[1].member_email", "activities[2].member"]
    assert not Activity.objects.filter(community=community).exists()

    bad_kind = api.post(
        "activities", {"activities": [_activity(kind="posted", member_email="ada@example.org")]}
    )
    assert bad_kind.status_code == 422
    assert bad_kind.json()["errors"][0]["field"] == "activities[0].kind"
    assert "known kinds" in bad_kind.json()["errors"][0]["message"]


def test_batch_limits_and_shapes(api, community):
    MemberFactory(community=community, email="ada@example.org")
    one = _activity(member_email="ada@example.org")
    cases = [
        ({"activities": []}, "activities"),
        ({"activities": [one] * 1001}, "activities"),
        ({"activities": [{**one, "member_email": None}]}, "activities[0]"),
        ({"activities": [{**one, "url": "javascript:alert(1)"}]}, "activities[0].url"),
        ({"activities": [{**one, "occurred_at": "yesterday"}]}, "activities[0].occurred_at"),
        (
            {"activities": [{**one, "occurred_at": "0001-01-01T00:00:00+01:00"}]},
            "activities[0].occurred_at",
        ),
        ({"activities": [{**one, "title": "x" * 501}]}, "activities[0].title"),
        ({"activities": [{**one, "colour": "red"}]}, "activities[0].colour"),
    ]
    for body, field in cases:
        response = api.post("activities", body)
        assert response.status_code == 422, body
        assert field in [e["field"] for e in response.json()["errors"]], (field, response.json())
    with transaction.atomic():
        assert api.post("activities", {"activities": [one] * 1000}).json()["created"] == 1000


def test_a_body_past_the_upload_limit_is_a_413_problem(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = {"activities": [{"kind": "message", "occurred_at": "2025-01-01", "title": "x" * 2_000}]}
    response = api.post("activities", body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert "larger than 1,000 bytes" in response.json()["detail"]
