"""Hostile input on the join page, its link and its settings: never a 5xx, never a member from
a form that was not confirmed (Hypothesis, with tests/security/strategies.py)."""

from urllib.parse import quote, urlencode

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members.models import Member
from signup.models import JoinPage
from tests.security.strategies import choice, form, text

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

JOIN_FORM = {
    "name": text(["Ann Lee", "Zoë"]),
    "email": text(["ann@example.org", "ANN@example.org", "known@example.org"]),
    "company_name": text(["Initech", ""]),
    "city": text(["Austin"]),
    "question_1": text(["Bridges", ""]),
    "question_2": text(["pro"]),
    "consent": choice(["on", ""]),
    "website": choice(["", "http://spam.example"]),
}

SETTINGS_FORM = {
    "enabled": choice(["on", ""]),
    "title": text(["Join us", ""]),
    "intro": text(["Hello."]),
    "company_name": choice(["off", "optional", "required"]),
    "city": choice(["off", "optional", "required"]),
    "question_1": text(["What do you build?", ""]),
    "question_1_required": choice(["on", ""]),
    "question_2": text(["plan"]),
    "consent_text": text(["I agree."]),
    "welcome_text": text(["Welcome!"]),
    "invite_url": text(["https://join.slack.com/t/acme", ""]),
    "invite_label": text(["Join us on Slack"]),
    "action": choice(["save", "preview"]),
}


def _post(client, path, pairs, **extra):
    body = urlencode(pairs)
    return client.post(path, body, content_type="application/x-www-form-urlencoded", **extra)


@FUZZ
@given(data=st.data())
def test_hostile_join_forms_never_get_a_server_error(client, page, data):
    pairs = data.draw(form(JOIN_FORM))
    with transaction.atomic():
        response = _post(client, reverse("signup:join", args=["acme"]), pairs)
        assert response.status_code in (200, 302), (response.status_code, pairs)
        assert not Member.objects.exists()
        transaction.set_rollback(True)


@FUZZ
@given(token=st.text(min_size=1, max_size=300))
def test_hostile_tokens_never_get_a_server_error(client, page, token):
    path = f"/join/acme/confirm/{quote(token, safe='')}/"
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 404, (response.status_code, token)


@FUZZ
@given(data=st.data())
def test_hostile_settings_never_get_a_server_error(client, amy, community, data):
    client.force_login(amy)
    pairs = data.draw(form(SETTINGS_FORM))
    with transaction.atomic():
        response = _post(client, reverse("signup:settings", args=["acme"]), pairs)
        assert response.status_code in (200, 302), (response.status_code, pairs)
        if response.status_code == 302:
            JoinPage.objects.get(community=community).full_clean()
        transaction.set_rollback(True)
