"""Engagement scores (docs/scoring.md): worked examples, boundaries, and parity with an independent
pure-Python implementation written here (it imports nothing from engagement.scoring)."""

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from engagement import tasks
from engagement.models import MAX_DAILY_CAP, MAX_WEIGHT, Activity, ActivityKind, MemberScore
from engagement.scoring import score_community
from members.models import Community, Member
from tests.engagement.reference import expected_score
from tests.factories import ActivityFactory, CommunityFactory, MemberFactory
from tests.worker import celery_worker

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def kinds_of(community):
    return {
        k.slug: (k.weight, k.daily_cap, k.initiated)
        for k in ActivityKind.objects.for_community(community)
    }


def add(member, slug, *moments):
    kind = ActivityKind.objects.get(community=member.community, slug=slug)
    Activity.objects.bulk_create(
        Activity(community=member.community, member=member, kind=kind, occurred_at=at)
        for at in moments
    )


def scores_of(member) -> tuple:
    s = MemberScore.objects.get(member=member)
    return (s.frequency, s.recency, s.impact, s.engagement)


# --- (a) The worked examples of the issue -----------------------------------------------------


def _worked_examples(community):
    never = MemberFactory(community=community)
    one_message = MemberFactory(community=community)
    add(one_message, "message", AS_OF - HOUR)
    weekly = MemberFactory(community=community)
    weeks = [AS_OF - 2 * DAY - 7 * k * DAY for k in range(52)]
    add(weekly, "post", *weeks)
    add(weekly, "reply", *weeks, *weeks)
    accepted = MemberFactory(community=community)
    add(accepted, "answer_accepted", AS_OF - 45 * DAY)
    old_replier = MemberFactory(community=community)
    add(old_replier, "reply", *[AS_OF - k * DAY for k in range(120, 301) for _ in range(5)])
    upvoted = MemberFactory(community=community)
    add(upvoted, "reaction_received", *[AS_OF - DAY] * 60)
    chatty = MemberFactory(community=community)
    add(chatty, "message", *[AS_OF - 2 * HOUR] * 25)
    add(chatty, "event_attended", AS_OF - 10 * DAY)
    return [
        (never, 0, 0.0, "0", "0", "0", "0"),
        (one_message, 1, 1.0, "0.50", "3.00", "0.30", "1.27"),
        (weekly, 13, 123.4, "2.00", "3.00", "2.09", "2.36"),
        (accepted, 1, 3.5, "0.50", "1.75", "0.66", "0.97"),
        (old_replier, 0, 388.9, "0", "0.67", "2.59", "1.09"),
        (upvoted, 0, 12.4, "0", "0", "1.13", "0.38"),
        (chatty, 2, 24.6, "0.67", "3.00", "1.41", "1.69"),
    ]


def test_worked_examples(community):
    rows = _worked_examples(community)

    assert score_community(community, as_of=AS_OF) == len(rows)

    for member, days, raw, f, r, i, e in rows:
        score = MemberScore.objects.get(member=member)
        assert score.active_days_90 == days, member
        assert score.impact_raw == pytest.approx(raw, abs=0.05), member
        assert scores_of(member) == (Decimal(f), Decimal(r), Decimal(i), Decimal(e)), member
        assert score.as_of == AS_OF
        assert score.community == community


def test_worked_examples_agree_with_the_reference(community):
    rows = _worked_examples(community)
    score_community(community, as_of=AS_OF)
    kinds = kinds_of(community)
    for member, *_ in rows:
        activities = [(a.kind.slug, a.occurred_at) for a in member.activities.all()]
        expected = expected_score(activities, kinds, AS_OF)
        assert scores_of(member) == (
            expected.frequency,
            expected.recency,
            expected.impact,
            expected.engagement,
        )


def test_components_of_an_active_member(community):
    member = MemberFactory(community=community)
    add(member, "message", AS_OF - 3 * DAY, AS_OF - HOUR)
    add(member, "reaction_received", AS_OF - 30 * 60 * timedelta(seconds=1))

    score_community(community, as_of=AS_OF)

    score = MemberScore.objects.get(member=member)
    # A reaction received is not being active.
    assert score.last_active_at == AS_OF - HOUR
    assert score.active_days_90 == 2


def test_a_member_without_activity_scores_zero(community):
    member = MemberFactory(community=community)
    score_community(community, as_of=AS_OF)
    score = MemberScore.objects.get(member=member)
    assert scores_of(member) == (0, 0, 0, 0)
    assert (score.active_days_90, score.last_active_at, score.impact_raw) == (0, None, 0)


