"""`manage.py seed_demo`: the demo community `make run` loads, with its activity history.

Seeding takes seconds, so one seed is committed for the module (`seeded`) and the tests read it;
the few that change things do so inside their own transaction, which is rolled back.
"""

from datetime import timedelta
from io import StringIO
from itertools import pairwise
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, F, Max
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from demo.demo_data import DEMO_MEMBER_COUNT, DEMO_PASSWORD, DEMO_SLUG, DEMO_USERNAME
from demo.management.commands import seed_demo
from engagement.models import Activity, MemberScore
from engagement.scoring import community_health
from members.models import Community, CommunityRole, Identity, Member, Role
from segments.models import Segment, SegmentMembership


def seed(*args):
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The output of one `seed_demo`, committed for the module and removed after it."""
    fast_hashing = override_settings(  # as tests/conftest.py does for each test
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
    )
    # Creating the example segments enqueues their refresh on commit; seed_demo refreshes them
    # itself, and the tests' broker must stay empty (the autouse celery_calls fixture of
    # tests/conftest.py is per test, too late for this module fixture).
    no_broker = mock.patch("celery.app.task.Task.apply_async")
    with django_db_blocker.unblock(), fast_hashing, no_broker:
        output = seed()
        yield output
        Activity.objects.filter(community__slug=DEMO_SLUG).delete()  # Kinds are protected.
        Community.objects.filter(slug=DEMO_SLUG).delete()
        get_user_model().objects.filter(username=DEMO_USERNAME).delete()


def demo_members():
    return Member.objects.filter(community__slug=DEMO_SLUG)


def demo_activities():
    return Activity.objects.filter(community__slug=DEMO_SLUG)


def snapshot():
    """Everything but the dates, keyed by the member's demo identity."""
    return {
        identity.external_id: (
            identity.member.name,
            identity.member.email,
            identity.member.company_name,
            identity.member.job_title,
            identity.member.location,
        )
        for identity in Identity.objects.filter(community__slug=DEMO_SLUG).select_related("member")
    }


def test_loads_2000_members_each_with_a_demo_identity(db, seeded):
    assert DEMO_MEMBER_COUNT == 2000
    assert "Loaded 2,000 members into Demo Community." in seeded
    community = Community.objects.get(slug=DEMO_SLUG)
    assert community.name == "Demo Community"
    assert demo_members().count() == 2000
    identities = Identity.objects.filter(community=community, source="demo")
    assert identities.count() == 2000
    assert identities.filter(external_id="demo-1").exists()
    assert identities.filter(external_id="demo-2000").exists()
    assert not Member.objects.filter(community=community, identities=None).exists()


def test_members_look_like_a_real_community(db, seeded):
    members = demo_members()
    now = timezone.now()
    emails = [e for e in members.values_list("email", flat=True) if e]
    assert len(emails) == len(set(emails)), "emails are unique"
    assert all(e == e.lower() and e.isascii() for e in emails)
    assert 0 < members.filter(email="").count() < 300
    assert len(set(members.values_list("name", flat=True))) > 1500
    assert members.filter(company_name="Acme").count() > 100  # a big employer
    assert members.values("company_name").distinct().count() > 100  # and a long tail
    assert members.values("job_title").distinct().count() >= 15
    austin = members.filter(city="Austin", country="United States", location="Austin, TX")
    assert austin.count() > 150
    assert members.filter(city="Berlin", location="Berlin, Germany").exists()
    assert members.values("country").distinct().count() >= 15
    assert members.filter(joined_at__gte=now - timedelta(days=7)).count() >= 5
    assert members.filter(joined_at__gte=now - timedelta(days=30)).count() >= 30
    assert not members.filter(joined_at__lt=now - timedelta(days=3 * 365 + 1)).exists()
    assert not members.filter(last_seen_at__lt=F("joined_at")).exists()
    assert 40 < members.filter(last_seen_at=None).count() < 200
    assert members.exclude(bio="").exists()


