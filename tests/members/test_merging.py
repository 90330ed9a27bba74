"""Merging two members (members/merging.py): what moves, what the counts do, what is refused."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse

from engagement.models import Activity, ActivityKind, MemberScore
from engagement.scoring import score_community
from members.merging import FIELDS, MergeError, default_choices, member_merge
from members.models import Identity, Member, MemberMerge
from segments import services
from segments.models import Change, MembershipChange, Segment, SegmentMembership, Via
from segments.refresh import refresh_members, refresh_segment
from tests.engagement.reference import expected_score
from tests.factories import (
    ActivityFactory,
    CommunityFactory,
    IdentityFactory,
    MemberFactory,
    SegmentFactory,
)
from tests.segments.test_membership_lock import in_thread

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
ACME = {"all": [{"field": "company_name", "op": "is", "value": "Acme"}]}
DESIGNERS = {"all": [{"field": "job_title", "op": "contains", "value": "designer"}]}


@pytest.fixture
def kept(community):
    return MemberFactory(
        community=community,
        name="Priya Raman",
        email="priya@acme.test",
        company_name="Acme",
        job_title="",
        city="Austin",
        joined_at=datetime(2024, 5, 1, tzinfo=UTC),
        last_seen_at=datetime(2025, 1, 1, tzinfo=UTC),
        attributes={"plan": "pro", "tshirt": "M"},
    )


@pytest.fixture
def merged(community):
    return MemberFactory(
        community=community,
        name="Priya R.",
        email="Priya.R@Example.org",
        company_name="",
        job_title="Product Designer",
        city="Berlin",
        joined_at=datetime(2023, 1, 1, tzinfo=UTC),
        last_seen_at=datetime(2025, 6, 1, tzinfo=UTC),
        attributes={"plan": "free", "team": "design"},
    )


def counts_match_rows() -> dict[str, tuple[int, int]]:
    """Each segment's stored count and its rows, where they differ (empty when all agree)."""
    return {
        s.name: (s.member_count, SegmentMembership.objects.filter(segment=s).count())
        for s in Segment.objects.all()
        if s.member_count != SegmentMembership.objects.filter(segment=s).count()
    }


def orphans() -> tuple[int, int]:
    """Membership and ledger rows whose member is gone (the tables have no foreign keys)."""
    found = []
    for table in ("segments_segmentmembership", "segments_membershipchange"):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {table} r WHERE NOT EXISTS "  # noqa: S608
                "(SELECT 1 FROM members_member m WHERE m.id = r.member_id)"
            )
            found.append(cursor.fetchone()[0])
    return found[0], found[1]


# --- Fields ---------------------------------------------------------------------------------


def test_defaults_take_the_earlier_join_the_later_visit_and_fill_blanks(kept, merged):
    assert default_choices(kept, merged) == {
        "name": "kept",
        "email": "kept",
        "company_name": "kept",  # the merged member has none
        "job_title": "merged",  # the kept member has none
        "location": "kept",
        "city": "kept",
        "country": "kept",
        "bio": "kept",
        "avatar_url": "kept",
        "joined_at": "merged",  # 2023 is earlier
        "last_seen_at": "merged",  # June 2025 is later
        "attributes": "kept",
    }


def test_merge_applies_the_defaults_and_deletes_the_merged_member(community, kept, merged, alice):
    merged_id = merged.pk
    record = member_merge(community=community, kept=kept, merged=merged, by=alice)
    kept.refresh_from_db()
    assert not Member.objects.filter(pk=merged_id).exists()
    assert (kept.name, kept.email, kept.company_name, kept.job_title, kept.city) == (
        "Priya Raman",
        "priya@acme.test",
        "Acme",
        "Product Designer",
        "Austin",
    )
    assert kept.joined_at == datetime(2023, 1, 1, tzinfo=UTC)
    assert kept.last_seen_at == datetime(2025, 6, 1, tzinfo=UTC)
    # Attributes of both; the kept member's value on the clash.
    assert kept.attributes == {"plan": "pro", "tshirt": "M", "team": "design"}
    assert record.kept == kept