# --- (b) Boundaries -----------------------------------------------------------------------------


def test_the_window_includes_365_days_ago_and_excludes_as_of(community):
    oldest = MemberFactory(community=community)
    add(oldest, "post", AS_OF - 365 * DAY)
    too_old = MemberFactory(community=community)
    add(too_old, "post", AS_OF - 365 * DAY - timedelta(microseconds=1))
    now = MemberFactory(community=community)
    add(now, "post", AS_OF)

    score_community(community, as_of=AS_OF)

    assert MemberScore.objects.get(member=oldest).impact_raw == pytest.approx(3 * 0.5 ** (365 / 90))
    assert MemberScore.objects.get(member=oldest).last_active_at == AS_OF - 365 * DAY
    for member in (too_old, now):
        score = MemberScore.objects.get(member=member)
        assert (score.impact_raw, score.last_active_at) == (0, None)


def test_frequency_counts_utc_dates_from_90_days_before_the_date_of_as_of(community):
    member = MemberFactory(community=community)
    # 90 dates back, at 00:00 UTC: counts although it is more than 90 days of 24 h ago.
    add(member, "message", datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 2, 23, tzinfo=UTC))
    score_community(community, as_of=AS_OF)
    assert MemberScore.objects.get(member=member).active_days_90 == 1


def test_received_kinds_do_not_count_for_frequency_or_recency(community):
    member = MemberFactory(community=community)
    add(member, "reply_received", AS_OF - HOUR)
    add(member, "reaction_received", AS_OF - 2 * HOUR)

    score_community(community, as_of=AS_OF)

    score = MemberScore.objects.get(member=member)
    assert (score.frequency, score.recency, score.active_days_90) == (0, 0, 0)
    assert score.last_active_at is None
    assert score.impact_raw == pytest.approx(1.25)


def test_the_daily_cap_applies_per_kind_and_utc_date(community):
    member = MemberFactory(community=community)
    add(member, "post", *[AS_OF - HOUR] * 12)  # cap 10
    add(member, "post", *[AS_OF - 13 * HOUR] * 4)  # the day before (23:00 UTC)
    add(member, "reply", *[AS_OF - HOUR] * 3)

    score_community(community, as_of=AS_OF)

    expected = 10 * 3 + 4 * 3 * 0.5 ** (1 / 90) + 3 * 2
    assert MemberScore.objects.get(member=member).impact_raw == pytest.approx(expected)


def test_the_communitys_own_weights_and_caps_are_used(community):
    ActivityKind.objects.filter(community=community, slug="message").update(
        weight=4, daily_cap=2, initiated=False
    )
    member = MemberFactory(community=community)
    add(member, "message", *[AS_OF - HOUR] * 5)

    score_community(community, as_of=AS_OF)

    score = MemberScore.objects.get(member=member)
    assert score.impact_raw == pytest.approx(8)
    assert (score.frequency, score.recency) == (0, 0)


def test_scoring_at_the_largest_weight_and_cap_stays_finite(community):
    """Every kind at weight 1,000 and daily cap 10,000 (engagement/models.py): the raw impact
    stays a finite number and the statement succeeds (a weight of 1e308 overflowed it)."""
    ActivityKind.objects.filter(community=community).update(
        weight=MAX_WEIGHT, daily_cap=MAX_DAILY_CAP
    )
    member = MemberFactory(community=community)
    add(member, "post", *[AS_OF - HOUR] * (MAX_DAILY_CAP + 5))  # 5 over the cap
    add(member, "reaction_received", *[AS_OF - 13 * HOUR] * 3)  # the day before

    assert score_community(community, as_of=AS_OF) == 1

    score = MemberScore.objects.get(member=member)
    expected = MAX_DAILY_CAP * MAX_WEIGHT + 3 * MAX_WEIGHT * 0.5 ** (1 / 90)
    assert math.isfinite(score.impact_raw)
    assert score.impact_raw == pytest.approx(expected)
    assert (score.impact, score.frequency, score.recency) == (3, Decimal("0.50"), 3)


