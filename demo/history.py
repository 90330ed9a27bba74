"""The demo community's activity history: about 13 months of made-up, realistic activity.

Pure Python (no Django imports), deterministic: each member's history comes from a generator
seeded with their demo id, so the same member gets the same activities on every run, whatever
order the members come in. Dates are offsets back from `now` and never precede the member's
`joined_at`. Every activity has a stable `external_id`, so loading the history twice (source
"demo") adds nothing the second time.

Personas, roughly as in a real community: ~3% super users (on most days: messages, replies,
posts, accepted answers, published content, hosting the meetups), ~15% active, ~35% casual, ~20%
who were active once and drifted away, the rest never active. Posts and replies receive
reactions and replies; meetups in a few cities and online office hours get registrations and
attendance. Activity grows slowly over the year, and weekends are quieter.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HISTORY_DAYS = 395  # about 13 months
HISTORY_SEED = 20260102


@dataclass(frozen=True)
class Person:
    """What the history needs to know about a demo member."""

    external_id: str  # the member's demo identity, e.g. "demo-17"
    joined_at: datetime
    city: str
    ever_seen: bool  # members never seen have no activity


@dataclass(frozen=True)
class DemoActivity:
    member: str  # the member's demo external_id
    kind: str  # an ActivityKind slug
    occurred_at: datetime
    external_id: str
    channel: str = ""
    title: str = ""


@dataclass(frozen=True)
class _Persona:
    name: str
    share: float  # of the members
    day_chance: float  # chance of being active on a weekday
    extra_actions: float  # mean actions beyond the first on an active day
    kinds: dict[str, int]  # what they do, weighted


PERSONAS = (
    _Persona(
        "super",
        0.03,
        0.6,
        2.5,
        {
            "message": 34,
            "reply": 30,
            "reaction_given": 18,
            "post": 10,
            "answer_accepted": 5,
            "content_published": 3,
        },
    ),
    _Persona(
        "active",
        0.15,
        0.14,
        1.0,
        {
            "message": 38,
            "reply": 24,
            "reaction_given": 26,
            "post": 9,
            "answer_accepted": 2,
            "content_published": 1,
        },
    ),
    _Persona(
        "casual", 0.35, 0.025, 0.4, {"message": 35, "reaction_given": 40, "reply": 15, "post": 10}
    ),
    # Drifted away: active-like until some day at least 100 days ago, nothing since.
    _Persona(
        "dormant", 0.20, 0.08, 0.8, {"message": 40, "reaction_given": 30, "reply": 20, "post": 10}
    ),
    _Persona("never", 0.27, 0.0, 0.0, {}),
)

CHANNELS = {
    "#general": 30,
    "#help": 20,
    "#design": 12,
    "#data": 10,
    "#frontend": 10,
    "#random": 8,
    "#jobs": 5,
    "#introductions": 5,
}
MEETUP_CITIES = ("Austin", "London", "Berlin", "Bengaluru", "Lagos")
TOPICS = (
    "design tokens",
    "feature flags",
    "onboarding docs",
    "Postgres indexing",
    "dark mode",
    "CI caching",
    "accessibility audits",
    "product analytics",
    "on-call rotations",
    "API versioning",
    "user interviews",
    "data contracts",
    "monorepos",
    "pricing pages",
    "observability",
    "hiring juniors",
    "LLM evaluations",
    "community metrics",
    "design reviews",
    "technical debt",
)
POST_TITLES = (
    "How do you handle {}?",
    "Show and tell: our take on {}",
    "What we learned about {}",
    "Looking for advice on {}",
    "Is anyone else struggling with {}?",
)
CONTENT_TITLES = ("{}: a practical guide", "Notes on {}", "{} in production", "Why {} matters")
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
# Mean reactions and replies a member receives on what they write.
RECEIVED = {"post": (3.0, 1.5), "content_published": (6.0, 2.0), "reply": (0.6, 0.2)}


def demo_activities(people: Sequence[Person], now: datetime) -> list[DemoActivity]:
    """The history of `people` up to `now` (exclusive), oldest kinds of activity first."""
    now = now.astimezone(UTC)
    personas = {person.external_id: _persona(person) for person in people}
    activities: list[DemoActivity] = []
    for person in people:
        persona, stop = personas[person.external_id]
        activities.extend(_own_activities(person, persona, stop, now))
    activities.extend(_events(people, personas, now))
    return activities


def _rng(*parts: object) -> random.Random:
    # Not for security: a fixed seed so that every demo has the same history.
    return random.Random(":".join(map(str, (HISTORY_SEED, *parts))))  # noqa: S311


def _persona(person: Person) -> tuple[_Persona, int]:
    """The member's persona and, for the dormant, the days back from now they stopped."""
    rng = _rng("persona", person.external_id)
    draw, persona = rng.random(), PERSONAS[-1]
    for candidate in PERSONAS:
        if draw < candidate.share:
            persona = candidate
            break
        draw -= candidate.share
    stop = rng.randint(100, HISTORY_DAYS) if persona.name == "dormant" else 0
    if not person.ever_seen:
        persona = PERSONAS[-1]
    return persona, stop


