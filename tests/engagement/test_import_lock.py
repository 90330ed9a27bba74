"""Imports into one community run one after another (members/locks.py): two imports of the same
activities file or Stack Exchange dump at the same moment both finish, the second finding what
the first wrote, never an IntegrityError. The races need two connections: PostgreSQL only."""

import io

import pytest

from engagement import importing as activity_importing
from engagement.importing import import_activities
from engagement.models import Activity
from engagement.stackexchange import import_stackexchange
from members import importing as member_importing
from members.importing import import_members
from members.models import Identity, Member
from tests.engagement.test_import_stackexchange import DUMP
from tests.factories import CommunityFactory, IdentityFactory, MemberFactory
from tests.members.test_importing import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ACTIVITIES = "member_external_id,source,kind,occurred_at,external_id\n" + "".join(
    f"U1,slack,message,2026-05-01T10:{n:02}:00Z,m{n}\n" for n in range(25)
)


def activities_import(community):
    return lambda: import_activities(community=community, file=io.BytesIO(ACTIVITIES.encode()))


def test_two_imports_of_the_same_activities_at_once_add_them_once():
    community = CommunityFactory(slug="race-activities")
    IdentityFactory(member=MemberFactory(community=community), source="slack", external_id="U1")

    first, second = race(
        activities_import(community),
        activities_import(community),
        writer=activity_importing._Merge,
        method="run",
    )

    assert not isinstance(first, Exception), first  # IntegrityError before the lock
    assert not isinstance(second, Exception), second
    assert (first.created, first.unchanged, first.errors) == (25, 0, [])
    assert (second.created, second.unchanged, second.errors) == (0, 25, [])
    assert Activity.objects.filter(community=community).count() == 25


def test_an_activities_import_waits_for_the_members_import_in_flight_and_finds_its_members():
    community = CommunityFactory(slug="race-mixed")
    members = io.BytesIO(b"source,external_id,name\nslack,U1,Ann\n")

    first, second = race(
        lambda: import_members(community=community, file=members),
        activities_import(community),
        writer=member_importing._Merge,
        method="run",
    )

    assert not isinstance(first, Exception), first
    assert not isinstance(second, Exception), second
    assert first.created == 1
    assert (second.created, second.errors) == (25, [])  # not "unknown member" rows
    assert set(Activity.objects.values_list("member__name", flat=True)) == {"Ann"}


def test_two_imports_of_the_same_stack_exchange_dump_at_once_run_one_after_the_other():
    community = CommunityFactory(slug="race-dump")

    def dump_import():
        return import_stackexchange(community=community, directory=DUMP)

    first, second = race(dump_import, dump_import, writer=activity_importing.ActivityWriter)

    assert not isinstance(first, Exception), first
    assert not isinstance(second, Exception), second
    members = Member.objects.filter(community=community).count()
    activities = Activity.objects.filter(community=community).count()
    assert members == first.members_created == second.members_unchanged == 3947
    assert (second.members_created, second.members_updated) == (0, 0)
    assert activities == first.activities_created.total() == second.activities_unchanged
    assert second.activities_created.total() == 0
    assert Identity.objects.filter(community=community).count() == members