def test_chosen_fields_win_and_the_email_moves_despite_the_unique_constraint(
    community, kept, merged
):
    member_merge(
        community=community,
        kept=kept,
        merged=merged,
        fields={"email": "merged", "name": "merged", "city": "merged", "attributes": "merged"},
    )
    kept.refresh_from_db()
    # The constraint is case-insensitive per community: the merged member's address is cleared
    # before the kept member takes it.
    assert kept.email == "Priya.R@Example.org"
    assert kept.name == "Priya R."
    assert kept.city == "Berlin"
    assert kept.attributes == {"plan": "free", "tshirt": "M", "team": "design"}
    assert Member.objects.filter(community=community, email__iexact="priya.r@example.org").count()


def test_the_merge_is_recorded_with_both_values_and_the_counts(community, kept, merged, alice):
    IdentityFactory(member=merged, source="slack", external_id="U1")
    ActivityFactory(member=merged)
    manual = SegmentFactory(community=community, name="Board")
    services.segment_add_members(segment=manual, members=[merged])
    merged_id = merged.pk
    record = member_merge(
        community=community, kept=kept, merged=merged, fields={"name": "merged"}, by=alice
    )
    record.refresh_from_db()
    assert (record.community, record.kept, record.by) == (community, kept, alice)
    assert (record.merged_member_id, record.merged_name, record.merged_email) == (
        merged_id,
        "Priya R.",
        "Priya.R@Example.org",
    )
    assert set(record.fields) == set(FIELDS)
    assert record.fields["name"] == {
        "chosen": "merged",
        "kept": "Priya Raman",
        "merged": "Priya R.",
    }
    assert record.fields["joined_at"] == {
        "chosen": "merged",
        "kept": "2024-05-01T00:00:00+00:00",
        "merged": "2023-01-01T00:00:00+00:00",
    }
    assert record.counts == {
        "identities": 1,
        "activities": 1,
        "memberships": 1,
        "memberships_dropped": 0,
        "ledger": 1,
        "earlier_merges": 0,
    }
    assert list(kept.merges.all()) == [record]


def test_earlier_merges_into_the_merged_member_follow_it(community, kept, merged):
    first = MemberFactory(community=community, name="P. Raman")
    earlier = member_merge(community=community, kept=merged, merged=first)
    later = member_merge(community=community, kept=kept, merged=merged)
    assert list(kept.merges.order_by("pk")) == [earlier, later]
    assert later.counts["earlier_merges"] == 1


# --- What moves -----------------------------------------------------------------------------


def test_identities_and_activities_move_and_the_merged_score_goes(community, kept, merged):
    mine = IdentityFactory(member=kept, source="csv", external_id="row-1")
    theirs = [
        IdentityFactory(member=merged, source="slack", external_id="U1"),
        IdentityFactory(member=merged, source="discourse", external_id="priya"),
    ]
    own = [ActivityFactory(member=kept) for _ in range(2)]
    moved = [ActivityFactory(member=merged, kind_slug="post") for _ in range(3)]
    score_community(community, as_of=AS_OF)
    assert MemberScore.objects.filter(member=merged).exists()
    merged_id = merged.pk

    member_merge(community=community, kept=kept, merged=merged)

    assert set(Identity.objects.filter(member=kept)) == {mine, *theirs}
    assert set(Activity.objects.filter(member=kept)) == {*own, *moved}
    assert not Activity.objects.filter(member_id=merged_id).exists()
    assert not MemberScore.objects.filter(member_id=merged_id).exists()
    assert MemberScore.objects.filter(member=kept).exists()


def test_rescoring_gives_the_kept_member_the_score_of_both_activities(community, kept, merged):
    kinds = {
        k.slug: (k.weight, k.daily_cap, k.initiated)
        for k in ActivityKind.objects.for_community(community)
    }
    mine = [("message", AS_OF - 1 * DAY), ("message", AS_OF - 2 * DAY)]
    theirs = [("post", AS_OF - 3 * DAY), ("reply", AS_OF - 40 * DAY), ("message", AS_OF - DAY)]
    for member, activities in ((kept, mine), (merged, theirs)):
        for slug, at in activities:
            ActivityFactory(member=member, kind_slug=slug, occurred_at=at)
    score_community(community, as_of=AS_OF)
    before = MemberScore.objects.get(member=kept)
    assert before.active_days_90 == 2

    member_merge(community=community, kept=kept, merged=merged)
    score_community(community, as_of=AS_OF)

    after = MemberScore.objects.get(member=kept)
    expected = expected_score(mine + theirs, kinds, AS_OF)
    assert after.active_days_90 == expected.active_days_90 == 4  # days 1 (twice), 2, 3, 40
    assert (after.frequency, after.recency, after.impact, after.engagement) == (
        expected.frequency,
        expected.recency,
        expected.impact,
        expected.engagement,
    )
    assert after.impact > before.impact
    assert MemberScore.objects.filter(community=community).count() == 1


