"""The refresh (docs/architecture.md "Segments: refresh and triggers"): materialized membership
equals a from-scratch evaluation, the ledger holds exactly the joiners and leavers, an idle refresh
writes nothing, the fast path, manual rows, dependency order, failures and, on PostgreSQL, two
refreshes at the same moment.

The expected membership is computed here in Python with `rules.matches` over every member, in
the test's own dependency order, with `facts["segments"]` taken from the expected sets of the
segments referred to (and the stored rows of manual ones); it is also compared with
`Member.objects.filter(rules.to_q(...))`.
"""

import random
import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from engagement.models import MemberScore
from members.models import Identity, Member
from segments import graph, rules, services
from segments.models import Change, MembershipChange, Segment, SegmentMembership, Via
from segments.refresh import (
    RefreshError,
    RefreshResult,
    refresh_community,
    refresh_members,
    refresh_segment,
)
from tests.factories import CommunityFactory, IdentityFactory, MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

TZ = "America/Chicago"
AS_OF = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
COMPANIES = ["Acme", "acme", "Globex", "", "Initech"]
TITLES = ["Product Designer", "senior UX designer", "Engineer", "", "Community Lead"]
CITIES = ["Austin", "austin", "Lyon", "", "Pune"]
SOURCES = ["slack", "discourse", "csv"]
SCORES = [Decimal(x) for x in ("0", "0.50", "0.99", "1", "1.01", "1.50", "2", "2.01", "3")]


# --- Building and churning a community ----------------------------------------------------------


def _moment(rng, as_of):
    """An instant near the rules' cut-offs: local midnights in Chicago and relative bounds."""
    # Whole hours from as_of (15:00 UTC on the first day): -10 h is local midnight in Chicago.
    base = as_of - timedelta(days=rng.choice([0, 1, 6, 7, 8, 11, 12, 29, 30, 31, 45, 90]))
    return base + timedelta(hours=rng.choice([-15, -10, -9, -1, 0, 1, 9]))


def _member_values(rng, as_of):
    return {
        "company_name": rng.choice(COMPANIES),
        "job_title": rng.choice(TITLES),
        "city": rng.choice(CITIES),
        "joined_at": None if rng.random() < 0.1 else _moment(rng, as_of),
        "last_seen_at": None if rng.random() < 0.2 else _moment(rng, as_of),
    }


def _set_score(rng, member):
    MemberScore.objects.update_or_create(
        member=member,
        defaults={
            "community": member.community,
            "frequency": rng.choice(SCORES),
            "recency": rng.choice(SCORES),
            "impact": rng.choice(SCORES),
            "engagement": rng.choice(SCORES),
            "active_days_90": rng.choice([0, 1, 5]),
            "as_of": AS_OF,
        },
    )


def _add_member(rng, community, as_of):
    member = MemberFactory(community=community, **_member_values(rng, as_of))
    if rng.random() < 0.7:  # the others have no score row: they count as 0
        _set_score(rng, member)
    for source in rng.sample(SOURCES, rng.choice([0, 1, 2])):
        IdentityFactory(member=member, source=source)
    return member


def _smart(community, name, rule):
    return services.segment_create(community=community, name=name, kind="smart", rule=rule)


def _cond(field, op, value=None):
    data = {"field": field, "op": op}
    if value is not None:
        data["value"] = value
    return data