def test_recency_ties_round_half_up_exactly(community):
    # t = 30.3 days: R = 2 - 0.3/60 = 1.995 exactly, which rounds to 2.00.
    member = MemberFactory(community=community)
    add(member, "message", AS_OF - timedelta(days=30, hours=7, minutes=12))
    # t = 7.115 days: R = 3 - 0.115/23 = 2.995 exactly -> 3.00.
    other = MemberFactory(community=community)
    add(other, "message", AS_OF - timedelta(days=7, seconds=9936))

    score_community(community, as_of=AS_OF)

    assert MemberScore.objects.get(member=member).recency == Decimal("2.00")
    assert MemberScore.objects.get(member=other).recency == Decimal("3.00")


def test_other_communities_are_untouched(community, other_community):
    member = MemberFactory(community=community)
    add(member, "message", AS_OF - HOUR)
    outsider = MemberFactory(community=other_community)
    add(outsider, "message", AS_OF - HOUR)
    earlier = AS_OF - 30 * DAY
    score_community(other_community, as_of=earlier)
    before = MemberScore.objects.get(member=outsider)

    assert score_community(community, as_of=AS_OF) == 1

    after = MemberScore.objects.get(member=outsider)
    assert (after.as_of, after.recency, after.impact_raw) == (earlier, 0, 0)
    assert after.as_of == before.as_of
    assert MemberScore.objects.filter(community=community).count() == 1


def test_as_of_must_be_aware(community):
    with pytest.raises(ValueError, match="aware"):
        score_community(community, as_of=datetime(2026, 6, 1))  # noqa: DTZ001


# --- (c) Parity with the independent implementation -------------------------------------------


def _random_history(rng, kinds):
    slugs = sorted(kinds)
    activities = []
    for _ in range(rng.choice([0, 0, 1, 3, 10, 40])):
        slug = rng.choice(slugs)
        # Some outside the window on either side, some exactly on day boundaries.
        offset = timedelta(microseconds=rng.randrange(-2 * 86_400_000_000, 400 * 86_400_000_000))
        if rng.random() < 0.2:
            offset = timedelta(days=rng.randrange(0, 366), hours=12)
        if rng.random() < 0.05:
            offset = timedelta(days=365)
        at = AS_OF - offset
        burst = rng.choice([1, 1, 1, 3, 25, 60])
        activities += [(slug, at)] * burst
    if rng.random() < 0.15:  # a regular: active on many consecutive days
        start = timedelta(hours=rng.randrange(0, 24 * 60))
        activities += [("message", AS_OF - start - k * DAY) for k in range(rng.randrange(1, 70))]
    return activities


def test_parity_with_an_independent_implementation(community):
    rng = random.Random(20260601)
    ActivityKind.objects.filter(community=community, slug="reply").update(weight=2.7, daily_cap=3)
    kinds = kinds_of(community)
    kind_ids = dict(ActivityKind.objects.for_community(community).values_list("slug", "pk"))
    members = Member.objects.bulk_create(
        Member(community=community, name=f"Member {i}") for i in range(300)
    )
    histories = {}
    rows = []
    for member in members:
        histories[member.pk] = _random_history(rng, kinds)
        rows += [
            Activity(community=community, member=member, kind_id=kind_ids[s], occurred_at=at)
            for s, at in histories[member.pk]
        ]
    Activity.objects.bulk_create(rows, batch_size=2000)

    as_of_values = [AS_OF, AS_OF - timedelta(days=17, hours=5, microseconds=123)]
    for as_of in as_of_values:
        assert score_community(community, as_of=as_of) == len(members)
        scores = {s.member_id: s for s in MemberScore.objects.filter(community=community)}
        mismatches = []
        for member in members:
            expected = expected_score(histories[member.pk], kinds, as_of)
            got = scores[member.pk]
            actual = (
                got.active_days_90,
                got.last_active_at,
                got.frequency,
                got.recency,
                got.impact,
                got.engagement,
            )
            wanted = (
                expected.active_days_90,
                expected.last_active_at,
                expected.frequency,
                expected.recency,
                expected.impact,
                expected.engagement,
            )
            if actual != wanted or abs(got.impact_raw - expected.impact_raw) > 1e-6:
                mismatches.append((member.pk, actual, wanted))
        assert mismatches == []
        # The sample exercises every branch of the formulas.
        assert {s.frequency for s in scores.values()} >= {Decimal(0), Decimal(3)}
        assert len({s.recency for s in scores.values()}) > 20


# --- (d) Reproducible ---------------------------------------------------------------------------


