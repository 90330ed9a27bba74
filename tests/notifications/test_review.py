"""Review reminders: a manual segment that became due for review mails its owner and its
watchers once for that due date; the sidebar marks it as due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail as outbox
from django.urls import reverse

from members.models import Role
from notifications import services
from notifications.models import EmailKind, OptOut, SentEmail, Watch
from notifications.tasks import send_review_reminders
from segments.models import Segment
from tests.factories import CommunityRoleFactory, UserFactory
from tests.notifications.conftest import SITE

pytestmark = pytest.mark.django_db

CREATED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def board(community, alice):
    """A manual segment alice created on March 1, to be reviewed every 30 days."""
    segment = Segment.objects.create(
        community=community,
        name="Advisory board",
        kind="manual",
        review_every_days=30,
        created_by=alice,
        member_count=4,
    )
    Segment.objects.filter(pk=segment.pk).update(created_at=CREATED)
    segment.refresh_from_db()
    return segment


DUE = CREATED + timedelta(days=30)


def test_nothing_before_the_due_date(board):
    assert services.review_reminders_send(now=DUE - timedelta(minutes=1)) == 0
    assert outbox.outbox == []


def test_the_owner_gets_one_email_with_a_link(board, alice):
    assert services.review_reminders_send(now=DUE) == 1
    [message] = outbox.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "Review due: Advisory board (Acme Builders)"
    link = f"{SITE}/c/acme/segments/{board.pk}/"
    assert link in message.body
    assert f'href="{link}"' in message.alternatives[0][0]
    assert "every 30 days" in message.body and "You created it" in message.body
    assert "4 members" in message.body
    assert message.extra_headers["List-Unsubscribe"].startswith(f"<{SITE}/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_due_date_reads_in_the_communitys_time_zone(board, community):
    community.timezone = "Asia/Tokyo"
    community.save()
    services.review_reminders_send(now=DUE)
    assert "was due on Mar 31, 2026, 18:00" in outbox.outbox[0].body  # 09:00 UTC


def test_idempotent_for_one_due_date(board):
    assert services.review_reminders_send(now=DUE) == 1
    assert services.review_reminders_send(now=DUE + timedelta(minutes=15)) == 0
    assert send_review_reminders() == 0  # the task, now: still the same due date
    assert len(outbox.outbox) == 1
    assert SentEmail.objects.get().key == f"review:{board.pk}:{DUE.isoformat()}"


def test_marking_it_reviewed_makes_the_next_due_date_and_its_own_email(board):
    services.review_reminders_send(now=DUE)
    reviewed = DUE + timedelta(days=2)
    Segment.objects.filter(pk=board.pk).update(reviewed_at=reviewed)
    assert services.review_reminders_send(now=reviewed + timedelta(days=29)) == 0
    assert services.review_reminders_send(now=reviewed + timedelta(days=30)) == 1
    assert len(outbox.outbox) == 2


def test_watchers_get_it_too_once_each(board, alice, victor, community):
    Watch.objects.create(community=community, segment=board, user=victor)
    Watch.objects.create(community=community, segment=board, user=alice)  # the owner, watching
    assert services.review_reminders_send(now=DUE) == 2
    by_address = {m.to[0]: m.body for m in outbox.outbox}
    assert set(by_address) == {"alice@example.com", "victor@example.com"}
    assert "You watch it" in by_address["victor@example.com"]


def test_nobody_without_a_role_any_more(board, alice, community):
    outsider = UserFactory(username="gone")
    Watch.objects.create(community=community, segment=board, user=outsider)
    alice.community_roles.all().delete()
    assert services.review_reminders_send(now=DUE) == 0
    assert outbox.outbox == []


def test_an_owner_who_turned_reminders_off_gets_none(board, alice, victor, community):
    OptOut.objects.create(user=alice, kind=EmailKind.REVIEW_DUE)
    Watch.objects.create(community=community, segment=board, user=victor)
    assert services.review_reminders_send(now=DUE) == 1
    assert [m.to for m in outbox.outbox] == [["victor@example.com"]]


def test_smart_segments_and_segments_without_a_cadence_are_left_alone(community, alice):
    Segment.objects.create(community=community, name="No cadence", kind="manual", created_by=alice)
    assert services.review_reminders_send(now=DUE + timedelta(days=400)) == 0


def test_a_mail_server_that_fails_leaves_no_record(board, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    with pytest.raises(OSError):
        services.review_reminders_send(now=DUE)
    assert not SentEmail.objects.exists()  # the next run tries again
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.review_reminders_send(now=DUE) == 1


def test_the_sidebar_marks_a_due_segment(client, board, alice, community):
    other = UserFactory(username="ada")
    CommunityRoleFactory(user=other, community=community, role=Role.VIEWER)
    client.force_login(alice)
    page = client.get(reverse("segments:sidebar", args=[community.slug])).content.decode()
    assert "due for review" in page and "Review<span" in page
    # reviewed: the marker goes, though the sidebar's HTML is cached
    Segment.objects.filter(pk=board.pk).update(reviewed_at=datetime.now(UTC))
    page = client.get(reverse("segments:sidebar", args=[community.slug])).content.decode()
    assert "due for review" not in page and "Advisory board" in page
