"""The emailed link: GET shows a button, POST confirms and writes the member (created, or
matched by email in any letter case and updated with the non-empty answers), once, in time."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from members.models import Identity, Member
from members.signals import members_changed
from signup import services
from signup.models import JoinPage, PendingSignup
from tests.factories import IdentityFactory, MemberFactory
from tests.signup.conftest import CONSENT, INVITE, emailed_link, sign_up

pytestmark = pytest.mark.django_db


@pytest.fixture
def confirm(client, django_capture_on_commit_callbacks):
    def run(link: str):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(link)

    return run


def test_get_shows_a_button_and_does_not_confirm(client, page):
    sign_up(client, page.community)
    link = emailed_link()

    for _ in range(3):  # a mail scanner, a preview pane, the person
        response = client.get(link)
        assert response.status_code == 200
        content = response.content.decode()
        assert "Confirm your email address" in content
        assert (
            '<button type="submit" class="button primary join-submit">Confirm</button>' in content
        )
        assert 'name="csrfmiddlewaretoken"' in content
    assert Member.objects.count() == 0
    assert PendingSignup.objects.get().confirmed_at is None


def test_post_creates_the_member_and_shows_the_welcome(client, page, confirm):
    sign_up(client, page.community, email="Ann@Example.org")
    response = confirm(emailed_link())

    assert response.status_code == 200
    content = response.content.decode()
    assert "Welcome to Acme Builders" in content
    assert "<p>Welcome aboard!</p>" in content
    assert (
        f'<a class="button primary join-invite" href="{INVITE}" rel="noopener noreferrer">'
        in content
    )
    assert "Join us on Slack" in content

    member = Member.objects.get()
    assert (member.community, member.name, member.email) == (
        page.community,
        "Ann Lee",
        "Ann@Example.org",
    )
    assert (member.company_name, member.city, member.job_title) == ("Initech", "Austin", "")
    assert member.attributes["What do you build?"] == "Bridges"
    assert member.attributes["plan"] == "pro"
    assert member.attributes["signup_consent"].endswith(f"UTC: {CONSENT}")
    assert member.joined_at is not None
    assert abs(member.joined_at - timezone.now()) < timedelta(minutes=1)
    identity = Identity.objects.get()
    assert (identity.member, identity.source, identity.external_id) == (
        member,
        "signup",
        "ann@example.org",
    )
    pending = PendingSignup.objects.get()
    assert pending.confirmed_at is not None
    assert pending.member == member
    assert pending.answers == {}  # they are on the member now


def test_the_new_member_is_in_the_table_at_once(client, page, confirm, amy):
    sign_up(client, page.community)
    confirm(emailed_link())
    client.force_login(amy)
    table = client.get(reverse("members:list", args=["acme"])).content.decode()
    assert "Ann Lee" in table
    assert "ann@example.org" in table


def test_confirming_sends_members_changed_and_the_segments_refresh_follows(
    client, page, confirm, celery_calls
):
    received = []

    def receiver(sender, community, member_ids, **kwargs):
        received.append((community.pk, list(member_ids)))

    members_changed.connect(receiver, dispatch_uid="test_signup_members_changed")
    try:
        sign_up(client, page.community)
        confirm(emailed_link())
    finally:
        members_changed.disconnect(dispatch_uid="test_signup_members_changed")

    member = Member.objects.get()
    assert received == [(page.community.pk, [member.pk])]
    refreshes = [c for c in celery_calls if c[0] == "segments.tasks.refresh_members_task"]
    # One refresh of the changed member: written without post_save, so nothing asks twice.
    assert [c[1] for c in refreshes] == [(page.community.pk, [member.pk])]


def test_a_known_email_in_another_letter_case_updates_that_member(client, page, confirm):
    known = MemberFactory(
        community=page.community,
        name="Ann L.",
        email="Ann.Lee@Example.ORG",
        company_name="Acme",
        city="Berlin",
        job_title="Engineer",
        attributes={"plan": "free", "shoe": "42"},
    )
    sign_up(
        client,
        page.community,
        email="ann.lee@example.org",
        company_name="",  # empty: keeps Acme
        question_1="",  # empty: no attribute written
        question_2="pro",
    )
    confirm(emailed_link())

    assert Member.objects.count() == 1
    known.refresh_from_db()
    assert known.email == "Ann.Lee@Example.ORG"  # a difference of case is not rewritten
    assert (known.name, known.company_name, known.city, known.job_title) == (
        "Ann Lee",
        "Acme",
        "Austin",
        "Engineer",
    )
    assert known.attributes["plan"] == "pro"
    assert known.attributes["shoe"] == "42"
    assert "What do you build?" not in known.attributes
    assert Identity.objects.get(source="signup").member == known


def test_a_member_with_the_signup_identity_is_found_after_an_email_change(client, page, confirm):
    member = MemberFactory(community=page.community, email="")
    IdentityFactory(member=member, source="signup", external_id="ann@example.org")
    sign_up(client, page.community, email="Ann@example.org")
    confirm(emailed_link())

    assert Member.objects.count() == 1
    member.refresh_from_db()
    assert member.email == "Ann@example.org"  # it had none
    assert Identity.objects.count() == 1


def test_a_member_of_another_community_is_not_matched(client, page, confirm, other_community):
    MemberFactory(community=other_community, email="ann@example.org")
    sign_up(client, page.community)
    confirm(emailed_link())
    assert Member.objects.filter(community=page.community, email="ann@example.org").count() == 1
    assert Member.objects.count() == 2


def test_a_link_works_once(client, page, confirm):
    sign_up(client, page.community)
    link = emailed_link()
    assert confirm(link).status_code == 200

    again = confirm(link)
    assert again.status_code == 404
    assert "This link does not work any more" in again.content.decode()
    assert client.get(link).status_code == 404
    assert Member.objects.count() == 1


def test_an_expired_link_does_not_work(client, page, confirm):
    sign_up(client, page.community)
    PendingSignup.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    link = emailed_link()

    assert client.get(link).status_code == 404
    response = confirm(link)
    assert response.status_code == 404
    assert "fill in the form again" in response.content.decode()
    assert Member.objects.count() == 0


@pytest.mark.parametrize("token", ["nope", "x" * 43, "a" * 300, "%00"])
def test_an_unknown_or_hostile_token_is_a_404_page(client, page, confirm, token):
    url = f"/join/{page.community.slug}/confirm/{token}/"
    assert client.get(url).status_code == 404
    assert confirm(url).status_code == 404
    assert Member.objects.count() == 0


def test_a_link_of_another_community_does_not_work_here(client, page, confirm, other_community):
    JoinPage.objects.create(community=other_community, enabled=True)
    sign_up(client, page.community)
    token = emailed_link().split("/")[-2]
    url = reverse("signup:confirm", args=[other_community.slug, token])
    assert client.get(url).status_code == 404
    assert confirm(url).status_code == 404
    assert Member.objects.count() == 0


def test_a_page_switched_off_meanwhile_confirms_nothing(client, page, confirm):
    sign_up(client, page.community)
    JoinPage.objects.update(enabled=False)
    assert confirm(emailed_link()).status_code == 404
    assert Member.objects.count() == 0


def test_without_welcome_text_or_invite_the_page_still_says_you_are_in(client, page, confirm):
    JoinPage.objects.update(welcome_text="", invite_url="")
    sign_up(client, page.community)
    content = confirm(emailed_link()).content.decode()
    assert "Your email address is confirmed: you are in." in content
    assert "join-invite" not in content


def test_the_welcome_text_is_escaped(client, page, confirm):
    JoinPage.objects.update(welcome_text="<script>alert(1)</script>\n\nSecond paragraph")
    sign_up(client, page.community)
    content = confirm(emailed_link()).content.decode()
    assert "<script>alert(1)" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "<p>Second paragraph</p>" in content


def test_sweep_deletes_what_counts_no_more_and_keeps_the_rest(client, page):
    for email in ["a@example.org", "b@example.org", "c@example.org", "d@example.org"]:
        sign_up(client, page.community, email=email)
    now = timezone.now()
    old = now - timedelta(hours=2)
    PendingSignup.objects.filter(email="a@example.org").update(created_at=old, confirmed_at=old)
    PendingSignup.objects.filter(email="b@example.org").update(created_at=old, expires_at=old)
    PendingSignup.objects.filter(email="c@example.org").update(created_at=old)  # still valid
    # d: recent, counts for the rate limit

    assert services.sweep_pending_signups(now) == 2
    assert sorted(PendingSignup.objects.values_list("email", flat=True)) == [
        "c@example.org",
        "d@example.org",
    ]
    assert len(mail.outbox) == 4
