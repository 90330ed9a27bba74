"""Watching a segment: a digest of who entered and left since the last one, daily or weekly
(Mondays), at 8:00 in the community's time zone; nothing when nothing changed. The clock is
passed in (`now`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail as outbox
from django.urls import reverse

from notifications import services
from notifications.models import EmailKind, Frequency, OptOut, Watch
from segments.models import MembershipChange, Segment
from tests.factories import MemberFactory
from tests.notifications.conftest import SITE

pytestmark = pytest.mark.django_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- When a digest is due, across time zones ----------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "now", "boundary"),
    [
        # UTC: 8:00 is 08:00 UTC; before it, yesterday's.
        ("UTC", utc(2026, 6, 10, 8, 0), utc(2026, 6, 10, 8, 0)),
        ("UTC", utc(2026, 6, 10, 7, 59), utc(2026, 6, 9, 8, 0)),
        # Los Angeles in summer (UTC-7): 8:00 local is 15:00 UTC.
        ("America/Los_Angeles", utc(2026, 6, 10, 15, 0), utc(2026, 6, 10, 15, 0)),
        ("America/Los_Angeles", utc(2026, 6, 10, 14, 59), utc(2026, 6, 9, 15, 0)),
        # ... and in winter (UTC-8): 16:00 UTC.
        ("America/Los_Angeles", utc(2026, 1, 10, 16, 0), utc(2026, 1, 10, 16, 0)),
        # Kolkata (UTC+5:30): 02:30 UTC.
        ("Asia/Kolkata", utc(2026, 6, 10, 2, 30), utc(2026, 6, 10, 2, 30)),
        # Kiritimati (UTC+14): 8:00 on June 11 local is 18:00 UTC on June 10.
        ("Pacific/Kiritimati", utc(2026, 6, 10, 18, 0), utc(2026, 6, 10, 18, 0)),
        ("Pacific/Kiritimati", utc(2026, 6, 10, 17, 0), utc(2026, 6, 9, 18, 0)),
        # The night the clocks go forward in Europe (March 29, 2026): still 8:00 local.
        ("Europe/Berlin", utc(2026, 3, 29, 6, 0), utc(2026, 3, 29, 6, 0)),
        ("Europe/Berlin", utc(2026, 3, 28, 7, 0), utc(2026, 3, 28, 7, 0)),
    ],
)
def test_the_daily_boundary_is_8_local(tz, now, boundary):
    assert services.digest_boundary(frequency=Frequency.DAILY, tz=tz, now=now) == boundary


@pytest.mark.parametrize(
    ("tz", "now", "boundary"),
    [
        # June 15, 2026 is a Monday.
        ("UTC", utc(2026, 6, 15, 8, 0), utc(2026, 6, 15, 8, 0)),
        ("UTC", utc(2026, 6, 15, 7, 0), utc(2026, 6, 8, 8, 0)),
        ("UTC", utc(2026, 6, 21, 23, 0), utc(2026, 6, 15, 8, 0)),
        # Sunday evening in UTC is already Monday morning in Auckland (UTC+12 in June).
        ("Pacific/Auckland", utc(2026, 6, 14, 20, 0), utc(2026, 6, 14, 20, 0)),
        ("Pacific/Auckland", utc(2026, 6, 14, 19, 0), utc(2026, 6, 7, 20, 0)),
    ],
)
def test_the_weekly_boundary_is_monday_8_local(tz, now, boundary):
    assert services.digest_boundary(frequency=Frequency.WEEKLY, tz=tz, now=now) == boundary


# --- The digests --------------------------------------------------------------------------------


@pytest.fixture
def segment(community):
    return Segment.objects.create(community=community, name="Key accounts", kind="manual")


def change(segment, member, kind, at):
    return MembershipChange.objects.create(
        community=segment.community, segment=segment, member=member, change=kind, at=at, via="rule"
    )


JUNE_9 = utc(2026, 6, 9, 8, 0)


def watch(segment, user, frequency=Frequency.DAILY, since=JUNE_9):
    return Watch.objects.create(
        community=segment.community,
        segment=segment,
        user=user,
        frequency=frequency,
        created_at=since,
        digest_since=since,
    )


def test_a_daily_digest_lists_who_entered_and_left(segment, alice, community):
    ann = MemberFactory(community=community, name="Ann Archer", email="ann@example.org")
    bob = MemberFactory(community=community, name="Bob Baker", email="bob@example.org")
    before = MemberFactory(community=community, name="Too Early")
    after = MemberFactory(community=community, name="Too Late")
    change(segment, before, "entered", utc(2026, 6, 9, 7, 59))  # the last digest had it
    change(segment, ann, "entered", utc(2026, 6, 9, 12, 0))
    change(segment, bob, "left", utc(2026, 6, 10, 7, 59))
    change(segment, after, "entered", utc(2026, 6, 10, 8, 0))  # the next digest's
    watched = watch(segment, alice)

    assert services.digests_send(now=utc(2026, 6, 10, 7, 59)) == 0  # not 8:00 yet
    assert services.digests_send(now=utc(2026, 6, 10, 8, 0)) == 1
    [message] = outbox.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "Key accounts: 1 entered, 1 left (Acme Builders)"
    assert "Entered (1):\n- Ann Archer <ann@example.org>" in message.body
    assert "Left (1):\n- Bob Baker <bob@example.org>" in message.body
    assert "Too Early" not in message.body and "Too Late" not in message.body
    assert "from Jun 9, 08:00 to Jun 10, 08:00 (UTC)" in message.body
    html = message.alternatives[0][0]
    assert f'href="{SITE}/c/acme/members/{ann.pk}/">Ann Archer</a>' in html
    assert f"{SITE}/c/acme/segments/{segment.pk}/" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    watched.refresh_from_db()
    assert watched.digest_since == utc(2026, 6, 10, 8, 0)

    # later runs the same day send nothing; the next morning sends "Too Late"
    assert services.digests_send(now=utc(2026, 6, 10, 20, 0)) == 0
    assert services.digests_send(now=utc(2026, 6, 11, 8, 0)) == 1
    assert "Too Late" in outbox.outbox[1].body


def test_nothing_is_sent_when_nothing_changed(segment, alice):
    watched = watch(segment, alice)
    assert services.digests_send(now=utc(2026, 6, 10, 8, 0)) == 0
    assert outbox.outbox == []
    watched.refresh_from_db()
    assert watched.digest_since == utc(2026, 6, 10, 8, 0)  # the window moved on all the same


def test_the_digest_goes_out_at_8_local_in_each_community(
    segment, alice, otto, community, other_community
):
    """acme in Los Angeles, globex in Kolkata: each gets its digest at its own 8:00."""
    community.timezone = "America/Los_Angeles"
    community.save()
    other_community.timezone = "Asia/Kolkata"
    other_community.save()
    theirs = Segment.objects.create(community=other_community, name="Theirs", kind="manual")
    start = utc(2026, 6, 1, 0, 0)
    watch(segment, alice, since=start)
    watch(theirs, otto, since=start)
    # after both communities' digests of June 9 (02:30 and 15:00 UTC)
    change(segment, MemberFactory(community=community), "entered", utc(2026, 6, 9, 16, 0))
    change(theirs, MemberFactory(community=other_community), "entered", utc(2026, 6, 9, 16, 0))

    sent_at = {}
    moment = utc(2026, 6, 10, 0, 0)
    while moment < utc(2026, 6, 11, 0, 0):  # a day of beat runs, every quarter of an hour
        before = len(outbox.outbox)
        services.digests_send(now=moment)
        for message in outbox.outbox[before:]:
            sent_at[message.to[0]] = moment
        moment += timedelta(minutes=15)
    assert sent_at == {
        "otto@example.com": utc(2026, 6, 10, 2, 30),  # 8:00 in Kolkata
        "alice@example.com": utc(2026, 6, 10, 15, 0),  # 8:00 in Los Angeles (PDT)
    }
    assert len(outbox.outbox) == 2


def test_a_late_run_still_sends_this_mornings_digest_once(segment, alice, community):
    watch(segment, alice)
    change(segment, MemberFactory(community=community), "entered", utc(2026, 6, 9, 12, 0))
    assert services.digests_send(now=utc(2026, 6, 10, 13, 0)) == 1  # the worker was down at 8
    assert services.digests_send(now=utc(2026, 6, 10, 13, 15)) == 0


def test_a_weekly_digest_covers_the_week(segment, alice, community):
    watched = watch(segment, alice, Frequency.WEEKLY, since=utc(2026, 6, 8, 8, 0))  # a Monday
    for day in range(7):
        member = MemberFactory(community=community, name=f"Day {day}")
        change(segment, member, "entered", utc(2026, 6, 8 + day, 10, 0))
    for day in (9, 10, 12):  # Tuesday to Friday mornings: not due
        assert services.digests_send(now=utc(2026, 6, day, 8, 0)) == 0
    assert services.digests_send(now=utc(2026, 6, 15, 8, 0)) == 1
    body = outbox.outbox[0].body
    assert "weekly digest" in body and "Entered (7):" in body
    watched.refresh_from_db()
    assert watched.digest_since == utc(2026, 6, 15, 8, 0)


def test_long_lists_are_cut_with_a_count(segment, alice, community, monkeypatch):
    monkeypatch.setattr(services, "DIGEST_NAMES_SHOWN", 2)
    watch(segment, alice)
    for index in range(5):
        change(segment, MemberFactory(community=community), "left", utc(2026, 6, 9, 9, index))
    services.digests_send(now=utc(2026, 6, 10, 8, 0))
    body = outbox.outbox[0].body
    assert "Left (5):" in body and "... and 3 more." in body
    assert body.count("\n- ") == 2


def test_digests_turned_off_are_not_sent(segment, alice, community):
    OptOut.objects.create(user=alice, kind=EmailKind.DIGEST)
    watched = watch(segment, alice)
    change(segment, MemberFactory(community=community), "entered", utc(2026, 6, 9, 12, 0))
    assert services.digests_send(now=utc(2026, 6, 10, 8, 0)) == 0
    watched.refresh_from_db()
    assert watched.digest_since == utc(2026, 6, 10, 8, 0)


def test_a_watcher_who_lost_their_role_gets_nothing(segment, alice, community):
    watch(segment, alice)
    change(segment, MemberFactory(community=community), "entered", utc(2026, 6, 9, 12, 0))
    alice.community_roles.all().delete()
    assert services.digests_send(now=utc(2026, 6, 10, 8, 0)) == 0
    assert outbox.outbox == []


def test_a_failed_mail_is_tried_again_next_run(segment, alice, community, settings):
    watched = watch(segment, alice)
    change(segment, MemberFactory(community=community), "entered", utc(2026, 6, 9, 12, 0))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    with pytest.raises(OSError):
        services.digests_send(now=utc(2026, 6, 10, 8, 0))
    watched.refresh_from_db()
    assert watched.digest_since == utc(2026, 6, 9, 8, 0)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.digests_send(now=utc(2026, 6, 10, 8, 15)) == 1


# --- The Watch toggle ---------------------------------------------------------------------------


def watch_url(segment) -> str:
    return reverse("notifications:watch", args=[segment.community.slug, segment.pk])


def test_the_segment_page_offers_watch(client, alice, segment):
    client.force_login(alice)
    page = client.get(segment.get_absolute_url()).content.decode()
    assert f'action="{watch_url(segment)}"' in page
    assert ">Watch</button>" in page


@pytest.mark.parametrize("who", ["victor", "alice", "amy"])
def test_every_role_may_watch(client, segment, who, request):
    user = request.getfixturevalue(who)
    client.force_login(user)
    response = client.post(watch_url(segment), {"action": "watch", "frequency": "weekly"})
    assert response.status_code == 302
    assert Watch.objects.get(user=user, segment=segment).frequency == Frequency.WEEKLY
    page = client.get(segment.get_absolute_url()).content.decode()
    assert "Watching: weekly email at 8:00" in page and "Stop watching" in page


def test_watch_by_htmx_answers_with_the_control(client, alice, segment):
    client.force_login(alice)
    response = client.post(
        watch_url(segment), {"action": "watch", "frequency": "daily"}, HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert "<html" not in page and 'id="segment-watch"' in page
    assert "Watching: daily email at 8:00" in page
    response = client.post(watch_url(segment), {"action": "stop"}, HTTP_HX_REQUEST="true")
    assert ">Watch</button>" in response.content.decode()
    assert not Watch.objects.exists()


def test_changing_the_frequency_keeps_the_window(client, alice, segment):
    watched = watch(segment, alice)
    client.force_login(alice)
    client.post(watch_url(segment), {"action": "watch", "frequency": "weekly"})
    watched.refresh_from_db()
    assert (watched.frequency, watched.digest_since) == (Frequency.WEEKLY, utc(2026, 6, 9, 8, 0))


@pytest.mark.parametrize(
    "data", [{"action": "watch", "frequency": "hourly"}, {"action": "explode"}, {}]
)
def test_a_bad_watch_request_is_a_clear_error(client, alice, segment, data):
    client.force_login(alice)
    response = client.post(watch_url(segment), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert not Watch.objects.exists()


def test_outsiders_cannot_watch(client, otto, segment):
    client.force_login(otto)
    assert (
        client.post(watch_url(segment), {"action": "watch", "frequency": "daily"}).status_code
        == 404
    )
    assert not Watch.objects.exists()


def test_the_preferences_page_lists_watches_and_stops_them(client, alice, segment):
    watch(segment, alice)
    client.force_login(alice)
    page = client.get(reverse("notifications:preferences")).content.decode()
    assert "Key accounts" in page and "daily digest" in page
    response = client.post(watch_url(segment), {"action": "stop", "next": "preferences"})
    assert response["Location"] == reverse("notifications:preferences")
    assert not Watch.objects.exists()