def test_the_activity_history_looks_like_a_real_community(db, seeded):
    activities = demo_activities()
    count = activities.count()
    assert f"Loaded {count:,} activities." in seeded
    assert 60_000 <= count <= 100_000
    kinds = dict(activities.values_list("kind__slug").annotate(n=Count("pk")))
    assert set(kinds) == {
        "message", "reply", "post", "reaction_given", "answer_accepted", "content_published",
        "event_registered", "event_attended", "event_hosted", "reaction_received",
        "reply_received",
    }  # fmt: skip
    assert kinds["message"] > kinds["post"] > kinds["content_published"] > kinds["event_hosted"]
    channels = set(activities.values_list("channel", flat=True).distinct())
    assert {"#general", "#design", "#help", "Meetup Austin", "Online", "Blog"} <= channels
    assert activities.filter(kind__slug="post").exclude(title="").count() == kinds["post"]
    assert not activities.exclude(source="demo").exists()
    assert not activities.filter(external_id="").exists()
    now = timezone.now()
    first = activities.order_by("occurred_at").values_list("occurred_at", flat=True).first()
    assert now - timedelta(days=400) < first < now - timedelta(days=380)  # about 13 months
    # Skewed like a real community: a few members do much of the work, many do nothing.
    per_member = sorted(
        activities.values("member").annotate(n=Count("pk")).values_list("n", flat=True),
        reverse=True,
    )
    assert 900 < len(per_member) < 1600
    assert sum(per_member[:60]) > count / 3


def test_activities_are_consistent_with_the_members(db, seeded):
    now = timezone.now()
    assert not demo_activities().filter(occurred_at__lt=F("member__joined_at")).exists()
    assert not demo_activities().filter(occurred_at__gte=now).exists()
    # Members never seen did nothing; everyone else was seen no earlier than they last acted.
    assert not demo_members().filter(last_seen_at=None, activities__isnull=False).exists()
    newest = demo_members().annotate(
        newest=Max("activities__occurred_at", filter=F("activities__kind__initiated"))
    )
    assert not newest.filter(last_seen_at__lt=F("newest")).exists()
    assert newest.filter(last_seen_at=F("newest")).count() > 500


def test_the_community_is_scored_with_meaningful_health(db, seeded):
    community = Community.objects.get(slug=DEMO_SLUG)
    health = community_health(community)
    assert health["scored"] == 2000
    assert 30 <= health["super_users"] <= 100  # about 3%
    assert 200 <= health["active"] <= 500  # about 15%
    assert 800 <= health["inactive"] <= 1400
    assert (
        f"{health['super_users']:,} super users, {health['active']:,} active, "
        f"{health['inactive']:,} inactive"
    ) in seeded
    scores = MemberScore.objects.filter(community=community)
    assert scores.values("as_of").distinct().count() == 1
    assert timezone.now() - scores.first().as_of < timedelta(minutes=5)
    assert scores.filter(engagement__gt=2).exists()
    assert scores.filter(engagement=0).count() > 400


def test_second_run_does_not_duplicate(db, seeded):
    ids = set(demo_members().values_list("id", flat=True))
    activities = demo_activities().count()
    with mock.patch.object(seed_demo, "score_community") as score:
        output = seed()
    assert "already has 2,000 members; nothing loaded" in output
    assert "activities" not in output
    assert set(demo_members().values_list("id", flat=True)) == ids
    assert demo_activities().count() == activities
    assert Community.objects.filter(slug=DEMO_SLUG).count() == 1
    score.assert_not_called()


def test_a_demo_without_activity_gets_its_history(db, seeded):
    """A demo loaded before it had activity: the history fits the members as they are."""
    before = set(demo_activities().values_list("external_id", flat=True))
    demo_activities().delete()
    output = seed()
    assert "nothing loaded" in output
    after = set(demo_activities().values_list("external_id", flat=True))
    assert f"Loaded {len(after):,} activities." in output
    # The same ids (the newest hour may differ: the history ends at the new `now`).
    assert len(before ^ after) < 50
    assert not demo_activities().filter(occurred_at__lt=F("member__joined_at")).exists()