@pytest.fixture
def world():
    """A community in Chicago time with 40 members and segments of every kind of rule.

    "Regulars" refers to "Acme or designers" and is created first with a placeholder rule, so
    ordering by id would refresh it too early; "Mentor designers" refers to a manual segment.
    """
    rng = random.Random(20260331)
    community = CommunityFactory(slug="churn", timezone=TZ)
    MemberFactory(community=CommunityFactory(slug="elsewhere"), company_name="Acme")
    members = [_add_member(rng, community, AS_OF) for _ in range(40)]
    regulars = _smart(community, "Regulars", {"all": []})
    acme_or_designers = _smart(
        community,
        "Acme or designers",
        {"any": [_cond("company_name", "is", "acme"), _cond("job_title", "contains", "designer")]},
    )
    mentors = services.segment_create(community=community, name="Mentors", kind="manual")
    services.segment_add_members(segment=mentors, members=rng.sample(members, 10))
    segments = {
        "regulars": regulars,
        "acme_or_designers": acme_or_designers,
        "mentors": mentors,
        "super": _smart(community, "Super users", {"all": [_cond("impact_score", "gt", 2)]}),
        "inactive": _smart(
            community,
            "Inactive",
            {
                "all": [
                    _cond("frequency_score", "lt", 1),
                    _cond("recency_score", "lt", 1),
                    _cond("impact_score", "lte", "0.99"),
                ]
            },
        ),
        "new": _smart(
            community,
            "New this week",
            {"all": [_cond("joined_at", "within_last", {"amount": 7, "unit": "days"})]},
        ),
        "quiet": _smart(
            community,
            "Quiet",
            {
                "any": [
                    _cond("last_seen_at", "before", "2026-03-20"),
                    _cond("last_seen_at", "more_than_ago", {"amount": 1, "unit": "months"}),
                    _cond("last_seen_at", "is_empty"),
                ]
            },
        ),
        "march": _smart(
            community,
            "Joined in March",
            {"all": [_cond("joined_at", "between", ["2026-03-01", "2026-03-24"])]},
        ),
        "on_slack": _smart(community, "On Slack", {"all": [_cond("source", "is", "slack")]}),
        "austin": _smart(
            community,
            "Austin, not on Discourse",
            {"all": [_cond("city", "is", "AUSTIN"), _cond("source", "is_not", "discourse")]},
        ),
        "mentor_designers": _smart(
            community,
            "Mentor designers",
            {"all": [_cond("segment", "in", mentors.pk), _cond("job_title", "contains", "design")]},
        ),
    }
    services.segment_update(
        segment=regulars,
        rule={
            "any": [
                {
                    "all": [
                        _cond("segment", "in", acme_or_designers.pk),
                        _cond("segment", "not_in", segments["on_slack"].pk),
                    ]
                },
                _cond("engagement_score", "gte", 2),
            ]
        },
    )
    segments["regulars"].refresh_from_db()
    # The test's own order: referred-to segments before their referrers.
    order = [
        "acme_or_designers",
        "on_slack",
        "super",
        "inactive",
        "new",
        "quiet",
        "march",
        "austin",
        "mentor_designers",
        "regulars",
    ]
    assert regulars.pk < acme_or_designers.pk < segments["on_slack"].pk
    return community, segments, order, rng


def _facts(member):
    score = getattr(member, "score", None)
    facts = {
        name: getattr(member, name)
        for name in ("name", "company_name", "job_title", "city", "joined_at", "last_seen_at")
    }
    for name, column in [
        ("frequency_score", "frequency"),
        ("recency_score", "recency"),
        ("impact_score", "impact"),
        ("engagement_score", "engagement"),
        ("active_days_90", "active_days_90"),
    ]:
        facts[name] = getattr(score, column) if score else None
    facts["sources"] = {identity.source for identity in member.identities.all()}
    return facts


def _all_facts(community):
    members = Member.objects.filter(community=community).select_related("score")
    return {member.pk: _facts(member) for member in members.prefetch_related("identities")}


def expected_membership(community, segments, order, as_of):
    """Each smart segment's members computed in Python from scratch (manual rows included)."""
    facts = _all_facts(community)
    manual = {
        segment.pk: set(segment.memberships.values_list("member_id", flat=True))
        for segment in segments.values()
        if not segment.is_smart
    }
    known = dict(manual)
    for key in order:
        segment = Segment.objects.get(pk=segments[key].pk)
        rule = segment.parsed_rule()
        matched = set()
        for pk, member_facts in facts.items():
            in_segments = {sid for sid, pks in known.items() if pk in pks}
            if rules.matches(rule, {**member_facts, "segments": in_segments}, as_of=as_of, tz=TZ):
                matched.add(pk)
        known[segment.pk] = matched
    return {key: known[segments[key].pk] for key in order}


def stored(segment):
    return set(
        SegmentMembership.objects.filter(segment=segment).values_list("member_id", flat=True)
    )


