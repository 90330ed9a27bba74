"""segments/services.py: validation, ordering, rule versions, deletion, manual membership."""

from datetime import timedelta

import pytest
from django.utils import timezone

from segments import services
from segments.models import Change, MembershipChange, Segment, SegmentMembership, Via
from segments.services import SegmentError
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

ACME = {"all": [{"field": "company_name", "op": "is", "value": "Acme"}]}


def smart(community, name, rule=ACME, **kwargs):
    return services.segment_create(
        community=community, name=name, kind="smart", rule=rule, **kwargs
    )


def manual(community, name, **kwargs):
    return services.segment_create(community=community, name=name, kind="manual", **kwargs)


# --- segment_create -------------------------------------------------------------------------------


def test_create_stores_the_cleaned_segment(community, alice):
    segment = smart(
        community,
        "  Acme  ",
        rule={"all": [{"field": "company_name", "op": "is", "value": "  Acme "}]},
        description=" at Acme ",
        color="rose",
        pinned=True,
        by=alice,
    )
    segment.refresh_from_db()
    assert (segment.name, segment.kind, segment.description, segment.color) == (
        "Acme",
        "smart",
        "at Acme",
        "rose",
    )
    assert segment.rule == {"all": [{"field": "company_name", "op": "is", "value": "Acme"}]}
    assert (segment.pinned, segment.created_by, segment.rule_version) == (True, alice, 1)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"name": "   ", "kind": "manual"}, "name", "needs a name"),
        ({"name": "x" * 101, "kind": "manual"}, "name", "at most 100"),
        ({"name": "Fans", "kind": "dynamic"}, "kind", "smart or manual"),
        ({"name": "Fans", "kind": "manual", "rule": ACME}, "rule", "manual segment has no rule"),
        ({"name": "Fans", "kind": "smart", "rule": None}, "rule", "the rule"),
        (
            {
                "name": "Fans",
                "kind": "smart",
                "rule": {
                    "all": [
                        {"field": "city", "op": "is", "value": "Austin"},
                        {"field": "shoe_size", "op": "gt", "value": 40},
                    ]
                },
            },
            "rule",
            "condition 2 of group 1: unknown field 'shoe_size'",
        ),
        (
            {
                "name": "Fans",
                "kind": "smart",
                "rule": {"all": [{"field": "impact_score", "op": "gt", "value": "lots"}]},
            },
            "rule",
            "condition 1 of group 1: the value must be a number",
        ),
        (
            {
                "name": "Fans",
                "kind": "smart",
                "rule": {"all": [{"field": "segment", "op": "in", "value": 2_000_000_000}]},
            },
            "rule",
            "not in this community",
        ),
        ({"name": "Fans", "kind": "manual", "color": "plaid"}, "color", "Pick a colour"),
        ({"name": "Fans", "kind": "manual", "review_every_days": -3}, "review_every_days", "1"),
    ],
)
def test_create_refuses_bad_input(community, kwargs, field, message):
    with pytest.raises(SegmentError) as caught:
        services.segment_create(community=community, **kwargs)
    assert caught.value.field == field
    assert message in str(caught.value)
    assert not Segment.objects.exists()


def test_names_are_unique_per_community_case_insensitively(community, other_community):
    manual(community, "Mentors")
    with pytest.raises(SegmentError) as caught:
        smart(community, " MENTORS ")
    assert caught.value.field == "name"
    assert "already a segment called 'MENTORS'" in str(caught.value)
    manual(other_community, "mentors")  # another community may use the name
    assert Segment.objects.filter(name__iexact="mentors").count() == 2


def test_a_rule_may_not_refer_to_another_communitys_segment(community, other_community):
    theirs = manual(other_community, "Theirs")
    with pytest.raises(SegmentError, match="not in this community"):
        smart(
            community, "Ours", rule={"all": [{"field": "segment", "op": "in", "value": theirs.pk}]}
        )


def test_positions_increase_per_community(community, other_community):
    first, second, third = manual(community, "A"), smart(community, "B"), manual(community, "C")
    assert [first.position, second.position, third.position] == [0, 1, 2]
    assert manual(other_community, "D").position == 0


# --- segment_update -------------------------------------------------------------------------------


def test_update_bumps_the_rule_version_only_when_the_rule_changes(community):
    segment = smart(community, "Acme")
    same = {"all": [{"field": "company_name", "op": "is", "value": " Acme"}]}  # trims the same
    segment = services.segment_update(segment=segment, rule=same, description="same rule")
    assert segment.rule_version == 1
    segment = services.segment_update(
        segment=segment, rule={"all": [{"field": "company_name", "op": "is", "value": "Globex"}]}
    )
    assert segment.rule_version == 2
    segment = services.segment_update(segment=segment, name="Globex", color="green")
    stored = Segment.objects.get(pk=segment.pk)
    assert (stored.rule_version, stored.name, stored.color, stored.description) == (
        2,
        "Globex",
        "green",
        "same rule",
    )
    assert stored.rule == {"all": [{"field": "company_name", "op": "is", "value": "Globex"}]}


