"""`manage.py seed_demo`: the demo community `make run` loads."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from members.demo_data import DEMO_MEMBER_COUNT, DEMO_PASSWORD, DEMO_SLUG, DEMO_USERNAME
from members.models import Community, CommunityRole, Identity, Member, Role

pytestmark = pytest.mark.django_db


def seed(*args):
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def demo_members():
    return Member.objects.filter(community__slug=DEMO_SLUG)


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


def test_loads_2000_members_each_with_a_demo_identity():
    output = seed()
    assert DEMO_MEMBER_COUNT == 2000
    assert "Loaded 2,000 members into Demo Community." in output
    community = Community.objects.get(slug=DEMO_SLUG)
    assert community.name == "Demo Community"
    assert demo_members().count() == 2000
    identities = Identity.objects.filter(community=community, source="demo")
    assert identities.count() == 2000
    assert identities.filter(external_id="demo-1").exists()
    assert identities.filter(external_id="demo-2000").exists()
    assert not Member.objects.filter(community=community, identities=None).exists()


def test_members_look_like_a_real_community():
    seed()
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


def test_same_members_after_reset():
    seed()
    first = snapshot()
    output = seed("--reset")
    assert "Deleted" in output
    assert "Loaded 2,000 members" in output
    assert snapshot() == first
    assert len(first) == 2000


def test_second_run_does_not_duplicate():
    seed()
    ids = set(demo_members().values_list("id", flat=True))
    output = seed()
    assert "already has 2,000 members; nothing loaded" in output
    assert set(demo_members().values_list("id", flat=True)) == ids
    assert Community.objects.filter(slug=DEMO_SLUG).count() == 1


def test_creates_the_demo_admin_and_prints_the_login():
    output = seed()
    assert f"Log in at http://127.0.0.1:8000/ as {DEMO_USERNAME} / {DEMO_PASSWORD}" in output
    user = get_user_model().objects.get(username=DEMO_USERNAME)
    assert user.check_password(DEMO_PASSWORD)
    assert not user.is_staff
    role = CommunityRole.objects.get(user=user, community__slug=DEMO_SLUG)
    assert role.role == Role.ADMIN


def test_keeps_an_existing_demo_user_and_its_password():
    user = get_user_model().objects.create_user(DEMO_USERNAME, password="changed-by-the-operator")
    seed()
    user.refresh_from_db()
    assert user.check_password("changed-by-the-operator")
    assert CommunityRole.objects.get(user=user).role == Role.ADMIN
    seed("--reset")  # the role goes with the community and comes back with it
    assert CommunityRole.objects.get(user=user).role == Role.ADMIN


def test_demo_login_opens_the_demo_table(client):
    seed()
    assert client.login(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    response = client.get("/", follow=True)
    assert response.request["PATH_INFO"] == reverse("members:list", args=[DEMO_SLUG])
    assert response.status_code == 200
    newest = demo_members().order_by("-joined_at", "-id").first()
    content = response.content.decode()
    assert escape(newest.name) in content
    assert "2,000 members" in content