def stored_all(segments, order):
    return {key: stored(segments[key]) for key in order}


def assert_materialized(community, segments, order, as_of):
    expected = expected_membership(community, segments, order, as_of)
    for key in order:
        segment = Segment.objects.get(pk=segments[key].pk)
        actual = stored(segment)
        assert actual == expected[key], key
        by_sql = set(
            Member.objects.filter(community=community)
            .filter(rules.to_q(segment.parsed_rule(), as_of=as_of, tz=TZ))
            .values_list("pk", flat=True)
        )
        assert by_sql == expected[key], key
        assert segment.member_count == len(actual), key
        assert segment.refreshed_at == as_of, key
        assert segment.refresh_error == "", key
    for segment in Segment.objects.filter(community=community):
        assert segment.member_count == segment.memberships.count(), segment.name
    return expected


def churn(community, rng, as_of):
    """Edit fields, delete and add members, change scores and identities."""
    members = list(Member.objects.filter(community=community).order_by("pk"))
    for member in rng.sample(members, 10):
        values = _member_values(rng, as_of)
        for name in rng.sample(sorted(values), rng.randint(1, 3)):
            setattr(member, name, values[name])
        member.save()
    for member in rng.sample(members, 3):
        member.delete()
        members.remove(member)
    for _ in range(4):
        members.append(_add_member(rng, community, as_of))
    for member in rng.sample(members, 8):
        if rng.random() < 0.25:
            MemberScore.objects.filter(member=member).delete()
        else:
            _set_score(rng, member)
    for member in rng.sample(members, 6):
        identities = list(member.identities.all())
        if identities and rng.random() < 0.5:
            rng.choice(identities).delete()
        else:
            IdentityFactory(member=member, source=rng.choice(SOURCES))
    mentors = Segment.objects.get(community=community, name="Mentors")
    services.segment_add_members(segment=mentors, members=rng.sample(members, 2))
    leaving = rng.sample(sorted(stored(mentors)), 2)
    services.segment_remove_members(segment=mentors, member_ids=leaving)


def _ledger_since(community, last_id):
    return MembershipChange.objects.filter(community=community, pk__gt=last_id)


def _last_change_id():
    return MembershipChange.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


# --- 1 and 2: churn, then refresh: from-scratch equality and an exact ledger --------------------


def test_refresh_after_churn_equals_a_from_scratch_evaluation(world):
    community, segments, order, rng = world
    as_of = AS_OF
    refresh_community(community, as_of=as_of)
    expected = assert_materialized(community, segments, order, as_of)
    # Every rule selects somebody and leaves somebody out, or the comparison proves little.
    for key in order:
        assert 0 < len(expected[key]) < Member.objects.filter(community=community).count(), key

    moved = 0
    for _ in range(5):
        as_of += timedelta(days=1, hours=7)
        churn(community, rng, as_of)
        before = stored_all(segments, order)
        last_id = _last_change_id()
        results = refresh_community(community, as_of=as_of)
        assert all(not isinstance(result, RefreshError) for result in results)
        after = assert_materialized(community, segments, order, as_of)

        # The ledger holds exactly the joiners and leavers of this round.
        ledger = _ledger_since(community, last_id)
        got = {(row.segment_id, row.member_id, row.change) for row in ledger}
        want = set()
        for key in order:
            pk = segments[key].pk
            want |= {(pk, member, Change.ENTERED) for member in after[key] - before[key]}
            want |= {(pk, member, Change.LEFT) for member in before[key] - after[key]}
        assert got == want
        assert ledger.count() == len(want)  # no row twice
        versions = {segments[key].pk: Segment.objects.get(pk=segments[key].pk) for key in order}
        for row in ledger:
            assert row.via == Via.RULE
            assert row.by_id is None
            assert row.at == as_of
            assert row.rule_version == versions[row.segment_id].rule_version
        # The results report the same counts.
        by_segment = {result.segment_id: result for result in results}
        for key in order:
            result = by_segment[segments[key].pk]
            assert result.entered == len(after[key] - before[key])
            assert result.left == len(before[key] - after[key])
        moved += len(want)
    assert moved > 20  # the churn did move members in and out