def test_update_refuses_bad_changes(community):
    segment = smart(community, "Acme")
    hand = manual(community, "Hand")
    with pytest.raises(SegmentError, match="already a segment"):
        services.segment_update(segment=segment, name="hand")
    with pytest.raises(SegmentError, match="manual segment has no rule"):
        services.segment_update(segment=hand, rule=ACME)
    with pytest.raises(SegmentError, match="condition 1 of group 1"):
        services.segment_update(segment=segment, rule={"all": [{"field": "city", "op": "gt"}]})
    with pytest.raises(TypeError, match="kind"):
        services.segment_update(segment=segment, kind="manual")
    assert Segment.objects.get(pk=segment.pk).rule == ACME
    # Renaming a segment to its own name in another case is fine.
    assert services.segment_update(segment=segment, name="ACME").name == "ACME"


# --- delete, pin, reorder, review ----------------------------------------------------------------


def test_delete_is_refused_while_a_rule_refers_to_the_segment(community):
    mentors = manual(community, "Mentors")
    ref = {"all": [{"field": "segment", "op": "in", "value": mentors.pk}]}
    smart(community, "Zed mentors", rule=ref)
    smart(community, "Active mentors", rule={"any": [ref]})
    with pytest.raises(SegmentError) as caught:
        services.segment_delete(segment=mentors)
    assert str(caught.value) == (
        "Mentors is used in the rules of Active mentors, Zed mentors; change those first."
    )
    assert Segment.objects.filter(pk=mentors.pk).exists()


def test_delete_takes_memberships_and_history_along(community):
    member = MemberFactory(community=community)
    hand = manual(community, "Hand")
    services.segment_add_members(segment=hand, members=[member])
    services.segment_delete(segment=hand)
    assert not Segment.objects.filter(pk=hand.pk).exists()
    assert not SegmentMembership.objects.exists()
    assert not MembershipChange.objects.exists()


def test_reorder_puts_the_given_segments_first(community, other_community):
    a, b, c, d = (manual(community, name) for name in "ABCD")
    services.segment_reorder(community=community, segment_ids=[c.pk, a.pk])
    ordered = list(Segment.objects.for_community(community).values_list("name", "position"))
    assert ordered == [("C", 0), ("A", 1), ("B", 2), ("D", 3)]
    with pytest.raises(SegmentError, match="only once"):
        services.segment_reorder(community=community, segment_ids=[a.pk, a.pk])
    theirs = manual(other_community, "Theirs")
    with pytest.raises(SegmentError, match=f"#{theirs.pk} is not in this community"):
        services.segment_reorder(community=community, segment_ids=[b.pk, theirs.pk])
    assert list(Segment.objects.for_community(community).values_list("name", flat=True)) == [
        "C",
        "A",
        "B",
        "D",
    ]
    assert d.position == 3


def test_pin_and_unpin(community):
    segment = manual(community, "Hand")
    services.segment_pin(segment=segment, pinned=True)
    assert list(Segment.objects.pinned()) == [segment]
    services.segment_pin(segment=segment, pinned=False)
    assert not Segment.objects.pinned().exists()


def test_review_cadence(community):
    now = timezone.now()
    never = manual(community, "Never")
    monthly = manual(community, "Monthly", review_every_days=30)
    Segment.objects.filter(pk=monthly.pk).update(created_at=now - timedelta(days=31))
    monthly.refresh_from_db()
    assert not never.is_due_for_review(now)
    assert monthly.review_due_at() == monthly.created_at + timedelta(days=30)
    assert monthly.is_due_for_review(now)
    assert not monthly.is_due_for_review(now - timedelta(days=2))
    services.segment_mark_reviewed(segment=monthly)
    monthly.refresh_from_db()
    assert not monthly.is_due_for_review(now + timedelta(days=29))
    assert monthly.is_due_for_review(now + timedelta(days=31))
    with pytest.raises(SegmentError) as caught:
        services.segment_update(segment=monthly, review_every_days=5000)
    assert caught.value.field == "review_every_days"
    assert services.segment_update(segment=monthly, review_every_days=0).review_every_days is None


# --- Matching pasted entries ---------------------------------------------------------------------


def test_split_entries():
    text = " ada@example.org, Grace Hopper\nada@EXAMPLE.org;;\r\n  Linus ,,\n"
    assert services.split_entries(text) == ["ada@example.org", "Grace Hopper", "Linus"]
    assert services.split_entries("") == []


def test_match_members_is_exact_and_never_guesses(community, other_community):
    ada = MemberFactory(community=community, name="Ada Lovelace", email="Ada@Example.org")
    # A member named like someone else's email is not picked over the email's owner.
    MemberFactory(community=community, name="grace@example.org", email="")
    grace = MemberFactory(community=community, name="Grace Hopper", email="grace@example.org")
    MemberFactory(community=community, name="Sam Smith", email="sam1@example.org")
    MemberFactory(community=community, name="sam smith", email="sam2@example.org")
    MemberFactory(community=other_community, name="Linus", email="linus@example.org")
    entries = [
        "ada@example.org",
        "GRACE@example.org",
        "grace hopper",
        "Sam Smith",
        "Ada",
        "Lovelace",
        "linus@example.org",
        "Linus",
        "nobody@example.org",
    ]
    match = services.match_members(community, entries)
    assert [(entry, member.pk) for entry, member in match.matched] == [
        ("ada@example.org", ada.pk),
        ("GRACE@example.org", grace.pk),
        ("grace hopper", grace.pk),
    ]
    assert match.ambiguous == [("Sam Smith", 2)]
    assert match.unknown == ["Ada", "Lovelace", "linus@example.org", "Linus", "nobody@example.org"]
    assert [member.pk for member in match.members] == [ada.pk, grace.pk]


