"""segments/tasks.py and segments/signals.py: the task functions called directly (no eager
mode), what each trigger enqueues (the autouse `celery_calls` fixture records it), and one
real worker process on the real broker."""

import io
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from engagement.scoring import score_community
from members.importing import import_members
from members.models import Member
from members.signals import members_changed
from segments import refresh, services, tasks
from segments.models import Segment, SegmentMembership
from tests.factories import CommunityFactory, IdentityFactory, MemberFactory
from tests.worker import celery_worker

pytestmark = pytest.mark.django_db

REFRESH = "segments.tasks.refresh_segment_task"
MEMBERS = "segments.tasks.refresh_members_task"
ACME = {"all": [{"field": "company_name", "op": "is", "value": "Acme"}]}


def smart(community, name, rule=ACME):
    return services.segment_create(community=community, name=name, kind="smart", rule=rule)


def in_segment(segment, op="in"):
    return {"all": [{"field": "segment", "op": op, "value": segment.pk}]}


def members_of(segment):
    return set(
        SegmentMembership.objects.filter(segment=segment).values_list("member_id", flat=True)
    )


def refreshes(calls):
    return [args[:2] for name, args, _, _ in calls if name == REFRESH]


# --- refresh_segment_task ------------------------------------------------------------------------


def test_the_task_refreshes_and_returns_the_counts(community):
    acme = MemberFactory(community=community, company_name="Acme")
    segment = smart(community, "Acme")
    assert tasks.refresh_segment_task.run(community.pk, segment.pk) == (1, 0)
    assert members_of(segment) == {acme.pk}


def test_the_task_skips_a_segment_of_another_community(community, other_community):
    MemberFactory(community=community, company_name="Acme")
    segment = smart(community, "Acme")
    assert tasks.refresh_segment_task.run(other_community.pk, segment.pk) is None
    segment.refresh_from_db()
    assert (segment.refreshed_at, segment.member_count, members_of(segment)) == (None, 0, set())


def test_the_task_skips_a_gone_segment(community):
    assert tasks.refresh_segment_task.run(community.pk, 2_000_000_000) is None


def test_requests_older_than_the_last_refresh_coalesce(community):
    segment = smart(community, "Acme")
    refreshed_at = timezone.now() - timedelta(minutes=5)
    refresh.refresh_segment(segment.pk, as_of=refreshed_at)
    acme = MemberFactory(community=community, company_name="Acme")

    requested = (refreshed_at - timedelta(seconds=1)).isoformat()
    assert tasks.refresh_segment_task.run(community.pk, segment.pk, requested) == (0, 0)
    segment.refresh_from_db()
    assert (segment.refreshed_at, members_of(segment)) == (refreshed_at, set())

    # A request at the very instant of the last refresh is covered by it too.
    assert tasks.refresh_segment_task.run(community.pk, segment.pk, refreshed_at.isoformat()) == (
        0,
        0,
    )
    # A request made after the last refresh started is carried out.
    requested = (refreshed_at + timedelta(seconds=1)).isoformat()
    assert tasks.refresh_segment_task.run(community.pk, segment.pk, requested) == (1, 0)
    segment.refresh_from_db()
    assert members_of(segment) == {acme.pk}
    assert segment.refreshed_at > refreshed_at


def test_a_database_failure_makes_the_task_retry(community):
    segment = smart(community, "Acme")
    failure = OperationalError("could not connect to server")
    with (
        mock.patch("segments.refresh._apply_rule", side_effect=failure),
        mock.patch.object(tasks.refresh_segment_task, "retry", side_effect=Retry()) as retry,
        pytest.raises(Retry),
    ):
        tasks.refresh_segment_task.run(community.pk, segment.pk)
    retry.assert_called_once()
    error = retry.call_args.kwargs["exc"]
    assert isinstance(error, refresh.RefreshError) and error.retryable
    assert 4 <= retry.call_args.kwargs["countdown"] <= 6  # the first backoff: 5 s, jittered
    assert "OperationalError" in Segment.objects.get(pk=segment.pk).refresh_error