def test_after_commit_the_community_is_rescored_and_the_kept_member_refreshed(
    community, kept, merged, celery_calls, django_capture_on_commit_callbacks
):
    celery_calls.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        member_merge(community=community, kept=kept, merged=merged)
    sent = [(name, args) for name, args, _kwargs, _options in celery_calls]
    assert ("engagement.tasks.score_community_task", (community.pk,)) in sent
    assert ("segments.tasks.refresh_members_task", (community.pk, [kept.pk])) in sent
    assert len(callbacks) == len(sent) == 2  # nothing else, nothing twice


def test_manual_memberships_move_and_a_duplicate_is_dropped(community, kept, merged, alice):
    only_merged = SegmentFactory(community=community, name="Advisory board")
    both = SegmentFactory(community=community, name="Speakers")
    services.segment_add_members(segment=only_merged, members=[merged], by=alice)
    services.segment_add_members(segment=both, members=[kept, merged], by=alice)
    other = MemberFactory(community=community)
    services.segment_add_members(segment=both, members=[other])

    record = member_merge(community=community, kept=kept, merged=merged, by=alice)

    membership = SegmentMembership.objects.get(segment=only_merged)
    assert (membership.member_id, membership.via, membership.added_by) == (
        kept.pk,
        Via.MANUAL,
        alice,
    )
    assert set(SegmentMembership.objects.filter(segment=both).values_list("member", flat=True)) == {
        kept.pk,
        other.pk,
    }
    only_merged.refresh_from_db()
    both.refresh_from_db()
    assert (only_merged.member_count, both.member_count) == (1, 2)
    assert counts_match_rows() == {}
    assert orphans() == (0, 0)
    assert record.counts["memberships"] == 1
    assert record.counts["memberships_dropped"] == 1


def test_the_ledger_moves_to_the_kept_member_and_adds_up(community, kept, merged, alice):
    only_merged = SegmentFactory(community=community, name="Advisory board")
    both = SegmentFactory(community=community, name="Speakers")
    services.segment_add_members(segment=only_merged, members=[merged], by=alice)
    services.segment_add_members(segment=both, members=[kept, merged], by=alice)
    merged_id = merged.pk

    member_merge(community=community, kept=kept, merged=merged, by=alice)

    assert not MembershipChange.objects.filter(member_id=merged_id).exists()
    rows = list(
        MembershipChange.objects.filter(member=kept)
        .order_by("segment__name", "pk")
        .values_list("segment__name", "change", "by")
    )
    assert rows == [
        ("Advisory board", Change.ENTERED, alice.pk),
        ("Speakers", Change.ENTERED, alice.pk),  # the kept member's own
        ("Speakers", Change.ENTERED, alice.pk),  # the merged member's, re-pointed
        ("Speakers", Change.LEFT, alice.pk),  # the duplicate dropped by the merge
    ]
    # Entries minus exits per segment is what the segment holds.
    for segment in (only_merged, both):
        entered = MembershipChange.objects.filter(segment=segment, change=Change.ENTERED).count()
        left = MembershipChange.objects.filter(segment=segment, change=Change.LEFT).count()
        assert entered - left == SegmentMembership.objects.filter(segment=segment).count()