def test_rule_version_in_the_ledger_follows_the_rule(community):
    MemberFactory(community=community, company_name="Acme")
    MemberFactory(community=community, company_name="Globex")
    segment = _smart(community, "Acme", {"all": [_cond("company_name", "is", "Acme")]})
    refresh_segment(segment.pk, as_of=AS_OF)
    services.segment_update(segment=segment, rule={"all": [_cond("company_name", "is", "Globex")]})
    later = AS_OF + timedelta(hours=1)
    refresh_segment(segment.pk, as_of=later)
    rows = MembershipChange.objects.filter(segment=segment).order_by("at", "change")
    assert [(row.member.company_name, row.change, row.rule_version) for row in rows] == [
        ("Acme", "entered", 1),
        ("Globex", "entered", 2),
        ("Acme", "left", 2),
    ]


# --- 3: a refresh that changes nothing writes nothing ------------------------------------------

_WRITES = re.compile(
    r'^\s*(INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+"?segments_(segmentmembership|membershipchange)\b',
    re.IGNORECASE,
)


def test_a_refresh_that_changes_nothing_writes_nothing(world):
    community, segments, order, _ = world
    # Members sit on whole hours from AS_OF: none crosses a relative cut-off in between.
    first, later = AS_OF + timedelta(minutes=10), AS_OF + timedelta(minutes=20)
    refresh_community(community, as_of=first)
    memberships = sorted(SegmentMembership.objects.values_list("pk", "segment_id", "member_id"))
    changes = MembershipChange.objects.count()
    with CaptureQueriesContext(connection) as queries:
        results = refresh_community(community, as_of=later)
    assert [result.changed for result in results] == [False] * len(order)
    writes = [query["sql"] for query in queries.captured_queries if _WRITES.search(query["sql"])]
    assert writes == []
    # Make sure the pattern would see the statements a changing refresh runs.
    assert any("segment_diff" in query["sql"] for query in queries.captured_queries)
    assert sorted(SegmentMembership.objects.values_list("pk", "segment_id", "member_id")) == (
        memberships
    )
    assert MembershipChange.objects.count() == changes
    for key in order:
        assert Segment.objects.get(pk=segments[key].pk).refreshed_at == later


def test_the_write_pattern_sees_a_changing_refresh(community):
    MemberFactory(community=community, company_name="Acme")
    segment = _smart(community, "Acme", {"all": [_cond("company_name", "is", "Acme")]})
    with CaptureQueriesContext(connection) as queries:
        refresh_segment(segment.pk, as_of=AS_OF)
    writes = [query["sql"] for query in queries.captured_queries if _WRITES.search(query["sql"])]
    assert len(writes) == 3  # memberships inserted and deleted, the ledger inserted


# --- 4: the fast path ----------------------------------------------------------------------------


# From SCOPE_AT_ONCE changed members on, the fast path evaluates every rule in one statement and
# applies all the differences together: both ways must give the same rows.
BOTH_WAYS = pytest.mark.parametrize("at_once", [False, True], ids=["one-by-one", "at-once"])


def _fast_path_way(monkeypatch, at_once: bool) -> None:
    monkeypatch.setattr("segments.refresh.SCOPE_AT_ONCE", 1 if at_once else 10**9)


