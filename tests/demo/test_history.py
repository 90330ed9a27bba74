"""demo/history.py: the demo's activity history is deterministic and fits each member."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from demo.demo_data import demo_members
from demo.history import HISTORY_DAYS, Person, demo_activities

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def people(count=300):
    return [
        Person(row["external_id"], row["joined_at"], row["city"], row["last_seen_at"] is not None)
        for row in demo_members(NOW, count)
    ]


def test_the_same_members_get_the_same_history_in_any_order():
    everyone = people()
    first = demo_activities(everyone, NOW)
    assert first == demo_activities(everyone, NOW)
    shuffled = sorted(demo_activities(list(reversed(everyone)), NOW), key=lambda a: a.external_id)
    assert shuffled == sorted(first, key=lambda a: a.external_id)
    assert len({a.external_id for a in first}) == len(first)


def test_nothing_before_joining_or_after_now_and_nothing_from_the_never_seen():
    everyone = people()
    joined = {p.external_id: p.joined_at for p in everyone}
    history = demo_activities(everyone, NOW)
    assert all(joined[a.member] <= a.occurred_at < NOW for a in history)
    assert min(a.occurred_at for a in history) >= NOW - timedelta(days=HISTORY_DAYS + 1)
    never_seen = {p.external_id for p in everyone if not p.ever_seen}
    assert never_seen
    assert not [a for a in history if a.member in never_seen]


def test_a_member_who_joined_yesterday_has_at_most_a_day_of_history():
    newcomer = Person("demo-17", NOW - timedelta(days=1), "Austin", ever_seen=True)
    history = demo_activities([newcomer], NOW)
    assert all(a.occurred_at >= NOW - timedelta(days=1) for a in history)


def test_personas_skew_the_activity():
    per_member = Counter(a.member for a in demo_activities(people(), NOW))
    counts = sorted(per_member.values(), reverse=True)
    assert 0.4 < len(counts) / 300 < 0.8  # many members never do anything
    assert sum(counts[:10]) > sum(counts) / 4  # the top 3% do a large share
