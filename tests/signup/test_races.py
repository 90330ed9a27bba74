"""Confirmations at the same moment (PostgreSQL, threads): one member, no error."""

import threading

import pytest
from django.db import connection

from members.models import Identity, Member
from signup import services
from signup.models import JoinPage
from tests.factories import CommunityFactory
from tests.signup.conftest import LINK

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_links_of_one_new_address_confirmed_at_once_make_one_member(mailoutbox):
    community = CommunityFactory(slug="race-signup")
    page = JoinPage.objects.create(community=community, enabled=True)
    for name in ["Ann Lee", "Ann L."]:
        services.signup_request(
            page=page,
            answers={"name": name, "email": "ann@example.org", "questions": {}},
            ip="192.0.2.1",
            base_url="http://testserver",
        )
    tokens = [LINK.search(message.body).group(2) for message in mailoutbox]
    start = threading.Barrier(2)
    outcomes: list = []

    def confirm(token):
        try:
            start.wait(timeout=10)
            outcomes.append(services.signup_confirm(page=page, token=token).pk)
        except Exception as error:  # reported below
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    member = Member.objects.get(community=community)
    assert outcomes == [member.pk, member.pk]
    assert Identity.objects.filter(member=member, source="signup").count() == 1
