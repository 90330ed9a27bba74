"""The public join page: the form, what a submission mails, and the abuse protections
(honeypot, rate limits per address and per client, size limits, no account enumeration)."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from members.models import Member
from signup.models import JoinPage, PendingSignup, token_hash
from signup.views import MAX_BODY_BYTES
from tests.factories import MemberFactory
from tests.signup.conftest import CONSENT, LINK, answers, emailed_link, join_url, sign_up

pytestmark = pytest.mark.django_db


def test_the_page_shows_the_fields_the_admin_switched_on(client, page):
    response = client.get(join_url(page.community))
    content = response.content.decode()

    assert response.status_code == 200
    assert "<h1>Join the Acme Builders</h1>" in content
    assert "Builders helping builders." in content
    assert list(response.context["form"].fields) == [
        "name",
        "email",
        "company_name",
        "city",
        "question_1",
        "question_2",
        "consent",
    ]
    # Labelled for screen readers; optional fields say so; autofill names for phones.
    assert '<label for="join-name">Name</label>' in content
    assert (
        '<label for="join-company_name">Company <span class="join-optional">(optional)' in content
    )
    assert '<label for="join-city">City</label>' in content
    assert 'autocomplete="address-level2"' in content
    assert '<label for="join-question_1">What do you build? <span class="join-optional">' in content
    assert f'<label for="join-consent">{CONSENT}</label>' in content
    assert 'name="csrfmiddlewaretoken"' in content
    # The honeypot is out of sight and out of the tab order; job title is off.
    assert re.search(r'<div class="join-trap" aria-hidden="true">.*tabindex="-1"', content, re.S)
    assert "join-job_title" not in content
    assert {"private", "no-store"} <= {
        part.strip() for part in response["Cache-Control"].split(",")
    }


def test_the_page_carries_the_strict_csp(client, page):
    csp = client.get(join_url(page.community))["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "unsafe" not in csp


@pytest.mark.parametrize("enabled", [False, None])
def test_a_page_that_is_off_or_missing_is_404_everywhere(client, community, enabled):
    if enabled is not None:
        JoinPage.objects.create(community=community, enabled=enabled)
    token = "x" * 43
    confirm = reverse("signup:confirm", args=[community.slug, token])
    for url in [join_url(community), reverse("signup:sent", args=[community.slug]), confirm]:
        assert client.get(url).status_code == 404, url
    for url in [join_url(community), confirm]:
        assert client.post(url, answers()).status_code == 404, url
    assert client.get("/join/nobody-here/").status_code == 404
    assert mail.outbox == []


def test_a_submission_mails_a_link_and_keeps_nothing_on_the_member_yet(client, page):
    response = sign_up(client, page.community, email="Ann@Example.org")

    assert response.status_code == 302
    assert response["Location"] == reverse("signup:sent", args=["acme"])
    assert Member.objects.count() == 0
    pending = PendingSignup.objects.get()
    assert pending.email == "ann@example.org"
    assert pending.answers == {
        "name": "Ann Lee",
        "email": "Ann@Example.org",
        "company_name": "Initech",
        "city": "Austin",
        "questions": {"What do you build?": "Bridges", "plan": "pro"},
        "consent": CONSENT,
    }
    assert pending.expires_at - pending.created_at == timedelta(hours=48)
    # Only the token's hash is stored.
    token = LINK.search(mail.outbox[0].body).group(2)
    assert pending.token_hash == token_hash(token) != token
    assert len(token) >= 40

    sent = client.get(response["Location"])
    assert "Check your inbox" in sent.content.decode()
    assert "48 hours" in sent.content.decode()


def test_the_confirmation_mail(client, page, settings):
    settings.DEFAULT_FROM_EMAIL = "Acme Builders <community@acme.example>"
    sign_up(client, page.community, name="Buy pills at spam.example")

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ann@example.org"]
    assert message.from_email == "Acme Builders <community@acme.example>"
    assert message.subject == "Confirm your email address to join Acme Builders"
    assert "asked to join Acme Builders with this email address" in message.body
    assert f"http://testserver{emailed_link()}" in message.body
    assert "The link works once, for 48 hours." in message.body
    # Nothing the visitor typed is mailed: the form cannot carry a message to a stranger.
    for typed in ["Buy pills", "spam.example", "Initech", "Austin", "Bridges"]:
        assert typed not in message.body
        assert typed not in message.subject


def test_a_community_name_cannot_break_the_subject_header(client, page):
    page.community.name = "Acme\r\nBcc: victim@example.org"
    page.community.save()
    sign_up(client, page.community)
    assert (
        mail.outbox[0].subject == "Confirm your email address to join Acme Bcc: victim@example.org"
    )
    assert mail.outbox[0].bcc == []


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "not an email"}, "email", "Enter a valid email address."),
        ({"name": ""}, "name", "This field is required."),
        ({"city": ""}, "city", "This field is required."),
        ({"question_2": ""}, "question_2", "This field is required."),
        ({"consent": None}, "consent", "Please tick this box to join."),
        ({"name": "n" * 201}, "name", "at most 200 characters"),
        ({"question_1": "a" * 501}, "question_1", "at most 500 characters"),
        ({"name": "Ann\x00Lee"}, "name", "Null characters are not allowed."),
        ({"email": "a" * 250 + "@example.org"}, "email", "at most 254 characters"),
    ],
)
def test_bad_answers_are_field_errors_and_send_nothing(client, page, overrides, field, message):
    response = sign_up(client, page.community, **overrides)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    content = response.content.decode()
    assert "Please check the fields marked below." in content
    assert f'id="join-{field}_error"' in content
    assert 'aria-invalid="true"' in content
    assert mail.outbox == []
    assert not PendingSignup.objects.exists()


def test_the_honeypot_gets_the_same_answer_and_nothing_is_sent(client, page):
    honest = sign_up(client, page.community, email="honest@example.org")
    robot = sign_up(client, page.community, email="robot@example.org", website="http://spam")

    assert (robot.status_code, robot["Location"]) == (honest.status_code, honest["Location"])
    assert [m.to for m in mail.outbox] == [["honest@example.org"]]
    assert list(PendingSignup.objects.values_list("email", flat=True)) == ["honest@example.org"]


def test_a_robot_filling_everything_badly_still_only_gets_the_neutral_answer(client, page):
    response = client.post(join_url(page.community), {"website": "x", "email": "bad"})
    assert response.status_code == 302
    assert mail.outbox == []


def _normalized(response) -> tuple:
    """The response but for the CSRF token, which is masked afresh on every page, and the
    request id, new for every request (community_os/middleware.py)."""
    content = re.sub(rb'"X-CSRFToken": "\w+"', b"TOKEN", response.content)
    return (
        response.status_code,
        sorted(
            (k, v) for k, v in response.headers.items() if k not in ("Set-Cookie", "X-Request-ID")
        ),
        content,
    )


def test_a_known_and_a_new_address_get_the_same_answer_and_the_same_mail(client, page):
    MemberFactory(community=page.community, email="known@example.org", name="Known")

    known = sign_up(client, page.community, email="known@example.org")
    new = sign_up(client, page.community, email="new@example.org")

    assert _normalized(known) == _normalized(new)
    assert _normalized(client.get(known["Location"])) == _normalized(client.get(new["Location"]))
    bodies = [LINK.sub("LINK", m.body) for m in mail.outbox]
    assert bodies[0] == bodies[1]
    assert mail.outbox[0].subject == mail.outbox[1].subject


def test_an_address_over_its_limit_gets_the_same_answer_and_no_mail(client, page, settings):
    settings.SIGNUP_EMAIL_LIMIT = 3
    answered = [
        sign_up(client, page.community, email=email, ip=f"10.0.0.{n}")
        for n, email in enumerate(["ann@example.org", "ANN@example.org", "Ann@Example.Org"])
    ]
    assert len(mail.outbox) == 3

    # The fourth, in another letter case and from another client, is dropped silently.
    fourth = sign_up(client, page.community, email="ann@EXAMPLE.org", ip="10.9.9.9")
    assert _normalized(fourth) == _normalized(answered[0])
    assert len(mail.outbox) == 3
    assert PendingSignup.objects.count() == 3

    # Another address is not affected; once the window has passed, the address may ask again.
    sign_up(client, page.community, email="ben@example.org")
    assert len(mail.outbox) == 4
    PendingSignup.objects.filter(email="ann@example.org").update(
        created_at=PendingSignup.objects.get(email="ben@example.org").created_at
        - timedelta(minutes=61)
    )
    sign_up(client, page.community, email="ann@example.org")
    assert len(mail.outbox) == 5


def test_the_address_limit_counts_requests_on_every_community(client, page, other_community):
    JoinPage.objects.create(community=other_community, enabled=True)
    for _ in range(2):
        sign_up(client, page.community)
    client.post(join_url(other_community), {"name": "Ann", "email": "ann@example.org"})
    client.post(join_url(other_community), {"name": "Ann", "email": "ann@example.org"})
    assert len(mail.outbox) == 3


def test_a_client_over_its_limit_gets_the_same_answer_and_no_mail(client, page, settings):
    settings.SIGNUP_IP_LIMIT = 2
    first = sign_up(client, page.community, email="a@example.org", ip="203.0.113.7")
    sign_up(client, page.community, email="b@example.org", ip="203.0.113.7")
    third = sign_up(client, page.community, email="c@example.org", ip="203.0.113.7")

    assert _normalized(third) == _normalized(first)
    assert [m.to for m in mail.outbox] == [["a@example.org"], ["b@example.org"]]
    # Another client is not affected, and no address is stored, only a keyed hash of it.
    sign_up(client, page.community, email="c@example.org", ip="198.51.100.1")
    assert len(mail.outbox) == 3
    assert not PendingSignup.objects.filter(client_hash__contains="203.0.113.7").exists()


def test_a_body_past_the_limit_is_refused_unread(client, page):
    response = client.post(
        join_url(page.community),
        "name=" + "a" * MAX_BODY_BYTES,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert "This form was too large to read" in response.content.decode()
    assert mail.outbox == []


def test_a_post_needs_the_csrf_token(page):
    client = Client(enforce_csrf_checks=True)
    assert client.post(join_url(page.community), answers()).status_code == 403
    form = client.get(join_url(page.community))
    token = form.cookies["csrftoken"].value
    data = {**answers(), "csrfmiddlewaretoken": token}
    assert client.post(join_url(page.community), data).status_code == 302
    assert len(mail.outbox) == 1


def test_a_mail_server_that_refuses_is_a_message_and_keeps_nothing(client, page, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    response = sign_up(client, page.community)

    assert response.status_code == 503
    assert "We could not send the confirmation email just now" in response.content.decode()
    assert response.context["form"]["name"].value() == "Ann Lee"  # nothing to type again
    assert not PendingSignup.objects.exists()


def test_only_get_and_post(client, page):
    assert client.put(join_url(page.community)).status_code == 405
    assert client.post(reverse("signup:sent", args=["acme"])).status_code == 405
