"""The membership tables carry no foreign-key checks (segments/locks.py): no row may outlive its
member or segment, even when the deletion meets a refresh or a manual add in flight.

The races need two connections, so most of these tests run threads on PostgreSQL; the last
ones hold on any database.
"""

import threading
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from segments import refresh as refresh_module
from segments import services
from segments.models import MembershipChange, Segment, SegmentMembership
from segments.refresh import refresh_members, refresh_segment
from tests.factories import CommunityFactory, MemberFactory

AS_OF = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
ACME = {"all": [{"field": "company_name", "op": "is", "value": "Acme"}]}


def orphans() -> tuple[int, int]:
    """Membership and ledger rows whose member or segment is gone."""
    with connection.cursor() as cursor:
        counts = []
        for table in ("segments_segmentmembership", "segments_membershipchange"):
            cursor.execute(
                f"""SELECT count(*) FROM {table} r
                WHERE NOT EXISTS (SELECT 1 FROM members_member m WHERE m.id = r.member_id)
                   OR NOT EXISTS (SELECT 1 FROM segments_segment s WHERE s.id = r.segment_id)"""  # noqa: S608
            )
            counts.append(cursor.fetchone()[0])
    return counts[0], counts[1]


def assert_counts_match_rows() -> None:
    for segment in Segment.objects.all():
        assert segment.member_count == SegmentMembership.objects.filter(segment=segment).count()


def acme_segment(slug: str, members: int = 5):
    """A community with `members` Acme members and the smart segment "Acme", not refreshed."""
    community = CommunityFactory(slug=slug)
    acme = [MemberFactory(community=community, company_name="Acme") for _ in range(members)]
    segment = services.segment_create(community=community, name="Acme", kind="smart", rule=ACME)
    return community, acme, segment


class Paused:
    """Runs `target` in a thread whose refresh stops, rows written but not committed, inside
    `_apply_rule` until released."""

    def __init__(self, target):
        self.written, self.release = threading.Event(), threading.Event()
        self.result = None
        original = refresh_module._apply_rule

        def apply_and_wait(*args, **kwargs):
            counts = original(*args, **kwargs)
            self.written.set()
            assert self.release.wait(timeout=20)
            return counts

        def run():
            try:
                with mock.patch.object(refresh_module, "_apply_rule", apply_and_wait):
                    self.result = target()
            except Exception as error:  # reported by the test
                self.result = error
            finally:
                connection.close()

        self.thread = threading.Thread(target=run)

    def __enter__(self):
        self.thread.start()
        assert self.written.wait(timeout=20), "the refresh did not reach its writes"
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(timeout=20)
        assert not isinstance(self.result, Exception), self.result


def in_thread(target) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run():
        try:
            outcome.append(target())
        except Exception as error:  # reported by the test
            outcome.append(error)
        finally:
            connection.close()

    return threading.Thread(target=run), outcome


