import pytest
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