def _days(now: datetime, person: Person, stop: int) -> Iterator[tuple[int, datetime]]:
    """(days back, midnight UTC) for each day of the history, oldest first."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for back in range(HISTORY_DAYS, stop - 1, -1):
        yield back, today - timedelta(days=back)


def _at(rng: random.Random, day: datetime) -> datetime:
    hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
    return day + timedelta(hours=hour, seconds=rng.randrange(3600))


def _own_activities(
    person: Person, persona: _Persona, stop: int, now: datetime
) -> Iterator[DemoActivity]:
    if not persona.kinds:
        return
    rng = _rng("history", person.external_id)
    kinds, kind_weights = list(persona.kinds), list(persona.kinds.values())
    channels, channel_weights = list(CHANNELS), list(CHANNELS.values())
    # Each member has their own pace around their persona's.
    pace = rng.uniform(0.6, 1.4)
    sequence = 0
    for back, day in _days(now, person, stop):
        growth = 0.75 + 0.25 * (1 - back / HISTORY_DAYS)  # a slowly growing community
        weekend = 0.5 if day.weekday() >= 5 else 1.0
        if rng.random() >= persona.day_chance * pace * growth * weekend:
            continue
        actions = (
            1 + int(rng.expovariate(1 / persona.extra_actions)) if persona.extra_actions else 1
        )
        for _ in range(actions):
            kind = rng.choices(kinds, kind_weights)[0]
            occurred_at = _at(rng, day)
            channel, title = _place(rng, kind, channels, channel_weights)
            sequence += 1
            external_id = f"{person.external_id}-a{sequence}"
            if not person.joined_at <= occurred_at < now:
                continue
            yield DemoActivity(person.external_id, kind, occurred_at, external_id, channel, title)
            yield from _received(rng, person, kind, occurred_at, external_id, channel, title, now)


def _place(
    rng: random.Random, kind: str, channels: list[str], weights: list[int]
) -> tuple[str, str]:
    """The channel and title of an activity of `kind`."""
    topic = rng.choice(TOPICS)
    if kind == "content_published":
        return "Blog", rng.choice(CONTENT_TITLES).format(topic).capitalize()
    if kind == "answer_accepted":
        return "#help", "Re: " + rng.choice(POST_TITLES[:1] + POST_TITLES[3:]).format(topic)
    channel = rng.choices(channels, weights)[0]
    if kind == "post":
        return channel, rng.choice(POST_TITLES).format(topic)
    if kind == "reply":
        return channel, "Re: " + rng.choice(POST_TITLES).format(topic)
    return channel, ""


def _received(
    rng: random.Random,
    person: Person,
    kind: str,
    written_at: datetime,
    external_id: str,
    channel: str,
    title: str,
    now: datetime,
) -> Iterator[DemoActivity]:
    """Reactions and replies the member receives on what they wrote."""
    if kind not in RECEIVED:
        return
    reactions, replies = RECEIVED[kind]
    counts = {
        "reaction_received": int(rng.expovariate(1 / reactions)),
        "reply_received": int(rng.expovariate(1 / replies)),
    }
    for received, count in counts.items():
        for n in range(1, count + 1):
            occurred_at = written_at + timedelta(seconds=int(rng.expovariate(1 / 21600)))
            if occurred_at < now:
                suffix = "r" if received == "reaction_received" else "p"
                yield DemoActivity(
                    person.external_id,
                    received,
                    occurred_at,
                    f"{external_id}-{suffix}{n}",
                    channel,
                    title,
                )


# Events -------------------------------------------------------------------------------------

# Chance that a member of a persona registers for an event in their city / online.
_REGISTERS = {
    "super": (0.55, 0.2),
    "active": (0.3, 0.06),
    "casual": (0.06, 0.01),
    "dormant": (0.15, 0.02),
}
_ATTENDS = 0.65


def _events(
    people: Sequence[Person], personas: dict[str, tuple[_Persona, int]], now: datetime
) -> Iterator[DemoActivity]:
    """Monthly meetups in a few cities and fortnightly online office hours."""
    rng = _rng("events")
    people = sorted(people, key=lambda person: person.external_id)  # any order in, same out
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    supers = [p for p in people if personas[p.external_id][0].name == "super"]
    schedule: list[tuple[int, str, str]] = []  # (days back, city or "", channel)
    first = HISTORY_DAYS - 15  # registrations open up to two weeks before
    for month in range(first // 30):
        for offset, city in enumerate(MEETUP_CITIES):
            schedule.append((first - 30 * month - 3 * offset, city, f"Meetup {city}"))
    schedule += [(back, "", "Online") for back in range(first - 2, 0, -14)]
    for back, city, channel in schedule:
        starts_at = today - timedelta(days=back) + timedelta(hours=18)
        topic = rng.choice(TOPICS).capitalize()
        title = f"{city} meetup: {topic}" if city else f"Office hours: {topic}"
        key = f"event-{(today - timedelta(days=back)).date().isoformat()}-{city or 'online'}"
        eligible = [p for p in supers if p.joined_at < starts_at and (not city or p.city == city)]
        hosts = eligible or [p for p in supers if p.joined_at < starts_at]
        if hosts:
            host = rng.choice(hosts)
            yield DemoActivity(
                host.external_id, "event_hosted", starts_at, f"{key}-host", channel, title
            )
        for person in people:
            persona, stop = personas[person.external_id]
            chances = _REGISTERS.get(persona.name)
            if chances is None or (city and person.city != city) or back < stop:
                continue
            if rng.random() >= chances[0 if city else 1]:
                continue
            registered_at = starts_at - timedelta(hours=rng.randint(2, 14 * 24))
            if registered_at < person.joined_at:
                continue
            yield DemoActivity(
                person.external_id,
                "event_registered",
                registered_at,
                f"{key}-reg-{person.external_id}",
                channel,
                title,
            )
            if starts_at < now and rng.random() < _ATTENDS:
                yield DemoActivity(
                    person.external_id,
                    "event_attended",
                    starts_at,
                    f"{key}-att-{person.external_id}",
                    channel,
                    title,
                )