@BOTH_WAYS
def test_refresh_members_equals_the_full_refresh_for_those_members(world, monkeypatch, at_once):
    _fast_path_way(monkeypatch, at_once)
    community, segments, order, rng = world
    refresh_community(community, as_of=AS_OF)
    as_of = AS_OF + timedelta(days=2, hours=3)
    churn(community, rng, as_of)
    rows_before = {
        key: set(
            SegmentMembership.objects.filter(segment=segments[key]).values_list(
                "member_id", "added_at", "via"
            )
        )
        for key in order
    }
    everyone = sorted(Member.objects.filter(community=community).values_list("pk", flat=True))
    subset = set(rng.sample(everyone, 15))
    last_id = _last_change_id()

    results = refresh_members(community, [*subset, *list(subset)[:3]], as_of=as_of)

    assert all(not isinstance(result, RefreshError) for result in results)
    expected = expected_membership(community, segments, order, as_of)
    for key in order:
        segment = Segment.objects.get(pk=segments[key].pk)
        rows = set(
            SegmentMembership.objects.filter(segment=segment).values_list(
                "member_id", "added_at", "via"
            )
        )
        others_before = {row for row in rows_before[key] if row[0] not in subset}
        others_after = {row for row in rows if row[0] not in subset}
        assert others_after == others_before, key  # the other members' rows are untouched
        assert segment.member_count == len(rows), key
        assert segment.refreshed_at == AS_OF, key  # the fast path is not a full refresh
    # For the subset, every segment now holds exactly what a full refresh gives: a referrer
    # reads only the subset's own memberships, which were brought up to date before it.
    for key in order:
        assert stored(segments[key]) & subset == expected[key] & subset, key
    ledger = _ledger_since(community, last_id)
    assert {row.member_id for row in ledger} <= subset
    assert all(row.at == as_of and row.via == Via.RULE for row in ledger)

    # A full refresh afterwards agrees with the from-scratch evaluation everywhere.
    refresh_community(community, as_of=as_of)
    assert_materialized(community, segments, order, as_of)


@BOTH_WAYS
def test_refresh_members_matches_the_full_refresh_on_every_segment(world, monkeypatch, at_once):
    """With every changed member in the subset, the fast path leaves nothing for a full refresh."""
    _fast_path_way(monkeypatch, at_once)
    community, segments, order, rng = world
    refresh_community(community, as_of=AS_OF)
    changed = []
    for member in rng.sample(list(Member.objects.filter(community=community)), 8):
        member.company_name = "Acme" if member.company_name != "Acme" else "Globex"
        member.save()
        changed.append(member.pk)
    refresh_members(community, changed, as_of=AS_OF)
    fast = stored_all(segments, order)
    counts = {key: Segment.objects.get(pk=segments[key].pk).member_count for key in order}
    refresh_community(community, as_of=AS_OF)
    assert stored_all(segments, order) == fast
    assert {key: len(members) for key, members in fast.items()} == counts
    assert_materialized(community, segments, order, AS_OF)


def test_refresh_members_at_once_falls_back_to_one_by_one_on_a_database_error(world, monkeypatch):
    _fast_path_way(monkeypatch, True)
    community, segments, order, rng = world
    refresh_community(community, as_of=AS_OF)
    changed = []
    for member in rng.sample(list(Member.objects.filter(community=community)), 8):
        member.company_name = "Acme" if member.company_name != "Acme" else "Globex"
        member.save()
        changed.append(member.pk)
    with mock.patch(
        "segments.refresh._write_scope_diff", side_effect=OperationalError("gone mid-way")
    ):
        results = refresh_members(community, changed, as_of=AS_OF)
    assert [type(result) for result in results] == [RefreshResult] * len(order)
    assert_materialized(community, segments, order, AS_OF)


def test_refresh_members_with_no_ids_does_nothing(world):
    community, *_ = world
    with CaptureQueriesContext(connection) as queries:
        assert refresh_members(community, []) == []
    assert queries.captured_queries == []


def test_refresh_members_ignores_members_of_other_communities(community, other_community):
    outsider = MemberFactory(community=other_community, company_name="Acme")
    segment = _smart(community, "Acme", {"all": [_cond("company_name", "is", "Acme")]})
    refresh_members(community, [outsider.pk], as_of=AS_OF)
    assert stored(segment) == set()
    assert Segment.objects.get(pk=segment.pk).member_count == 0


# --- 5: manual rows in a smart segment stay ------------------------------------------------------


