"""A published join page of `community` (acme) asking for a city and a company, with two
questions of its own and a consent line; helpers that sign up and read the emailed link."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from signup.models import JoinPage

INVITE = "https://join.slack.com/t/acme/shared_invite/zt-123"
CONSENT = "I agree that Acme Builders keeps my details to run the community."


@pytest.fixture
def page(community):
    return JoinPage.objects.create(
        community=community,
        enabled=True,
        title="Join the Acme Builders",
        intro="Builders helping builders.",
        city="required",
        company_name="optional",
        questions=[
            {"label": "What do you build?", "required": False},
            {"label": "plan", "required": True},
        ],
        consent_text=CONSENT,
        welcome_text="Welcome aboard!",
        invite_url=INVITE,
        invite_label="Join us on Slack",
    )


def answers(**overrides) -> dict[str, str]:
    """A valid submission of the page above."""
    data = {
        "name": "Ann Lee",
        "email": "ann@example.org",
        "company_name": "Initech",
        "city": "Austin",
        "question_1": "Bridges",
        "question_2": "pro",
        "consent": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def join_url(community) -> str:
    return reverse("signup:join", args=[community.slug])


def sign_up(client, community, *, ip="127.0.0.1", **overrides):
    """Post the join form of `community` from the client address `ip`."""
    return client.post(join_url(community), answers(**overrides), REMOTE_ADDR=ip)


LINK = re.compile(r"http://testserver(/join/[\w-]+/confirm/([\w-]+)/)")


def emailed_link(index: int = -1) -> str:
    """The path of the confirmation link in the `index`th mail sent."""
    found = LINK.search(mail.outbox[index].body)
    assert found, mail.outbox[index].body
    return found.group(1)