def test_rescoring_with_the_same_as_of_gives_identical_rows(community):
    _worked_examples(community)
    score_community(community, as_of=AS_OF)
    first = list(MemberScore.objects.filter(community=community).order_by("pk").values())
    add(MemberFactory(community=community), "post", AS_OF + HOUR)  # after as_of: ignored

    score_community(community, as_of=AS_OF)

    second = list(MemberScore.objects.filter(community=community).order_by("pk").values())
    assert second[: len(first)] == first
    assert len(second) == len(first) + 1


# --- (e) The command --------------------------------------------------------------------------


def test_command_scores_and_reports_community_health(community):
    _worked_examples(community)
    out = StringIO()

    call_command("score_engagement", "acme", "--as-of", "2026-06-01T12:00:00Z", stdout=out)

    assert out.getvalue().splitlines() == [
        'Scored 7 members of "Acme Builders" as of 2026-06-01 12:00:00 UTC.',
        "Super users (I > 2): 2 (29%)",
        "Active (F, R and I > 1): 1 (14%)",
        "Inactive (F, R and I < 1): 1 (14%)",
    ]
    assert MemberScore.objects.filter(community=community, as_of=AS_OF).count() == 7


def test_command_as_of_without_offset_is_utc(community):
    MemberFactory(community=community)
    call_command("score_engagement", "acme", "--as-of", "2026-06-01 12:00", stdout=StringIO())
    assert MemberScore.objects.get().as_of == AS_OF


def test_command_defaults_to_now(community):
    MemberFactory(community=community)
    before = datetime.now(UTC)
    call_command("score_engagement", "acme", stdout=StringIO())
    assert MemberScore.objects.get().as_of >= before


def test_command_rejects_an_unknown_community(community):
    with pytest.raises(CommandError, match='No community with the slug "nope"'):
        call_command("score_engagement", "nope")


def test_command_rejects_a_bad_date(community):
    with pytest.raises(CommandError, match='Invalid --as-of "yesterday"'):
        call_command("score_engagement", "acme", "--as-of", "yesterday")


def test_command_with_no_members(community):
    out = StringIO()
    call_command("score_engagement", "acme", "--as-of", "2026-06-01T12:00Z", stdout=out)
    assert "Scored 0 members" in out.getvalue()
    assert "Super users (I > 2): 0 (-)" in out.getvalue()


# --- (f) Tasks, called directly ---------------------------------------------------------------


def test_score_community_task(community):
    member = MemberFactory(community=community)
    ActivityFactory(member=member, occurred_at=AS_OF - HOUR)

    assert tasks.score_community_task(community.pk, AS_OF.isoformat()) == 1

    assert scores_of(member) == (Decimal("0.50"), Decimal("3.00"), Decimal("0.30"), Decimal("1.27"))


def test_score_community_task_for_a_deleted_community(community):
    community_id = community.pk
    community.delete()
    assert tasks.score_community_task(community_id) is None


def test_score_all_communities_enqueues_one_task_per_community(
    community, other_community, monkeypatch, settings
):
    settings.SCORING_INTERVAL_MINUTES = 15
    sent = []
    monkeypatch.setattr(
        tasks.score_community_task, "apply_async", lambda args, **kw: sent.append((args, kw))
    )

    every = set(Community.objects.values_list("pk", flat=True))
    assert {community.pk, other_community.pk} <= every

    assert tasks.score_all_communities() == len(every)

    assert sorted(args[0] for args, _ in sent) == sorted(every)
    assert {args[1] for args, _ in sent} == {sent[0][0][1]}  # one instant for all
    assert all(kw == {"expires": 900} for _, kw in sent)


def test_beat_schedules_the_sweep():
    entry = settings.CELERY_BEAT_SCHEDULE["score-all-communities"]
    assert entry["task"] == "engagement.tasks.score_all_communities"
    assert entry["schedule"] == timedelta(minutes=settings.SCORING_INTERVAL_MINUTES)
    assert entry["options"]["expires"] == settings.SCORING_INTERVAL_MINUTES * 60


# --- (g) A real worker --------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_scores_a_community(tmp_path):
    community = CommunityFactory(slug="worker-test")
    member = MemberFactory(community=community)
    ActivityFactory(member=member, occurred_at=AS_OF - HOUR)
    with celery_worker(tmp_path) as worker:
        tasks.score_community_task.delay(community.pk, AS_OF.isoformat())
        worker.wait_for(lambda: MemberScore.objects.filter(member=member).exists())
    assert scores_of(member) == (Decimal("0.50"), Decimal("3.00"), Decimal("0.30"), Decimal("1.27"))