def test_manual_rows_in_a_smart_segment_are_never_deleted(community):
    acme = MemberFactory(community=community, company_name="Acme")
    globex = MemberFactory(community=community, company_name="Globex")
    both = MemberFactory(community=community, company_name="Acme")
    segment = _smart(community, "Acme", {"all": [_cond("company_name", "is", "Acme")]})
    by = UserFactory()
    for member in (globex, both):
        SegmentMembership.objects.create(
            community=community,
            segment=segment,
            member=member,
            added_at=AS_OF - timedelta(days=1),
            via=Via.MANUAL,
            added_by=by,
        )
    result = refresh_segment(segment.pk, as_of=AS_OF)
    assert (result.entered, result.left) == (1, 0)  # only `acme`: `both` is already in
    rows = dict(SegmentMembership.objects.filter(segment=segment).values_list("member_id", "via"))
    assert rows == {acme.pk: Via.RULE, globex.pk: Via.MANUAL, both.pk: Via.MANUAL}
    assert Segment.objects.get(pk=segment.pk).member_count == 3

    # Nobody matches any more: the rule's row goes, the manual rows stay.
    Member.objects.filter(company_name="Acme").update(company_name="Initech")
    result = refresh_segment(segment.pk, as_of=AS_OF + timedelta(hours=1))
    assert (result.entered, result.left) == (0, 1)
    assert set(stored(segment)) == {globex.pk, both.pk}
    assert Segment.objects.get(pk=segment.pk).member_count == 2
    left = MembershipChange.objects.filter(segment=segment, change=Change.LEFT)
    assert list(left.values_list("member_id", flat=True)) == [acme.pk]

    # The fast path leaves them alone too.
    refresh_members(community, [globex.pk, both.pk, acme.pk], as_of=AS_OF + timedelta(hours=2))
    assert set(stored(segment)) == {globex.pk, both.pk}


# --- 6: dependency order and cycles --------------------------------------------------------------


def test_a_segment_in_another_refreshes_after_it(community):
    acme = MemberFactory(community=community, company_name="Acme", city="Austin")
    MemberFactory(community=community, company_name="Acme", city="Lyon")
    MemberFactory(community=community, company_name="Globex", city="Austin")
    # Created first, so its id is lower than that of the segment it refers to.
    austin_acme = _smart(community, "Austin at Acme", {"all": []})
    acme_segment = _smart(community, "Acme", {"all": [_cond("company_name", "is", "Acme")]})
    everyone = _smart(community, "Everyone at Acme or not", {"all": []})
    services.segment_update(
        segment=austin_acme,
        rule={"all": [_cond("segment", "in", acme_segment.pk), _cond("city", "is", "Austin")]},
    )
    services.segment_update(
        segment=everyone,
        rule={
            "any": [
                _cond("segment", "in", austin_acme.pk),
                _cond("segment", "not_in", austin_acme.pk),
            ]
        },
    )
    results = refresh_community(community, as_of=AS_OF)
    order = [result.segment_id for result in results]
    assert order.index(acme_segment.pk) < order.index(austin_acme.pk) < order.index(everyone.pk)
    # One pass is enough: the referrer saw the fresh membership of what it refers to.
    assert stored(austin_acme) == {acme.pk}
    assert len(stored(everyone)) == 3


def test_services_reject_a_cycle_naming_the_path(community):
    first = _smart(community, "First", {"all": []})
    second = _smart(community, "Second", {"all": [_cond("segment", "in", first.pk)]})
    third = _smart(community, "Third", {"all": [_cond("segment", "not_in", second.pk)]})
    with pytest.raises(services.SegmentError) as caught:
        services.segment_update(segment=first, rule={"any": [_cond("segment", "in", third.pk)]})
    assert caught.value.field == "rule"
    assert "First → Third → Second → First" in str(caught.value)
    assert Segment.objects.get(pk=first.pk).rule == {"all": []}
    assert Segment.objects.get(pk=first.pk).rule_version == 1


def test_a_self_reference_is_a_cycle_too(community):
    alone = _smart(community, "Alone", {"all": []})
    with pytest.raises(services.SegmentError) as caught:
        services.segment_update(segment=alone, rule={"all": [_cond("segment", "in", alone.pk)]})
    assert "Alone → Alone" in str(caught.value)