def test_reset_loads_the_same_members_and_scores_them_week_by_week(db, seeded):
    first = snapshot()
    user = get_user_model().objects.get(username=DEMO_USERNAME)
    user.set_password("changed-by-the-operator")
    user.save()
    with mock.patch.object(seed_demo, "score_community", wraps=seed_demo.score_community) as score:
        output = seed("--reset")
    assert "Deleted" in output
    assert "Loaded 2,000 members" in output
    assert snapshot() == first
    assert len(first) == 2000
    # Eight weekly points, oldest first, then now.
    moments = [call.kwargs["as_of"] for call in score.call_args_list]
    assert len(moments) == 9
    assert [b - a for a, b in pairwise(moments)] == [timedelta(weeks=1)] * 8
    assert timezone.now() - moments[-1] < timedelta(minutes=5)
    # The login keeps its password, and its role comes back with the community.
    user.refresh_from_db()
    assert user.check_password("changed-by-the-operator")
    assert CommunityRole.objects.get(user=user, community__slug=DEMO_SLUG).role == Role.ADMIN


def test_creates_the_demo_admin_and_prints_the_login(db, seeded):
    assert f"Log in at http://127.0.0.1:8000/ as {DEMO_USERNAME} / {DEMO_PASSWORD}" in seeded
    assert f"Created the user {DEMO_USERNAME!r}." in seeded
    user = get_user_model().objects.get(username=DEMO_USERNAME)
    assert user.check_password(DEMO_PASSWORD)
    assert not user.is_staff
    role = CommunityRole.objects.get(user=user, community__slug=DEMO_SLUG)
    assert role.role == Role.ADMIN


def test_demo_login_opens_the_demo_table(db, seeded, client):
    login = client.post("/login/", {"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    assert login.status_code == 302
    response = client.get("/", follow=True)
    assert response.request["PATH_INFO"] == reverse("members:list", args=[DEMO_SLUG])
    assert response.status_code == 200
    newest = demo_members().order_by("-joined_at", "-id").first()
    content = response.content.decode()
    assert escape(newest.name) in content
    assert "2,000 members" in content


# --- Example segments (docs/rules.md "The six segment ideas", pinned as pills) --------------------


@pytest.mark.django_db
def test_the_demo_ships_the_six_segment_ideas_pinned_and_refreshed(seeded):
    segments = Segment.objects.filter(community__slug=DEMO_SLUG)
    pinned = list(segments.filter(pinned=True).values_list("name", "kind"))
    assert pinned == [
        ("Acme", "smart"),
        ("Designers", "smart"),
        ("New this month", "smart"),
        ("Super users", "smart"),
        ("Austin", "smart"),
        ("Mentors", "manual"),
    ]
    assert "Created 10 example segments, 6 pinned as pills." in seeded
    for segment in segments:
        actual = SegmentMembership.objects.filter(segment=segment).count()
        assert segment.member_count == actual > 0, segment.name
        assert segment.refresh_error == ""
        if segment.is_smart:
            assert segment.refreshed_at is not None
    members = demo_members()
    assert segments.get(name="Acme").member_count == members.filter(company_name="Acme").count()
    assert segments.get(name="Super users").member_count == (
        MemberScore.objects.filter(community__slug=DEMO_SLUG, impact__gt=2).count()
    )
    mentors = segments.get(name="Mentors")
    assert mentors.member_count == 12
    assert mentors.review_every_days == 30


@pytest.mark.django_db
def test_seeding_again_keeps_the_segments(seeded):
    before = list(
        Segment.objects.filter(community__slug=DEMO_SLUG).values_list("pk", "member_count")
    )
    output = seed()
    assert "example segments" not in output
    after = list(
        Segment.objects.filter(community__slug=DEMO_SLUG).values_list("pk", "member_count")
    )
    assert after == before