def test_smart_segment_counts_are_right_after_the_merge_and_after_a_refresh(
    community, kept, merged
):
    merged.company_name = "Acme"
    merged.save()
    MemberFactory(community=community, company_name="Acme")
    acme = services.segment_create(community=community, name="Acme", kind="smart", rule=ACME)
    designers = services.segment_create(
        community=community, name="Designers", kind="smart", rule=DESIGNERS
    )
    refresh_segment(acme.pk, as_of=AS_OF)
    refresh_segment(designers.pk, as_of=AS_OF)
    acme.refresh_from_db()
    designers.refresh_from_db()
    assert (acme.member_count, designers.member_count) == (3, 1)  # designers: the merged one

    member_merge(community=community, kept=kept, merged=merged)

    acme.refresh_from_db()
    designers.refresh_from_db()
    # The merged member's rule memberships went with it, counted once.
    assert (acme.member_count, designers.member_count) == (2, 0)
    assert counts_match_rows() == {}
    assert orphans() == (0, 0)

    # The kept member now has the merged member's job title: the refresh that follows the
    # merge (the changed members' fast path) lets it into Designers.
    refresh_members(community, [kept.pk], as_of=AS_OF)
    acme.refresh_from_db()
    designers.refresh_from_db()
    assert (acme.member_count, designers.member_count) == (2, 1)
    assert SegmentMembership.objects.get(segment=designers).member_id == kept.pk
    # And a full refresh agrees.
    for segment in (acme, designers):
        result = refresh_segment(segment.pk, as_of=AS_OF)
        assert (result.entered, result.left) == (0, 0)
    assert counts_match_rows() == {}


def test_deleting_the_merged_member_does_not_lower_the_counts_twice(community, kept, merged):
    """The pre_delete receiver of segments finds no membership of the merged member left."""
    manual = SegmentFactory(community=community, name="Board")
    services.segment_add_members(segment=manual, members=[kept, merged])
    acme = services.segment_create(community=community, name="Acme", kind="smart", rule=ACME)
    refresh_segment(acme.pk, as_of=AS_OF)  # kept only: merged has no company
    member_merge(community=community, kept=kept, merged=merged)
    manual.refresh_from_db()
    acme.refresh_from_db()
    assert (manual.member_count, acme.member_count) == (1, 1)
    assert counts_match_rows() == {}


# --- Refusals -------------------------------------------------------------------------------


def test_a_member_cannot_be_merged_with_itself(community, kept):
    with pytest.raises(MergeError, match="cannot be merged with themselves"):
        member_merge(community=community, kept=kept, merged=Member.objects.get(pk=kept.pk))
    assert Member.objects.filter(pk=kept.pk).exists()


def test_members_of_different_communities_are_refused(community, other_community, kept):
    stranger = MemberFactory(community=other_community, name="Priya Raman")
    with pytest.raises(MergeError, match="same community"):
        member_merge(community=community, kept=kept, merged=stranger)
    with pytest.raises(MergeError, match="same community"):
        member_merge(community=other_community, kept=stranger, merged=kept)
    assert Member.objects.filter(pk__in=[kept.pk, stranger.pk]).count() == 2
    assert not MemberMerge.objects.exists()


def test_a_member_deleted_meanwhile_is_refused_and_nothing_changes(community, kept, merged):
    IdentityFactory(member=kept)
    stale = Member.objects.get(pk=merged.pk)
    merged.delete()
    with pytest.raises(MergeError, match=r"Priya R\. was deleted meanwhile"):
        member_merge(community=community, kept=kept, merged=stale)
    assert kept.identities.count() == 1
    assert not MemberMerge.objects.exists()


def test_a_member_merged_meanwhile_says_into_whom(community, kept, merged):
    third = MemberFactory(community=community, name="Priya Raman")
    stale = Member.objects.get(pk=merged.pk)
    member_merge(community=community, kept=third, merged=merged)
    with pytest.raises(MergeError, match=r"Priya R\. was merged into Priya Raman on"):
        member_merge(community=community, kept=kept, merged=stale)
    assert MemberMerge.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"password": "kept"}, "cannot choose password"), ({"name": "both"}, "Choose the kept")],
)
def test_unknown_fields_and_choices_are_refused(community, kept, merged, fields, message):
    with pytest.raises(MergeError, match=message):
        member_merge(community=community, kept=kept, merged=merged, fields=fields)
    assert Member.objects.filter(pk=merged.pk).exists()