def test_refresh_order_leaves_out_an_admin_made_cycle(community):
    MemberFactory(community=community, company_name="Acme")
    base = _smart(community, "Base", {"all": [_cond("company_name", "is", "Acme")]})
    loop_a = _smart(community, "Loop A", {"all": []})
    loop_b = _smart(community, "Loop B", {"all": [_cond("segment", "in", loop_a.pk)]})
    after_base = _smart(community, "After base", {"all": [_cond("segment", "in", base.pk)]})
    # The admin saves rules without the services' checks.
    Segment.objects.filter(pk=loop_a.pk).update(rule={"all": [_cond("segment", "in", loop_b.pk)]})

    order, stuck = graph.refresh_order(graph.dependency_graph(community))
    assert sorted(stuck) == sorted([loop_a.pk, loop_b.pk])
    assert loop_a.pk not in order and loop_b.pk not in order
    assert order.index(base.pk) < order.index(after_base.pk)

    results = refresh_community(community, as_of=AS_OF)
    assert {result.segment_id for result in results} == {base.pk, after_base.pk}
    for pk in (loop_a.pk, loop_b.pk):
        segment = Segment.objects.get(pk=pk)
        assert "refers to itself" in segment.refresh_error
        assert segment.refreshed_at is None
    assert Segment.objects.get(pk=after_base.pk).member_count == 1


def test_refresh_order_of_a_plain_graph():
    order, stuck = graph.refresh_order({1: {2}, 2: {3}, 3: set(), 4: {5}, 5: {4}, 6: {4, 3}})
    assert stuck == [4, 5]
    assert order.index(3) < order.index(2) < order.index(1)
    assert set(order) == {1, 2, 3, 6}
    assert graph.dependents({1: {2}, 2: {3}, 3: set(), 7: set()}, 3) == [2, 1]


# --- 7: failures ---------------------------------------------------------------------------------


def test_an_invalid_stored_rule_is_not_retryable_and_is_recorded(community):
    MemberFactory(community=community, company_name="Acme")
    segment = _smart(community, "Acme", {"all": [_cond("company_name", "is", "Acme")]})
    ok = _smart(community, "Everyone", {"all": []})
    Segment.objects.filter(pk=segment.pk).update(
        rule={"all": [{"field": "shoe_size", "op": "is", "value": "42"}]}
    )
    with pytest.raises(RefreshError) as caught:
        refresh_segment(segment.pk, as_of=AS_OF)
    assert caught.value.retryable is False
    failed = Segment.objects.get(pk=segment.pk)
    assert "condition 1 of group 1" in failed.refresh_error
    assert "shoe_size" in failed.refresh_error
    # Checked at AS_OF: the sweep tries it again after the community's interval, not each minute.
    assert failed.refreshed_at == AS_OF
    assert stored(segment) == set()

    # refresh_community reports it and still refreshes the others.
    results = refresh_community(community, as_of=AS_OF)
    errors = [result for result in results if isinstance(result, RefreshError)]
    assert len(errors) == 1 and "shoe_size" in str(errors[0])
    assert Segment.objects.get(pk=ok.pk).member_count == 1

    # A successful refresh clears the error.
    Segment.objects.filter(pk=segment.pk).update(
        rule={"all": [_cond("company_name", "is", "acme")]}
    )
    refresh_segment(segment.pk, as_of=AS_OF)
    fixed = Segment.objects.get(pk=segment.pk)
    assert fixed.refresh_error == ""
    assert fixed.member_count == 1


def test_a_database_failure_is_retryable_and_recorded(community):
    MemberFactory(community=community, company_name="Acme")
    segment = _smart(community, "Acme", {"all": [_cond("company_name", "is", "Acme")]})
    with mock.patch(
        "segments.refresh._apply_rule", side_effect=OperationalError("server closed the connection")
    ):
        with pytest.raises(RefreshError) as caught:
            refresh_segment(segment.pk, as_of=AS_OF)
        results = refresh_members(community, [1], as_of=AS_OF)
    assert caught.value.retryable is True
    assert "OperationalError" in Segment.objects.get(pk=segment.pk).refresh_error
    assert [type(result) for result in results] == [RefreshError]
    assert results[0].retryable
    refresh_segment(segment.pk, as_of=AS_OF)
    assert Segment.objects.get(pk=segment.pk).refresh_error == ""


def test_a_manual_or_gone_segment_is_skipped(community):
    manual = services.segment_create(community=community, name="Hand-picked", kind="manual")
    assert refresh_segment(manual.pk, as_of=AS_OF).skipped
    assert refresh_segment(2_000_000_000, as_of=AS_OF).skipped
    assert Segment.objects.get(pk=manual.pk).refreshed_at is None