# --- Manual membership ---------------------------------------------------------------------------


def test_add_members_reports_and_logs(community, alice):
    ada = MemberFactory(community=community, name="Ada", email="ada@example.org")
    bob = MemberFactory(community=community, name="Bob", email="bob@example.org")
    cy = MemberFactory(community=community, name="Cy")
    MemberFactory(community=community, name="Twin", email="t1@example.org")
    MemberFactory(community=community, name="Twin", email="t2@example.org")
    mentors = manual(community, "Mentors")

    report = services.segment_add_members(
        segment=mentors, entries=["ADA@example.org", "Bob", "Twin", "Nobody"], by=alice
    )
    assert {m.pk for m in report.added} == {ada.pk, bob.pk}
    assert report.already == []
    assert report.unknown == ["Nobody"]
    assert report.ambiguous == [("Twin", 2)]

    report = services.segment_add_members(
        segment=mentors, entries=["ada@example.org"], members=[cy], by=alice
    )
    assert [m.pk for m in report.added] == [cy.pk]
    assert [m.pk for m in report.already] == [ada.pk]

    rows = SegmentMembership.objects.filter(segment=mentors)
    assert {(r.member_id, r.via, r.added_by_id) for r in rows} == {
        (ada.pk, Via.MANUAL, alice.pk),
        (bob.pk, Via.MANUAL, alice.pk),
        (cy.pk, Via.MANUAL, alice.pk),
    }
    ledger = MembershipChange.objects.filter(segment=mentors)
    assert sorted((r.member_id, r.change, r.via, r.by_id) for r in ledger) == sorted(
        (m.pk, Change.ENTERED, Via.MANUAL, alice.pk) for m in (ada, bob, cy)
    )
    assert all(r.rule_version is None for r in ledger)
    assert Segment.objects.get(pk=mentors.pk).member_count == 3


def test_add_members_refuses_smart_segments_and_outsiders(community, other_community):
    segment = smart(community, "Acme")
    member = MemberFactory(community=community, email="ada@example.org")
    with pytest.raises(SegmentError, match="smart segment"):
        services.segment_add_members(segment=segment, members=[member])
    hand = manual(community, "Hand")
    outsider = MemberFactory(community=other_community)
    with pytest.raises(SegmentError, match="Only members of this community"):
        services.segment_add_members(segment=hand, members=[member, outsider])
    assert not SegmentMembership.objects.exists()
    assert not MembershipChange.objects.exists()
    assert Segment.objects.get(pk=hand.pk).member_count == 0


def test_remove_members_logs_leavers(community, alice):
    ada, bob, cy = (MemberFactory(community=community) for _ in range(3))
    hand = manual(community, "Hand")
    services.segment_add_members(segment=hand, members=[ada, bob])
    removed = services.segment_remove_members(
        segment=hand, member_ids=[ada.pk, cy.pk, ada.pk], by=alice
    )
    assert removed == 1
    assert set(hand.memberships.values_list("member_id", flat=True)) == {bob.pk}
    left = MembershipChange.objects.filter(segment=hand, change=Change.LEFT)
    assert [(r.member_id, r.via, r.by_id) for r in left] == [(ada.pk, Via.MANUAL, alice.pk)]
    assert Segment.objects.get(pk=hand.pk).member_count == 1
    assert services.segment_remove_members(segment=hand, member_ids=[cy.pk]) == 0
    with pytest.raises(SegmentError, match="smart segment"):
        services.segment_remove_members(segment=smart(community, "Acme"), member_ids=[bob.pk])


def test_deleting_a_member_lowers_the_counts_of_its_segments(community):
    ada, bob = MemberFactory(community=community), MemberFactory(community=community)
    first, second, untouched = (
        manual(community, "One"),
        manual(community, "Two"),
        manual(community, "Three"),
    )
    services.segment_add_members(segment=first, members=[ada, bob])
    services.segment_add_members(segment=second, members=[ada])
    services.segment_add_members(segment=untouched, members=[bob])
    ada.delete()
    counts = dict(Segment.objects.values_list("name", "member_count"))
    assert counts == {"One": 1, "Two": 0, "Three": 1}


def test_deleting_members_in_bulk_lowers_the_counts(community):
    members = [MemberFactory(community=community) for _ in range(4)]
    hand = manual(community, "Hand")
    services.segment_add_members(segment=hand, members=members)
    type(members[0]).objects.filter(pk__in=[m.pk for m in members[:3]]).delete()
    assert Segment.objects.get(pk=hand.pk).member_count == 1