def waits_for(paused: Paused, action) -> list:
    """Start `action` in a thread while `paused` holds its writes: it must wait for them."""
    thread, outcome = in_thread(action)
    thread.start()
    thread.join(timeout=1.5)
    assert thread.is_alive(), "the deletion did not wait for the refresh in flight"
    paused.release.set()
    thread.join(timeout=20)
    assert not thread.is_alive()
    return outcome


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deleting_a_member_waits_for_the_refresh_adding_it_and_takes_its_rows():
    _community, acme, segment = acme_segment("race-member")
    with Paused(lambda: refresh_segment(segment.pk, as_of=AS_OF)) as paused:
        outcome = waits_for(paused, acme[0].delete)
    assert not isinstance(outcome[0], Exception), outcome
    assert paused.result.entered == 5  # the refresh added the member, the deletion took it
    assert orphans() == (0, 0)
    assert set(SegmentMembership.objects.values_list("member_id", flat=True)) == {
        member.pk for member in acme[1:]
    }
    assert_counts_match_rows()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deleting_a_segment_waits_for_its_refresh_and_leaves_no_rows():
    _community, _acme, segment = acme_segment("race-segment")
    with Paused(lambda: refresh_segment(segment.pk, as_of=AS_OF)) as paused:
        outcome = waits_for(paused, lambda: services.segment_delete(segment=segment))
    assert not isinstance(outcome[0], Exception), outcome
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert orphans() == (0, 0)
    assert SegmentMembership.objects.count() == MembershipChange.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deleting_a_whole_community_during_a_refresh_leaves_no_rows():
    community, _acme, segment = acme_segment("race-community")
    with Paused(lambda: refresh_segment(segment.pk, as_of=AS_OF)) as paused:
        outcome = waits_for(paused, community.delete)
    assert not isinstance(outcome[0], Exception), outcome
    assert orphans() == (0, 0)
    assert SegmentMembership.objects.count() == MembershipChange.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_refresh_waits_for_a_member_deletion_in_flight_and_does_not_add_the_member():
    _community, acme, segment = acme_segment("race-after", members=3)
    deleting, release = threading.Event(), threading.Event()

    def delete_and_hold():
        with transaction.atomic():
            acme[0].delete()  # its pre_delete receiver took the lock, exclusive
            deleting.set()
            assert release.wait(timeout=20)

    deleter, outcome = in_thread(delete_and_hold)
    deleter.start()
    assert deleting.wait(timeout=20)
    refresher, result = in_thread(lambda: refresh_segment(segment.pk, as_of=AS_OF))
    refresher.start()
    refresher.join(timeout=1.5)
    assert refresher.is_alive(), "the refresh did not wait for the deletion in flight"
    release.set()
    deleter.join(timeout=20)
    refresher.join(timeout=20)
    assert not isinstance(outcome[0], Exception), outcome
    assert result[0].entered == 2
    assert orphans() == (0, 0)
    assert_counts_match_rows()


@pytest.mark.django_db
def test_the_fast_path_does_not_add_a_member_deleted_after_its_rules_were_evaluated(community):
    acme = [MemberFactory(community=community, company_name="Acme") for _ in range(4)]
    segment = services.segment_create(community=community, name="Acme", kind="smart", rule=ACME)
    original = refresh_module._match_scope

    def match_then_delete(*args, **kwargs):
        matched = original(*args, **kwargs)
        acme[0].delete()  # between the evaluation and the locked writes
        return matched

    with (
        mock.patch.object(refresh_module, "SCOPE_AT_ONCE", 2),
        mock.patch.object(refresh_module, "_match_scope", match_then_delete),
    ):
        results = refresh_members(community, [m.pk for m in acme], as_of=AS_OF)
    assert [(r.segment_id, r.entered) for r in results] == [(segment.pk, 3)]
    assert orphans() == (0, 0)
    assert_counts_match_rows()


@pytest.mark.django_db
def test_a_manual_add_does_not_add_a_member_deleted_since_it_was_chosen(community):
    kept, gone = MemberFactory(community=community), MemberFactory(community=community)
    segment = services.segment_create(community=community, name="Picked", kind="manual")
    gone_copy = type(gone).objects.get(pk=gone.pk)
    gone.delete()
    report = services.segment_add_members(segment=segment, members=[kept, gone_copy])
    assert [member.pk for member in report.added] == [kept.pk]
    assert orphans() == (0, 0)
    assert_counts_match_rows()


@pytest.mark.django_db
def test_deleting_a_community_costs_the_same_queries_for_3_as_for_13_members():
    """The lock and the counts are once per community, not once per member."""

    def queries_to_delete(members: int) -> int:
        community, _acme, segment = acme_segment(f"gone-{members}", members=members)
        refresh_segment(segment.pk, as_of=AS_OF)
        with CaptureQueriesContext(connection) as queries:
            community.delete()
        assert not SegmentMembership.objects.filter(segment_id=segment.pk).exists()
        return len(queries)

    assert queries_to_delete(3) == queries_to_delete(13)