def test_a_naive_as_of_is_refused(community):
    segment = _smart(community, "Everyone", {"all": []})
    with pytest.raises(ValueError, match="timezone-aware"):
        refresh_segment(segment.pk, as_of=datetime(2026, 3, 31))  # noqa: DTZ001


# --- 8: concurrency on PostgreSQL ----------------------------------------------------------------


def _in_thread(target, results, index):
    def run():
        try:
            results[index] = target()
        except Exception as error:  # reported by the test
            results[index] = error
        finally:
            connection.close()

    return threading.Thread(target=run)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_the_same_moment_write_each_change_once():
    community = CommunityFactory(slug="race")
    acme = [MemberFactory(community=community, company_name="Acme") for _ in range(30)]
    MemberFactory(community=community, company_name="Globex")
    segment = _smart(community, "Acme", {"all": [_cond("company_name", "is", "Acme")]})
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def refresh():
        barrier.wait(timeout=10)
        return refresh_segment(segment.pk, as_of=AS_OF)

    threads = [_in_thread(refresh, results, index) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(isinstance(result, Exception) for result in results), results
    assert sorted(result.entered for result in results) == [0, 30]
    assert stored(segment) == {member.pk for member in acme}
    entered = list(
        MembershipChange.objects.filter(segment=segment).values_list("member_id", "change")
    )
    assert sorted(entered) == sorted((member.pk, "entered") for member in acme)
    assert Segment.objects.get(pk=segment.pk).member_count == 30


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_refresh_holding_the_lock_makes_an_edit_wait():
    community = CommunityFactory(slug="lock")
    MemberFactory(community=community, company_name="Acme")
    segment = _smart(community, "Acme", {"all": [_cond("company_name", "is", "Acme")]})
    locked, release = threading.Event(), threading.Event()
    events: list[str] = []
    from segments import refresh as refresh_module

    original = refresh_module._apply_rule

    def slow_apply(*args, **kwargs):
        counts = original(*args, **kwargs)
        locked.set()
        release.wait(timeout=10)
        events.append("refresh done")
        return counts

    def edit():
        locked.wait(timeout=10)
        services.segment_update(segment=segment, description="edited")
        events.append("edit done")

    results: list = [None, None]
    with mock.patch.object(refresh_module, "_apply_rule", slow_apply):
        refresher = _in_thread(lambda: refresh_segment(segment.pk, as_of=AS_OF), results, 0)
        editor = _in_thread(edit, results, 1)
        refresher.start()
        editor.start()
        assert locked.wait(timeout=10)
        editor.join(timeout=1)
        assert editor.is_alive(), "the edit did not wait for the refresh's lock"
        release.set()
        refresher.join(timeout=10)
        editor.join(timeout=10)
    assert events == ["refresh done", "edit done"]
    assert not any(isinstance(result, Exception) for result in results), results
    segment.refresh_from_db()
    assert (segment.description, segment.member_count) == ("edited", 1)


def test_identity_changes_reach_the_rule(community):
    """Identity rows are read through a subquery: a second identity never duplicates a row."""
    member = MemberFactory(community=community)
    IdentityFactory(member=member, source="slack")
    IdentityFactory(member=member, source="slack")
    segment = _smart(community, "On Slack", {"all": [_cond("source", "is", "Slack")]})
    assert refresh_segment(segment.pk, as_of=AS_OF).entered == 1
    Identity.objects.filter(member=member).delete()
    assert refresh_segment(segment.pk, as_of=AS_OF).left == 1
    assert Segment.objects.get(pk=segment.pk).member_count == 0


def test_refresh_runs_inside_an_outer_transaction(community):
    MemberFactory(community=community, company_name="Acme")
    segment = _smart(community, "Acme", {"all": [_cond("company_name", "is", "Acme")]})
    with transaction.atomic():
        refresh_segment(segment.pk, as_of=AS_OF)
        refresh_segment(segment.pk, as_of=AS_OF)  # the temporary table is dropped each time
    assert Segment.objects.get(pk=segment.pk).member_count == 1
