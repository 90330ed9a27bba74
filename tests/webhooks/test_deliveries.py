"""Deliveries end to end: a real receiver on 127.0.0.1 gets signed requests whose changes are
exactly the ledger's rows, whatever the receiver's state meanwhile."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from members import jobs
from members.importing import import_members
from members.imports import get_importer
from members.models import ImportJob, Member
from segments import refresh
from segments import services as segment_services
from segments.models import MembershipChange
from tests.factories import MemberFactory
from tests.webhooks.conftest import changes_of
from webhooks import services
from webhooks.models import Delivery, Endpoint, Event, Outbox

RULE_ACME = {"all": [{"field": "company_name", "op": "is", "value": "Acme"}]}
RULE_GLOBEX = {"all": [{"field": "company_name", "op": "is", "value": "Globex"}]}


def _endpoint(community, url, events=(Event.MEMBER_ENTERED, Event.MEMBER_LEFT), **extra):
    return services.endpoint_create(community=community, url=url, events=events, **extra)


@pytest.fixture
def segment(community, django_capture_on_commit_callbacks):
    MemberFactory.create_batch(3, community=community, company_name="Acme")
    MemberFactory.create_batch(2, community=community, company_name="Globex")
    found = segment_services.segment_create(
        community=community, name="Customers", kind="smart", rule=RULE_ACME
    )
    refresh.refresh_segment(found.pk)
    return found


def _edit_rule(segment, rule, captured):
    """Edit the rule and run its refresh, as the task enqueued on commit would."""
    with captured(execute=True):
        segment_services.segment_update(segment=segment, rule=rule)
        refresh.refresh_segment(segment.pk)


def _new_ledger_rows(segment, after: int) -> list[MembershipChange]:
    return list(MembershipChange.objects.filter(segment=segment, pk__gt=after).order_by("pk"))


def _last_id() -> int:
    return MembershipChange.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_a_rule_edit_sends_its_joiners_and_leavers_exactly_as_the_ledger_has_them(
    community, segment, receiver, worker, django_capture_on_commit_callbacks
):
    endpoint = _endpoint(community, receiver.url)
    before = _last_id()

    _edit_rule(segment, RULE_GLOBEX, django_capture_on_commit_callbacks)
    worker()

    ledger = _new_ledger_rows(segment, before)
    assert sorted(row.change for row in ledger) == ["entered"] * 2 + ["left"] * 3
    payloads = receiver.payloads(endpoint.secret)  # each verified by standardwebhooks
    assert sorted(p["type"] for p in payloads) == [Event.MEMBER_ENTERED, Event.MEMBER_LEFT]
    sent = changes_of(payloads)
    assert [c["id"] for c in sorted(sent, key=lambda c: c["id"])] == [row.pk for row in ledger]
    by_id = {row.pk: row for row in ledger}
    for change in sent:
        row = by_id[change["id"]]
        member = Member.objects.get(pk=row.member_id)
        assert change["member"] == {"id": member.pk, "email": member.email, "name": member.name}
        assert change["segment"] == {"id": segment.pk, "name": "Customers"}
        assert change["change"] == row.change and change["via"] == "rule"
        assert change["rule_version"] == 2
        assert change["at"] == row.at.isoformat().replace("+00:00", "Z")
    for payload in payloads:
        kinds = {c["change"] for c in payload["data"]["changes"]}
        assert kinds == {"entered" if payload["type"] == Event.MEMBER_ENTERED else "left"}
    assert receiver.received[0].path == "/hooks?src=test"
    assert {d.status for d in Delivery.objects.all()} == {Delivery.Status.DELIVERED}
    assert not Outbox.objects.exists()


def test_one_delivery_carries_at_most_500_changes_in_ledger_order(
    community, receiver, worker, django_capture_on_commit_callbacks
):
    MemberFactory.create_batch(1_203, community=community, company_name="Acme")
    endpoint = _endpoint(community, receiver.url, events=[Event.MEMBER_ENTERED])
    with django_capture_on_commit_callbacks(execute=True):
        segment = segment_services.segment_create(
            community=community, name="Everyone at Acme", kind="smart", rule=RULE_ACME
        )
        refresh.refresh_segment(segment.pk)
    worker()

    payloads = receiver.payloads(endpoint.secret)
    assert [len(p["data"]["changes"]) for p in payloads] == [500, 500, 203]
    sent = [c["id"] for c in changes_of(payloads)]
    assert sent == list(
        MembershipChange.objects.filter(segment=segment).order_by("pk").values_list("pk", flat=True)
    )


def test_the_fast_path_of_changed_members_is_delivered_too(
    community, segment, receiver, worker, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("segments.refresh.SCOPE_AT_ONCE", 1)  # every rule in one statement
    endpoint = _endpoint(community, receiver.url)
    before = _last_id()
    moved = Member.objects.filter(community=community, company_name="Globex").first()
    Member.objects.filter(pk=moved.pk).update(company_name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        refresh.refresh_members(community, [moved.pk])
    worker()

    [row] = _new_ledger_rows(segment, before)
    [payload] = receiver.payloads(endpoint.secret)
    assert payload["type"] == Event.MEMBER_ENTERED
    assert [c["id"] for c in payload["data"]["changes"]] == [row.pk]
    assert payload["data"]["changes"][0]["member"]["id"] == moved.pk


def test_members_added_and_removed_by_hand_are_delivered_as_the_ledger_has_them(
    community, receiver, worker, django_capture_on_commit_callbacks
):
    people = MemberFactory.create_batch(3, community=community)
    manual = segment_services.segment_create(community=community, name="Board", kind="manual")
    endpoint = _endpoint(community, receiver.url)
    before = _last_id()
    with django_capture_on_commit_callbacks(execute=True):
        segment_services.segment_add_members(segment=manual, members=people)
    with django_capture_on_commit_callbacks(execute=True):
        segment_services.segment_remove_members(segment=manual, member_ids=[people[0].pk])
    worker()

    ledger = _new_ledger_rows(manual, before)
    assert [row.change for row in ledger] == ["entered"] * 3 + ["left"]
    payloads = receiver.payloads(endpoint.secret)
    assert [p["type"] for p in payloads] == [Event.MEMBER_ENTERED, Event.MEMBER_LEFT]
    assert [c["id"] for c in changes_of(payloads)] == [row.pk for row in ledger]
    assert {c["via"] for c in changes_of(payloads)} == {"manual"}


def test_the_segment_filter_and_the_events_choose_what_an_endpoint_gets(
    community, segment, receiver, worker, django_capture_on_commit_callbacks
):
    other = segment_services.segment_create(
        community=community, name="Globex people", kind="smart", rule=RULE_GLOBEX
    )
    refresh.refresh_segment(other.pk)
    only_left = _endpoint(community, receiver.url, events=[Event.MEMBER_LEFT], segments=[segment])

    _edit_rule(segment, RULE_GLOBEX, django_capture_on_commit_callbacks)
    _edit_rule(other, RULE_ACME, django_capture_on_commit_callbacks)
    worker()

    payloads = receiver.payloads(only_left.secret)
    assert [p["type"] for p in payloads] == [Event.MEMBER_LEFT]
    assert {c["segment"]["id"] for c in changes_of(payloads)} == {segment.pk}
    assert len(changes_of(payloads)) == 3


def test_with_the_receiver_down_every_change_arrives_once_it_is_back(
    community, segment, down_receiver, worker, django_capture_on_commit_callbacks
):
    endpoint = _endpoint(community, down_receiver.url)
    before = _last_id()
    start = timezone.now()

    _edit_rule(segment, RULE_GLOBEX, django_capture_on_commit_callbacks)
    worker(now=start)  # the first attempts: connection refused
    deliveries = list(Delivery.objects.order_by("pk"))
    assert len(deliveries) == 2
    for delivery in deliveries:
        assert (delivery.status, delivery.attempts) == (Delivery.Status.PENDING, 1)
        assert delivery.last_error == "Connection refused."
        assert delivery.next_attempt_at == start + timedelta(seconds=5)

    # Still down for the next two retries (5 s, then 20 s later), driven by the sweep.
    for now in (start + timedelta(seconds=6), start + timedelta(seconds=30)):
        with django_capture_on_commit_callbacks(execute=True):
            assert services.sweep(now=now)["due"] == 2
        worker(now=now)
    assert [d.attempts for d in Delivery.objects.order_by("pk")] == [3, 3]

    down_receiver.up()
    later = start + timedelta(minutes=3)
    with django_capture_on_commit_callbacks(execute=True):
        services.sweep(now=later)
    worker(now=later)

    # A lost acknowledgement, replayed: "Send again" sends the same webhook-id.
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_resend(delivery=deliveries[0], now=later)
    worker(now=later)

    received = down_receiver.received
    assert len(received) == 3
    assert {r.webhook_id for r in received} == {d.message_id for d in deliveries}
    unique = {r.webhook_id: r.verified(endpoint.secret) for r in received}  # deduplicated
    sent = sorted(c["id"] for c in changes_of(list(unique.values())))
    assert sent == [row.pk for row in _new_ledger_rows(segment, before)]
    assert all(d.status == Delivery.Status.DELIVERED for d in Delivery.objects.all())
    assert [d.attempts for d in Delivery.objects.order_by("pk")] == [5, 4]


def test_a_lost_task_is_sent_by_the_sweep(community, segment, receiver, worker, celery_calls):
    """The on-commit tasks never ran (the broker lost them): the sweep finds the outbox row,
    then the due delivery."""
    endpoint = _endpoint(community, receiver.url)
    segment_services.segment_update(segment=segment, rule=RULE_GLOBEX)
    refresh.refresh_segment(segment.pk)  # no on-commit callbacks run: nothing is enqueued
    assert Outbox.objects.count() == 1
    assert not [c for c in celery_calls if c[0].startswith("webhooks.")]

    soon = timezone.now() + timedelta(minutes=1)
    services.sweep(now=soon)  # expands the row; its deliveries are due at once
    assert Delivery.objects.count() == 2 and not Outbox.objects.exists()
    services.sweep(now=soon)
    worker(now=soon)
    assert len(changes_of(receiver.payloads(endpoint.secret))) == 5


def test_an_attempt_in_flight_is_not_sent_twice(community, segment, receiver, worker):
    _endpoint(community, receiver.url)
    segment_services.segment_update(segment=segment, rule=RULE_GLOBEX)
    refresh.refresh_segment(segment.pk)
    now = timezone.now() + timedelta(minutes=1)
    services.sweep(now=now)
    delivery = Delivery.objects.order_by("pk").first()
    assert services.delivery_attempt(delivery.pk, now=now) is not None
    assert services.delivery_attempt(delivery.pk, now=now) is None  # delivered already
    assert len([r for r in receiver.received if r.webhook_id == delivery.message_id]) == 1


def test_after_24_hours_of_failures_the_endpoint_is_switched_off(
    community, segment, down_receiver, worker, django_capture_on_commit_callbacks
):
    endpoint = _endpoint(community, down_receiver.url)
    start = timezone.now()
    _edit_rule(segment, RULE_GLOBEX, django_capture_on_commit_callbacks)
    worker(now=start)
    delivery = Delivery.objects.order_by("pk").first()
    times = [start]
    now = start
    for _ in range(30):  # a bound, should the schedule never end
        delivery.refresh_from_db()
        if delivery.status != Delivery.Status.PENDING:
            break
        now = delivery.next_attempt_at
        with django_capture_on_commit_callbacks(execute=True):
            services.sweep(now=now)
        worker(now=now)
        times.append(now)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert gaps[:6] == [5, 20, 80, 320, 1280, 5120]  # exponential
    assert times[-1] == start + timedelta(hours=24)  # the last try at the 24-hour mark
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == len(times) == 11
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "failed for 24 hours" in endpoint.disabled_reason
    assert "Connection refused" in endpoint.disabled_reason

    # Nothing more is tried while it is off, even for the other pending delivery.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep(now=now + timedelta(hours=1))["due"] == 0

    # Switched on with the receiver back: the waiting delivery goes at once.
    down_receiver.up()
    with django_capture_on_commit_callbacks(execute=True):
        services.endpoint_update(endpoint=endpoint, enabled=True, now=now + timedelta(hours=2))
    worker(now=now + timedelta(hours=2))
    assert [p["type"] for p in down_receiver.payloads(endpoint.secret)] == [
        Delivery.objects.exclude(pk=delivery.pk).get().event
    ]


def test_redirects_are_not_followed_and_the_response_read_is_bounded(
    community, segment, receiver, worker, django_capture_on_commit_callbacks
):
    receiver.answer = (302, b"x" * 100_000, {"Location": "http://169.254.169.254/"})
    _endpoint(community, receiver.url, events=[Event.MEMBER_LEFT])
    _edit_rule(segment, RULE_GLOBEX, django_capture_on_commit_callbacks)
    worker()
    [delivery] = Delivery.objects.all()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_status_code == 302
    assert delivery.last_error == "HTTP 302 (redirects are not followed)"
    assert len(delivery.last_response) == 1024
    assert len(receiver.received) == 1


def test_signatures_verify_with_standardwebhooks_and_a_rotation_signs_with_both(
    community, segment, receiver, worker, django_capture_on_commit_callbacks
):
    endpoint = _endpoint(community, receiver.url, events=[Event.MEMBER_LEFT])
    assert endpoint.secret.startswith("whsec_")
    old = endpoint.secret
    services.endpoint_rotate_secret(endpoint=endpoint)
    _edit_rule(segment, RULE_GLOBEX, django_capture_on_commit_callbacks)
    worker()
    [request] = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert Webhook(old).verify(request.body, request.headers) == payload
    assert payload["community"] == {"id": community.pk, "slug": "acme"}
    tampered = request.body.replace(b'"left"', b'"entered"')
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(tampered, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(services.new_secret()).verify(request.body, request.headers)


def test_members_created_are_announced_once(
    community, receiver, worker, django_capture_on_commit_callbacks
):
    existing = MemberFactory(community=community, email="old@example.org")
    endpoint = _endpoint(community, receiver.url, events=[Event.MEMBER_CREATED])
    csv = (
        b"email,name\nold@example.org,Old Renamed\n"
        b"new1@example.org,New One\nnew2@example.org,New Two\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        import_members(community=community, file=io.BytesIO(csv))
    with django_capture_on_commit_callbacks(execute=True):
        alone = Member.objects.create(community=community, email="alone@example.org")
    with django_capture_on_commit_callbacks(execute=True):  # updates the one made alone
        import_members(
            community=community, file=io.BytesIO(b"email,city\nalone@example.org,Oslo\n")
        )
    worker()

    payloads = receiver.payloads(endpoint.secret)
    assert [p["type"] for p in payloads] == [Event.MEMBER_CREATED] * 2
    emails = [[m["email"] for m in p["data"]["members"]] for p in payloads]
    assert emails == [["new1@example.org", "new2@example.org"], ["alone@example.org"]]
    assert existing.email not in str(emails)
    assert payloads[1]["data"]["members"][0]["id"] == alone.pk


def test_import_finished_is_delivered(
    community, receiver, worker, django_capture_on_commit_callbacks
):
    endpoint = _endpoint(community, receiver.url, events=[Event.IMPORT_FINISHED])
    job = jobs.job_for_command(
        community=community, importer=get_importer("members"), file_name="crm.csv", size=40
    )
    with django_capture_on_commit_callbacks(execute=True):
        jobs.job_execute(job, io.BytesIO(b"email,name\nann@example.org,Ann\n"))
    worker()
    [payload] = receiver.payloads(endpoint.secret)
    assert payload["type"] == Event.IMPORT_FINISHED
    about = payload["data"]["import"]
    assert (about["id"], about["status"], about["created"]) == (job.pk, ImportJob.Status.DONE, 1)
    assert about["file_name"] == "crm.csv" and about["imported"] is True


def test_nothing_is_recorded_for_a_community_without_endpoints(community, segment):
    Endpoint.objects.all().delete()
    segment_services.segment_update(segment=segment, rule=RULE_GLOBEX)
    refresh.refresh_segment(segment.pk)
    MemberFactory(community=community)
    assert not Outbox.objects.exists()