def test_an_invalid_rule_is_not_retried(community):
    segment = smart(community, "Acme")
    Segment.objects.filter(pk=segment.pk).update(rule={"all": [{"field": "nope", "op": "is"}]})
    with mock.patch.object(tasks.refresh_segment_task, "retry") as retry:
        assert tasks.refresh_segment_task.run(community.pk, segment.pk) is None
    retry.assert_not_called()
    assert "not valid" in Segment.objects.get(pk=segment.pk).refresh_error


def test_backoff_grows_and_is_capped():
    assert 4 <= tasks._backoff(0) <= 6
    assert 32 <= tasks._backoff(3) <= 48
    assert 480 <= tasks._backoff(20) <= 720


def test_a_changed_refresh_enqueues_the_dependents(community, celery_calls):
    MemberFactory(community=community, company_name="Acme")
    acme = smart(community, "Acme")
    direct = smart(community, "In Acme", in_segment(acme))
    indirect = smart(community, "Not in In Acme", in_segment(direct, "not_in"))
    unrelated = smart(community, "Unrelated")
    celery_calls.clear()
    tasks.refresh_segment_task.run(community.pk, acme.pk)
    assert refreshes(celery_calls) == [(community.pk, direct.pk), (community.pk, indirect.pk)]
    assert unrelated.pk not in {pk for _, pk in refreshes(celery_calls)}

    celery_calls.clear()
    assert tasks.refresh_segment_task.run(community.pk, acme.pk) == (0, 0)
    assert celery_calls == []  # nothing changed: the dependents are still right


def test_refresh_members_task(community, other_community):
    ada = MemberFactory(community=community, company_name="Acme")
    segment = smart(community, "Acme")
    assert tasks.refresh_members_task.run(community.pk, [ada.pk]) == 1
    assert members_of(segment) == {ada.pk}
    assert Segment.objects.get(pk=segment.pk).member_count == 1
    assert tasks.refresh_members_task.run(2_000_000_000, [ada.pk]) is None
    # Ids of another community's members are ignored.
    outsider = MemberFactory(community=other_community, company_name="Acme")
    assert tasks.refresh_members_task.run(community.pk, [outsider.pk]) == 0
    assert members_of(segment) == {ada.pk}


def test_refresh_members_task_retries_a_database_failure(community):
    ada = MemberFactory(community=community, company_name="Acme")
    smart(community, "Acme")
    with (
        mock.patch("segments.refresh._apply_rule", side_effect=OperationalError("gone")),
        mock.patch.object(tasks.refresh_members_task, "retry", side_effect=Retry()) as retry,
        pytest.raises(Retry),
    ):
        tasks.refresh_members_task.run(community.pk, [ada.pk])
    retry.assert_called_once()


# --- sweep_segments and beat ---------------------------------------------------------------------


def test_sweep_enqueues_exactly_the_stale_smart_segments(community, celery_calls):
    now = timezone.now()
    slow = CommunityFactory(slug="slow", segment_refresh_interval=timedelta(hours=1))
    never = smart(community, "Never refreshed")
    fresh = smart(community, "Fresh")
    old = smart(community, "Old")
    hand = services.segment_create(community=community, name="Hand", kind="manual")
    slow_fresh = smart(slow, "Twenty minutes is fine here")
    slow_old = smart(slow, "Two hours is not")
    for segment, age in [
        (fresh, timedelta(minutes=1)),
        (old, timedelta(minutes=16)),
        (hand, timedelta(days=9)),
        (slow_fresh, timedelta(minutes=20)),
        (slow_old, timedelta(hours=2)),
    ]:
        Segment.objects.filter(pk=segment.pk).update(refreshed_at=now - age)
    celery_calls.clear()

    assert tasks.sweep_segments() == 3

    assert sorted(refreshes(celery_calls)) == sorted(
        [(community.pk, never.pk), (community.pk, old.pk), (slow.pk, slow_old.pk)]
    )
    assert all(options == {"expires": tasks.SWEEP_EXPIRES} for *_, options in celery_calls)
    requested = {datetime.fromisoformat(args[2]) for _, args, _, _ in celery_calls}
    assert len(requested) == 1 and now <= requested.pop() <= timezone.now()


