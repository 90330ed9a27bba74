"""The Django admin of segments: the changelist, the "Refresh now" action, refresh errors."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from segments import services
from segments.models import Segment, SegmentMembership
from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:segments_segment_changelist")


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _smart(community, name, company):
    rule = {"all": [{"field": "company_name", "op": "is", "value": company}]}
    return services.segment_create(community=community, name=name, kind="smart", rule=rule)


def test_the_changelist_loads_and_shows_refresh_errors(admin_client, community, other_community):
    ok = _smart(community, "Acme people", "Acme")
    broken = _smart(other_community, "Broken rule", "Globex")
    Segment.objects.filter(pk=broken.pk).update(refresh_error="The rule is not valid: oops")
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert ok.name in body and broken.name in body
    assert "The rule is not valid: oops" in body
    assert admin_client.get(reverse("admin:segments_segment_change", args=[ok.pk])).status_code == (
        200
    )


def test_refresh_now_refreshes_smart_segments_and_reports(admin_client, community):
    acme = {MemberFactory(community=community, company_name="Acme").pk for _ in range(3)}
    MemberFactory(community=community, company_name="Globex")
    segment = _smart(community, "Acme people", "Acme")
    broken = _smart(community, "Broken", "Globex")
    Segment.objects.filter(pk=broken.pk).update(rule={"all": [{"field": "nope", "op": "is"}]})
    hand = services.segment_create(community=community, name="Hand", kind="manual")
    response = admin_client.post(
        CHANGELIST,
        {"action": "refresh_now", "_selected_action": [segment.pk, broken.pk, hand.pk]},
    )
    assert response.status_code == 302
    texts = sorted(str(message) for message in get_messages(response.wsgi_request))
    assert "Acme people: 3 entered, 0 left." in texts
    assert any(text.startswith("Broken: ") and "nope" in text for text in texts)
    assert "1 manual segment(s) left alone: they have no rule." in texts
    assert (
        set(SegmentMembership.objects.filter(segment=segment).values_list("member_id", flat=True))
        == acme
    )
    stored = Segment.objects.get(pk=segment.pk)
    assert (stored.member_count, stored.refresh_error) == (3, "")
    assert stored.refreshed_at is not None
    assert "nope" in Segment.objects.get(pk=broken.pk).refresh_error


def test_the_ledger_is_read_only(admin_client):
    response = admin_client.get(reverse("admin:segments_membershipchange_add"))
    assert response.status_code == 403


def test_refresh_now_that_changes_a_segment_enqueues_the_segments_reading_it(
    admin_client, community, celery_calls, django_capture_on_commit_callbacks
):
    MemberFactory(community=community, company_name="Acme")
    acme = _smart(community, "Acme people", "Acme")
    reader = services.segment_create(
        community=community,
        name="In Acme people",
        kind="smart",
        rule={"all": [{"field": "segment", "op": "in", "value": acme.pk}]},
    )
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, {"action": "refresh_now", "_selected_action": [acme.pk]})
    assert [(name, args[:2]) for name, args, _kw, _opts in celery_calls] == [
        ("segments.tasks.refresh_segment_task", (community.pk, reader.pk))
    ]
    celery_calls.clear()  # a second refresh changes nothing, so nothing follows
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(CHANGELIST, {"action": "refresh_now", "_selected_action": [acme.pk]})
    assert celery_calls == []