# --- Concurrency (PostgreSQL: two connections) ----------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_merges_of_the_same_member_at_once_merge_it_once():
    community = CommunityFactory(slug="race-merge")
    kept = MemberFactory(community=community, name="Ann")
    other_kept = MemberFactory(community=community, name="Ann")
    merged = MemberFactory(community=community, name="Ann")
    ActivityFactory(member=merged)
    start = threading.Barrier(2)

    def merge_into(target):
        def run():
            start.wait(timeout=20)
            return member_merge(
                community=community, kept=target, merged=Member.objects.get(pk=merged.pk)
            )

        return run

    threads = [in_thread(merge_into(kept)), in_thread(merge_into(other_kept))]
    for thread, _ in threads:
        thread.start()
    for thread, _ in threads:
        thread.join(timeout=30)
    outcomes = [outcome[0] for _, outcome in threads]
    records = [o for o in outcomes if isinstance(o, MemberMerge)]
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(records) == 1 and len(errors) == 1, outcomes
    assert isinstance(errors[0], MergeError) and "was merged into" in str(errors[0])
    assert Activity.objects.get().member_id == records[0].kept_id
    assert MemberMerge.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_merge_waits_for_a_refresh_adding_the_merged_member_and_takes_its_row():
    from tests.segments.test_membership_lock import Paused, waits_for

    community = CommunityFactory(slug="race-merge-refresh")
    kept = MemberFactory(community=community, name="Ann", company_name="Globex")
    merged = MemberFactory(community=community, name="Ann", company_name="Acme")
    MemberFactory(community=community, company_name="Acme")
    acme = services.segment_create(community=community, name="Acme", kind="smart", rule=ACME)
    with Paused(lambda: refresh_segment(acme.pk, as_of=AS_OF)) as paused:
        outcome = waits_for(
            paused, lambda: member_merge(community=community, kept=kept, merged=merged)
        )
    assert isinstance(outcome[0], MemberMerge), outcome
    assert paused.result.entered == 2  # the refresh added the merged member; the merge took it
    assert orphans() == (0, 0)
    assert counts_match_rows() == {}
    acme.refresh_from_db()
    assert acme.member_count == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_merge_waits_for_a_manual_add_of_the_merged_member_and_moves_it():
    """Without the merge's own membership lock the deletion would still wait for the add, but
    then delete the new membership with the merged member instead of moving it."""
    community = CommunityFactory(slug="race-merge-add")
    kept = MemberFactory(community=community, name="Ann")
    merged = MemberFactory(community=community, name="Ann")
    board = SegmentFactory(community=community, name="Board")
    adding, release = threading.Event(), threading.Event()

    def add_and_hold():
        with transaction.atomic():
            services.segment_add_members(segment=board, members=[merged])
            adding.set()
            assert release.wait(timeout=20)

    adder, added = in_thread(add_and_hold)
    adder.start()
    assert adding.wait(timeout=20)
    merger, outcome = in_thread(lambda: member_merge(community=community, kept=kept, merged=merged))
    merger.start()
    merger.join(timeout=1.5)
    assert merger.is_alive(), "the merge did not wait for the add in flight"
    release.set()
    adder.join(timeout=20)
    merger.join(timeout=20)
    assert added == [None] and isinstance(outcome[0], MemberMerge), (added, outcome)
    assert list(SegmentMembership.objects.values_list("segment", "member")) == [(board.pk, kept.pk)]
    board.refresh_from_db()
    assert board.member_count == 1
    assert orphans() == (0, 0)


# --- Admin ----------------------------------------------------------------------------------


def test_the_admin_shows_merges_read_only_and_still_deletes_members(
    admin_client, community, kept, merged
):
    record = member_merge(community=community, kept=kept, merged=merged)
    changelist = admin_client.get(reverse("admin:members_membermerge_changelist"))
    assert changelist.status_code == 200
    assert "Priya R." in changelist.content.decode()
    change = admin_client.get(reverse("admin:members_membermerge_change", args=[record.pk]))
    assert change.status_code == 200
    assert change.context["has_change_permission"] is False
    assert admin_client.get(reverse("admin:members_membermerge_add")).status_code == 403
    # The record goes with its kept member: the admin does not refuse to delete it.
    response = admin_client.post(
        reverse("admin:members_member_delete", args=[kept.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not MemberMerge.objects.exists()
