import math

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import RestrictedError

from engagement.models import DEFAULT_KINDS, Activity, ActivityKind
from members.models import Community
from tests.factories import ActivityFactory, CommunityFactory, MemberFactory

pytestmark = pytest.mark.django_db


def test_a_new_community_gets_the_default_kinds():
    community = CommunityFactory()
    kinds = {
        k.slug: (k.weight, k.daily_cap, k.initiated)
        for k in ActivityKind.objects.for_community(community)
    }
    assert len(kinds) == 11
    assert kinds["post"] == (3, 10, True)
    assert kinds["reaction_received"] == (0.25, 50, False)
    assert kinds == {k.slug: (k.weight, k.daily_cap, k.initiated) for k in DEFAULT_KINDS}


def test_create_defaults_only_adds_missing_kinds():
    community = CommunityFactory()
    ActivityKind.objects.filter(community=community, slug="post").update(weight=7)
    ActivityKind.objects.filter(community=community, slug="reply").delete()
    ActivityKind.objects.create_defaults(community)
    assert ActivityKind.objects.get(community=community, slug="post").weight == 7
    assert ActivityKind.objects.filter(community=community, slug="reply").exists()


def test_deleting_a_community_deletes_its_kinds_and_activities_but_a_used_kind_is_kept():
    community = CommunityFactory()
    ActivityFactory(member=MemberFactory(community=community), kind_slug="post")
    with pytest.raises(RestrictedError):
        ActivityKind.objects.get(community=community, slug="post").delete()
    community.delete()
    assert not Community.objects.filter(pk=community.pk).exists()
    assert not Activity.objects.exists()
    assert not ActivityKind.objects.filter(community_id=community.pk).exists()


# --- A kind's weight and daily cap are bounded in the database too ---------------------------


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"weight": 1000.0001}, "weight_at_most_max"),
        ({"weight": 1e308}, "weight_at_most_max"),
        ({"weight": math.inf}, "weight_at_most_max"),
        ({"weight": -1}, "weight_not_negative"),
        ({"daily_cap": 0}, "daily_cap_in_range"),
        ({"daily_cap": 10_001}, "daily_cap_in_range"),
    ],
)
def test_the_database_refuses_a_kind_out_of_bounds(community, changes, constraint):
    kinds = ActivityKind.objects.filter(community=community, slug="message")
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        kinds.update(**changes)
    if connection.vendor == "postgresql":  # SQLite does not name the failed CHECK
        assert constraint in str(error.value)
    assert kinds.values_list("weight", "daily_cap").get() == (1, 20)


def test_the_database_refuses_a_weight_of_nan(community):
    # PostgreSQL sorts NaN above every number; SQLite stores NaN as NULL, which is refused too.
    kinds = ActivityKind.objects.filter(community=community, slug="message")
    with pytest.raises(IntegrityError), transaction.atomic():
        kinds.update(weight=math.nan)
    assert kinds.values_list("weight", flat=True).get() == 1


def test_the_bounds_themselves_are_stored(community):
    kinds = ActivityKind.objects.filter(community=community, slug="message")
    kinds.update(weight=1000, daily_cap=10_000)
    assert kinds.values_list("weight", "daily_cap").get() == (1000, 10_000)
    kinds.update(weight=0, daily_cap=1)
    assert kinds.values_list("weight", "daily_cap").get() == (0, 1)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weight": 1e308}, "weight"),
        ({"weight": 1001}, "weight"),
        ({"weight": -1}, "weight"),
        ({"daily_cap": 0}, "daily_cap"),
        ({"daily_cap": 10_001}, "daily_cap"),
    ],
)
def test_model_validation_refuses_a_kind_out_of_bounds(community, changes, field):
    """What the admin's forms run before saving."""
    kind = ActivityKind.objects.get(community=community, slug="message")
    for name, value in changes.items():
        setattr(kind, name, value)
    with pytest.raises(ValidationError) as error:
        kind.full_clean()
    assert field in error.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_the_migration_brings_kinds_saved_out_of_bounds_inside_them():
    community = CommunityFactory()
    executor = MigrationExecutor(connection)
    before = [("engagement", "0005_score_indexes_by_member")]
    latest = executor.loader.graph.leaf_nodes("engagement")
    executor.migrate(before)
    try:
        old_apps = executor.loader.project_state(before).apps
        kinds = old_apps.get_model("engagement", "ActivityKind").objects.filter(
            community_id=community.pk
        )
        kinds.filter(slug="message").update(weight=1e308, daily_cap=0)
        kinds.filter(slug="post").update(weight=2.5, daily_cap=50_000)
        if connection.vendor == "postgresql":
            kinds.filter(slug="reply").update(weight=math.inf)
            kinds.filter(slug="event_hosted").update(weight=math.nan)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)

    stored = dict(ActivityKind.objects.for_community(community).values_list("slug", "weight"))
    caps = dict(ActivityKind.objects.for_community(community).values_list("slug", "daily_cap"))
    assert (stored["message"], caps["message"]) == (1000, 1)
    assert (stored["post"], caps["post"]) == (2.5, 10_000)
    if connection.vendor == "postgresql":
        assert (stored["reply"], stored["event_hosted"]) == (1000, 1000)
    assert stored["reaction_received"] == 0.25  # in bounds: left alone