def test_the_beat_schedule_sweeps_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-segments"]
    assert entry["task"] == "segments.tasks.sweep_segments"
    assert entry["schedule"] == timedelta(minutes=1)
    assert 0 < entry["options"]["expires"] <= 60


# --- Triggers ------------------------------------------------------------------------------------


def test_creating_and_editing_a_rule_enqueue_on_commit_only(
    community, celery_calls, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        segment = smart(community, "Acme")
        manual = services.segment_create(community=community, name="Hand", kind="manual")
    assert celery_calls == []  # not before the commit
    for callback in callbacks:
        callback()
    assert refreshes(celery_calls) == [(community.pk, segment.pk)]
    assert manual.pk not in {pk for _, pk in refreshes(celery_calls)}

    celery_calls.clear()
    with django_capture_on_commit_callbacks() as callbacks:
        services.segment_update(
            segment=segment, rule={"all": [{"field": "city", "op": "is", "value": "Austin"}]}
        )
    assert celery_calls == []
    for callback in callbacks:
        callback()
    assert refreshes(celery_calls) == [(community.pk, segment.pk)]
    _, args, _, _ = celery_calls[0]
    assert datetime.fromisoformat(args[2]) <= timezone.now()

    # Edits that leave the rule alone enqueue nothing.
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.segment_update(segment=segment, description="Austin folks", pinned=True)
        services.segment_update(
            segment=segment, rule={"all": [{"field": "city", "op": "is", "value": " Austin "}]}
        )
    assert celery_calls == []


def test_a_rolled_back_change_enqueues_nothing(
    community, celery_calls, django_capture_on_commit_callbacks
):
    segment = smart(community, "Acme")
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                smart(community, "Doomed")
                services.segment_update(segment=segment, rule=in_segment(segment))
        except services.SegmentError:
            pass
        try:
            with transaction.atomic():
                smart(community, "Also doomed")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert callbacks == []
    assert celery_calls == []
    assert not Segment.objects.filter(name__endswith="oomed").exists()


def test_members_changed_enqueues_the_fast_path(
    community, celery_calls, django_capture_on_commit_callbacks
):
    members = [MemberFactory(community=community) for _ in range(3)]
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ids = [members[2].pk, members[0].pk, members[2].pk]
        members_changed.send(Member, community=community, member_ids=ids)
    assert celery_calls == [
        (MEMBERS, (community.pk, sorted({members[0].pk, members[2].pk})), {}, {})
    ]


def test_an_import_enqueues_the_fast_path_for_the_written_members(
    community, celery_calls, django_capture_on_commit_callbacks
):
    kept = MemberFactory(community=community, email="kept@example.org")
    celery_calls.clear()
    csv = b"name,email,company_name\nAda,ada@example.org,Acme\nKept,KEPT@example.org,Acme\n"
    with django_capture_on_commit_callbacks(execute=True):
        report = import_members(community=community, file=io.BytesIO(csv))
    assert not report.errors
    ada = Member.objects.get(email="ada@example.org")
    fast = [args for name, args, _, _ in celery_calls if name == MEMBERS]
    assert fast == [(community.pk, sorted([ada.pk, kept.pk]))]


def test_many_changed_members_refresh_every_smart_segment_instead(
    community, celery_calls, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks, "FAST_PATH_LIMIT", 3)
    first, second = smart(community, "First"), smart(community, "Second")
    services.segment_create(community=community, name="Hand", kind="manual")
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        members_changed.send(Member, community=community, member_ids=[1, 2, 3])
    assert [name for name, *_ in celery_calls] == [MEMBERS]
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        members_changed.send(Member, community=community, member_ids=[1, 2, 3, 4])
    assert sorted(refreshes(celery_calls)) == [(community.pk, first.pk), (community.pk, second.pk)]
    assert len(celery_calls) == 2

    # A rule reading First, though first in pill order, is enqueued after it.
    reader = smart(community, "In First", in_segment(first))
    services.segment_reorder(community=community, segment_ids=[reader.pk])
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        members_changed.send(Member, community=community, member_ids=[1, 2, 3, 4])
    order = [pk for _community, pk in refreshes(celery_calls)]
    assert sorted(order) == sorted([first.pk, second.pk, reader.pk])
    assert order.index(first.pk) < order.index(reader.pk)


def test_saving_a_member_or_an_identity_enqueues_the_fast_path(
    community, celery_calls, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        member = MemberFactory(community=community)
    assert celery_calls == [(MEMBERS, (community.pk, [member.pk]), {}, {})]
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        IdentityFactory(member=member, source="slack")
    assert celery_calls == [(MEMBERS, (community.pk, [member.pk]), {}, {})]


def test_scoring_enqueues_only_the_segments_that_read_scores(
    community, celery_calls, django_capture_on_commit_callbacks
):
    MemberFactory(community=community)
    superusers = smart(
        community, "Super", {"all": [{"field": "impact_score", "op": "gt", "value": 2}]}
    )
    nested = smart(
        community,
        "Nested",
        {
            "any": [
                {"field": "city", "op": "is", "value": "Austin"},
                {"all": [{"field": "active_days_90", "op": "gte", "value": 5}]},
            ]
        },
    )
    smart(community, "Acme")
    smart(community, "Refers to super", in_segment(superusers))
    services.segment_create(community=community, name="Hand", kind="manual")
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        score_community(community, as_of=datetime(2026, 3, 31, tzinfo=UTC))
    assert sorted(refreshes(celery_calls)) == [
        (community.pk, superusers.pk),
        (community.pk, nested.pk),
    ]


def test_manual_membership_changes_refresh_the_referrers(
    community, celery_calls, django_capture_on_commit_callbacks
):
    hand = services.segment_create(community=community, name="Hand", kind="manual")
    referrer = smart(community, "In hand", in_segment(hand))
    smart(community, "Acme")
    member = MemberFactory(community=community)
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.segment_add_members(segment=hand, members=[member])
    assert refreshes(celery_calls) == [(community.pk, referrer.pk)]
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.segment_remove_members(segment=hand, member_ids=[member.pk])
    assert refreshes(celery_calls) == [(community.pk, referrer.pk)]


# --- A real worker -------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_materializes_a_new_and_an_edited_segment(tmp_path):
    community = CommunityFactory(slug="segments-worker")
    acme = {MemberFactory(community=community, company_name="Acme").pk for _ in range(3)}
    globex = {MemberFactory(community=community, company_name="Globex").pk for _ in range(2)}
    with celery_worker(tmp_path) as worker:
        with transaction.atomic():  # the refresh is enqueued when this commits
            segment = smart(community, "Acme")
        worker.wait_for(lambda: members_of(segment) == acme)
        assert Segment.objects.get(pk=segment.pk).member_count == 3

        with transaction.atomic():
            services.segment_update(
                segment=segment,
                rule={"all": [{"field": "company_name", "op": "is", "value": "Globex"}]},
            )
        worker.wait_for(lambda: members_of(segment) == globex)
        worker.wait_for(lambda: Segment.objects.get(pk=segment.pk).member_count == 2, 10)
        stored = Segment.objects.get(pk=segment.pk)
        assert (stored.rule_version, stored.refresh_error) == (2, "")
        assert stored.changes.filter(change="left", rule_version=2).count() == 3
