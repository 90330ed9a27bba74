"""A big, deterministic community for the segment and web benchmarks (bench/README.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/communityos_bench \\
        .venv/bin/python bench/generate.py [--members 100000] [--seed 20260601] \\
        [--activities-per-member 0] [--force]

PostgreSQL only. Makes the community `bench-segments-<members>` with COPY: `--members`
members with skewed companies (a Zipf tail of 2,000), 15 job titles, 40 cities in 12
countries, joins over three years, last-seen skewed recent, identities (slack, discourse,
github), a `plan` attribute, one MemberScore per member (40% never active score 0; the others
spread over 0-3), optionally activities (bench/scoring.py's loader); then 10 manual segments
of 1,000 members and 100 smart segments drawn from the real rule grammar (rules.parse
validates each), created with the segment services but without enqueuing refreshes (there is
no worker in a benchmark).

The smart rules have 1-3 conditions; their selectivity, estimated with rules.matches on a
sample of the generated members, averages 5-15%, one is above 50% and one below 0.1%. Three of
them are pinned as the pills the web benchmark opens: "Pill small" (about 0.05% of members),
"Pill medium" (about 3%) and "Pill large" (about 70%).

The same `--members` and `--seed` give the same data; a community already generated with
them is reused unless `--force`. Importable: `generate(members=..., seed=...)`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "community_os.settings")
os.environ.setdefault("DEBUG", "true")  # a local tool: no SECRET_KEY needed

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from members.models import Community, Member  # noqa: E402
from segments import rules, services  # noqa: E402
from segments.models import Kind, Segment  # noqa: E402

SLUG = "bench-segments"  # then the size: bench-segments-100000
AS_OF = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # fixed, so runs compare
DAY = 86400
SAMPLE_SIZE = 20_000  # members whose facts estimate each rule's selectivity
MANUAL_SEGMENTS, MANUAL_SIZE = 10, 1_000
SMART_SEGMENTS = 100
PILLS = {"Pill small": 0.0005, "Pill medium": 0.03, "Pill large": 0.70}

FIRST = [
    "Ada",
    "Alan",
    "Amara",
    "Ana",
    "Ben",
    "Carla",
    "Chen",
    "Dana",
    "Diego",
    "Elif",
    "Emma",
    "Farah",
    "Grace",
    "Hana",
    "Ivan",
    "Jonas",
    "Kai",
    "Lara",
    "Leo",
    "Maya",
    "Mia",
    "Nia",
    "Noah",
    "Omar",
    "Priya",
    "Rosa",
    "Sam",
    "Sara",
    "Tom",
    "Yuki",
    "Zoe",
]
LAST = [
    "Almeida",
    "Baker",
    "Brown",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kim",
    "Kowalski",
    "Lee",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Nakamura",
    "Novak",
    "Okafor",
    "Patel",
    "Rossi",
    "Schmidt",
    "Silva",
    "Smith",
    "Tanaka",
    "Weber",
    "Wilson",
    "Yilmaz",
]
COMPANY_A = [
    "Acme",
    "Apex",
    "Atlas",
    "Beacon",
    "Blue",
    "Bright",
    "Cedar",
    "Cloud",
    "Coral",
    "Crest",
    "Delta",
    "Echo",
    "Ember",
    "Falcon",
    "Fern",
    "Flux",
    "Forge",
    "Giant",
    "Granite",
    "Harbor",
    "Helix",
    "Indigo",
    "Iron",
    "Jade",
    "Juniper",
    "Kite",
    "Lumen",
    "Maple",
    "Meridian",
    "Nimbus",
    "Nova",
    "Oak",
    "Onyx",
    "Orbit",
    "Pine",
    "Pixel",
    "Polar",
    "Quartz",
    "Radiant",
    "Raven",
    "Sage",
    "Signal",
    "Solar",
    "Spruce",
    "Summit",
    "Tidal",
    "Vector",
    "Willow",
    "Zenith",
    "Zephyr",
]
COMPANY_B = [
    "Labs",
    "Systems",
    "Works",
    "Analytics",
    "Software",
    "Cloud",
    "Data",
    "Networks",
    "Robotics",
    "Health",
    "Energy",
    "Media",
    "Studio",
    "Partners",
    "Bank",
    "Foods",
    "Logistics",
    "Security",
    "Capital",
    "Games",
    "Bio",
    "Motors",
    "Retail",
    "Telecom",
    "Digital",
    "Ventures",
    "Consulting",
    "Dynamics",
    "Group",
    "Industries",
    "Tech",
    "AI",
    "Solutions",
    "Platforms",
    "Devices",
    "Materials",
    "Mobility",
    "Payments",
    "Insights",
    "Commerce",
]
COMPANIES = 2_000
NO_COMPANY = 0.30
JOB_TITLES = {  # 15 titles and how common they are
    "Software Engineer": 20,
    "Senior Software Engineer": 12,
    "Data Scientist": 7,
    "Product Manager": 8,
    "Product Designer": 6,
    "UX Researcher": 3,
    "Engineering Manager": 5,
    "DevOps Engineer": 6,
    "Developer Advocate": 3,
    "Technical Writer": 2,
    "Founder": 4,
    "CTO": 2,
    "Student": 10,
    "Data Engineer": 7,
    "Community Manager": 5,
}
CITIES = {  # (city, country): weight
    ("San Francisco", "United States"): 9,
    ("New York", "United States"): 8,
    ("Austin", "United States"): 4,
    ("Seattle", "United States"): 4,
    ("Chicago", "United States"): 3,
    ("Boston", "United States"): 3,
    ("London", "United Kingdom"): 7,
    ("Manchester", "United Kingdom"): 2,
    ("Edinburgh", "United Kingdom"): 1,
    ("Berlin", "Germany"): 6,
    ("Munich", "Germany"): 3,
    ("Hamburg", "Germany"): 2,
    ("Paris", "France"): 5,
    ("Lyon", "France"): 1.5,
    ("Amsterdam", "Netherlands"): 3,
    ("Rotterdam", "Netherlands"): 1,
    ("Madrid", "Spain"): 3,
    ("Barcelona", "Spain"): 3,
    ("Lisbon", "Portugal"): 2,
    ("Porto", "Portugal"): 1,
    ("Bangalore", "India"): 6,
    ("Mumbai", "India"): 3,
    ("Pune", "India"): 2,
    ("Delhi", "India"): 2,
    ("Hyderabad", "India"): 2,
    ("Tokyo", "Japan"): 3,
    ("Osaka", "Japan"): 1,
    ("São Paulo", "Brazil"): 3,
    ("Rio de Janeiro", "Brazil"): 1,
    ("Toronto", "Canada"): 3,
    ("Vancouver", "Canada"): 2,
    ("Montreal", "Canada"): 1,
    ("Sydney", "Australia"): 2,
    ("Melbourne", "Australia"): 2,
    ("Lagos", "Nigeria"): 1.5,
    ("Nairobi", "Nigeria"): 0.3,
    ("Stockholm", "Sweden"): 1.5,
    ("Warsaw", "Poland"): 1.5,
    ("Kraków", "Poland"): 1,
    ("Dublin", "Ireland"): 1.5,
}
SOURCES = {"slack": 0.55, "discourse": 0.25, "github": 0.15}
PLANS = {"free": 0.35, "pro": 0.18, "enterprise": 0.07}  # the rest have no plan attribute


@dataclass
class Generated:
    community: Community
    members: int
    member_ids: list[int] = field(default_factory=list)
    sample: list[dict[str, Any]] = field(default_factory=list)
    smart: list[Segment] = field(default_factory=list)
    manual: list[Segment] = field(default_factory=list)
    pills: dict[str, Segment] = field(default_factory=dict)


def company_name(rank: int) -> str:
    return f"{COMPANY_A[rank % len(COMPANY_A)]} {COMPANY_B[rank // len(COMPANY_A)]}"


def company_shares() -> list[float]:
    """Each company's share of all members (Zipf, s = 1.07, after the members without one)."""
    weights = [1 / (rank + 1) ** 1.07 for rank in range(COMPANIES)]
    total = sum(weights)
    return [(1 - NO_COMPANY) * w / total for w in weights]


def slug_for(members: int) -> str:
    return f"{SLUG}-{members}"


def community_name(members: int, seed: int) -> str:
    return f"Segments benchmark ({members} members, seed {seed})"


# --- Members ------------------------------------------------------------------------------------


def _ts(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch))


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def member_rows(count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    """The facts of `count` members, in order (field names as rules.matches reads them)."""
    companies = [company_name(rank) for rank in range(COMPANIES)]
    shares = company_shares()
    cum_companies = _cumulative(shares)
    titles, title_weights = list(JOB_TITLES), _cumulative(list(JOB_TITLES.values()))
    places, place_weights = list(CITIES), _cumulative(list(CITIES.values()))
    as_of = int(AS_OF.timestamp())
    three_years = 3 * 365 * DAY
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = (
            ""
            if rng.random() < NO_COMPANY
            else rng.choices(companies, cum_weights=cum_companies)[0]
        )
        title = rng.choices(titles, cum_weights=title_weights)[0]
        if rng.random() < 0.04:
            title = ""
        city, country = rng.choices(places, cum_weights=place_weights)[0]
        # Joins grow over the three years (more recent joins are more common).
        joined = as_of - int(three_years * (1 - rng.random() ** 0.7))
        roll = rng.random()
        last_seen: int | None
        if roll < 0.08:
            last_seen = None
        else:
            ago = int(rng.expovariate(1 / (35 * DAY))) if roll < 0.8 else rng.randrange(three_years)
            last_seen = max(joined, as_of - ago)
        plan_roll, plan = rng.random(), None
        for name, share in PLANS.items():
            if plan_roll < share:
                plan = name
                break
            plan_roll -= share
        sources = {source for source, share in SOURCES.items() if rng.random() < share}
        active = rng.random() >= 0.4
        if active:
            frequency = min(3.0, rng.gammavariate(2, 0.45))
            recency = min(3.0, 3.0 * rng.random() ** 0.6)
            impact = min(3.0, rng.lognormvariate(-0.4, 0.7))
            days90 = min(90, int(frequency * 30 * rng.random()) + 1)
            last_active: int | None = as_of - int(rng.expovariate(1 / (20 * DAY)))
        else:
            frequency = recency = impact = 0.0
            days90, last_active = 0, None
        scores = [Decimal(f"{value:.2f}") for value in (frequency, recency, impact)]
        engagement = (sum(scores) / 3).quantize(Decimal("0.01"))
        yield {
            "n": n,
            "name": f"{first} {last}",
            "email": f"{first}.{last}.{n}@example.com".lower(),
            "company_name": company,
            "job_title": title,
            "location": f"{city}, {country}",
            "city": city,
            "country": country,
            "bio": f"{title} at {company}" if company and rng.random() < 0.2 else "",
            "joined_at": joined,
            "last_seen_at": last_seen,
            "attributes": {"plan": plan} if plan else {},
            "sources": sources,
            "frequency_score": scores[0],
            "recency_score": scores[1],
            "impact_score": scores[2],
            "engagement_score": engagement,
            "active_days_90": days90,
            "last_active_at": last_active,
            "impact_raw": round(float(scores[2]) * 40, 3),
        }


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _facts(row: dict[str, Any], member_id: int) -> dict[str, Any]:
    """rules.matches' view of a generated row."""
    facts = dict(row)
    facts["id"] = member_id
    for key in ("joined_at", "last_seen_at"):
        facts[key] = None if row[key] is None else datetime.fromtimestamp(row[key], UTC)
    facts["segments"] = set()
    return facts


def load_members(community: Community, count: int, rng: random.Random) -> tuple[list[int], list]:
    """COPY the members, their identities and scores; (member ids in order, sampled facts)."""
    now = _ts(int(time.time()))
    step = max(1, count // SAMPLE_SIZE)
    sample: list[dict[str, Any]] = []
    member_columns = (
        "community_id, name, email, company_name, job_title, location, city, country, bio, "
        "avatar_url, joined_at, last_seen_at, attributes, created_at, updated_at"
    )
    rows: list[dict[str, Any]] = []
    prefix = f"{community.pk}\t"
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY members_member ({member_columns}) FROM STDIN") as copy:
            lines = []
            for row in member_rows(count, rng):
                rows.append(row)
                plan = row["attributes"].get("plan")
                lines.append(
                    prefix
                    + "\t".join(
                        (
                            _copy_escape(row["name"]),
                            row["email"],
                            _copy_escape(row["company_name"]),
                            row["job_title"],
                            _copy_escape(row["location"]),
                            _copy_escape(row["city"]),
                            row["country"],
                            _copy_escape(row["bio"]),
                            "",
                            _ts(row["joined_at"]),
                            "\\N" if row["last_seen_at"] is None else _ts(row["last_seen_at"]),
                            f'{{"plan": "{plan}"}}' if plan else "{}",
                            now,
                            now,
                        )
                    )
                    + "\n"
                )
                if len(lines) >= 10_000:
                    copy.write("".join(lines))
                    lines = []
            copy.write("".join(lines))
        cursor.execute(
            "SELECT id FROM members_member WHERE community_id = %s ORDER BY id", [community.pk]
        )
        member_ids = [row[0] for row in cursor.fetchall()]
        # Rows were copied in order into a new community: ids ascend with n.
        identity_lines, score_lines = [], []
        as_of = _ts(int(AS_OF.timestamp()))
        with cursor.cursor.copy(
            "COPY members_identity (community_id, member_id, source, external_id, created_at) "
            "FROM STDIN"
        ) as copy:
            for member_id, row in zip(member_ids, rows, strict=True):
                for source in sorted(row["sources"]):
                    identity_lines.append(
                        f"{prefix}{member_id}\t{source}\t{source}-{row['n']}\t{now}\n"
                    )
                if len(identity_lines) >= 10_000:
                    copy.write("".join(identity_lines))
                    identity_lines = []
            copy.write("".join(identity_lines))
        with cursor.cursor.copy(
            "COPY engagement_memberscore (member_id, community_id, frequency, recency, impact, "
            "engagement, active_days_90, last_active_at, impact_raw, as_of) FROM STDIN"
        ) as copy:
            null = "\\N"
            for member_id, row in zip(member_ids, rows, strict=True):
                last_active = row["last_active_at"]
                score_lines.append(
                    f"{member_id}\t{community.pk}\t{row['frequency_score']}\t"
                    f"{row['recency_score']}\t{row['impact_score']}\t{row['engagement_score']}\t"
                    f"{row['active_days_90']}\t{null if last_active is None else _ts(last_active)}"
                    f"\t{row['impact_raw']}\t{as_of}\n"
                )
                if len(score_lines) >= 10_000:
                    copy.write("".join(score_lines))
                    score_lines = []
            copy.write("".join(score_lines))
    for index in range(0, count, step):
        sample.append(_facts(rows[index], member_ids[index]))
    return member_ids, sample


# --- Rules --------------------------------------------------------------------------------------


def _condition_makers(
    rng: random.Random, manual_ids: list[int]
) -> list[Callable[[], dict[str, Any]]]:
    titles = list(JOB_TITLES)
    places = list(CITIES)
    countries = sorted({country for _, country in places})

    def company() -> str:
        # Mostly the big ones, sometimes the tail: a power law of its own, not the Zipf shares.
        return company_name(int(rng.paretovariate(0.9)) % COMPANIES)

    def rel(unit: str, low: int, high: int) -> dict[str, Any]:
        return {"amount": rng.randint(low, high), "unit": unit}

    def day(low_days: int, high_days: int) -> str:
        return (AS_OF.date() - timedelta(days=rng.randint(low_days, high_days))).isoformat()

    def between_days() -> list[str]:
        start = rng.randint(30, 1000)
        later = start - rng.randint(7, 120)
        return [day(start, start), day(later, later)]

    def score_field() -> str:
        return rng.choice(["frequency_score", "recency_score", "impact_score", "engagement_score"])

    return [
        lambda: {"field": "company_name", "op": "is", "value": company()},
        lambda: {
            "field": "company_name",
            "op": "is_any_of",
            "value": sorted({company() for _ in range(rng.randint(2, 4))}),
        },
        lambda: {"field": "company_name", "op": "contains", "value": rng.choice(COMPANY_A)},
        lambda: {"field": "company_name", "op": "ends_with", "value": rng.choice(COMPANY_B)},
        lambda: {"field": "company_name", "op": "is_empty"},
        lambda: {"field": "job_title", "op": "is", "value": rng.choice(titles)},
        lambda: {
            "field": "job_title",
            "op": "contains",
            "value": rng.choice(["engineer", "data", "product", "design", "manager", "ux"]),
        },
        lambda: {
            "field": "job_title",
            "op": "is_any_of",
            "value": sorted(set(rng.sample(titles, rng.randint(2, 3)))),
        },
        lambda: {"field": "job_title", "op": "not_contains", "value": "engineer"},
        lambda: {"field": "city", "op": "is", "value": rng.choice(places)[0]},
        lambda: {"field": "country", "op": "is", "value": rng.choice(countries)},
        lambda: {"field": "country", "op": "is_not", "value": rng.choice(countries)},
        lambda: {"field": "location", "op": "starts_with", "value": rng.choice(places)[0]},
        lambda: {"field": "name", "op": "starts_with", "value": rng.choice(FIRST)},
        lambda: {"field": "bio", "op": "is_not_empty"},
        lambda: {"field": "bio", "op": "contains", "value": rng.choice(["founder", "data", "cto"])},
        lambda: {"field": "joined_at", "op": "within_last", "value": rel("months", 1, 12)},
        lambda: {"field": "joined_at", "op": "more_than_ago", "value": rel("months", 12, 34)},
        lambda: {"field": "joined_at", "op": "after", "value": day(20, 400)},
        lambda: {"field": "joined_at", "op": "between", "value": between_days()},
        lambda: {"field": "last_seen_at", "op": "within_last", "value": rel("days", 1, 60)},
        lambda: {"field": "last_seen_at", "op": "more_than_ago", "value": rel("weeks", 8, 60)},
        lambda: {"field": "last_seen_at", "op": "is_empty"},
        lambda: {"field": "last_seen_at", "op": "before", "value": day(100, 700)},
        lambda: {
            "field": score_field(),
            "op": "gte",
            "value": float(Decimal(rng.randint(40, 280)) / 100),
        },
        lambda: {
            "field": score_field(),
            "op": "lt",
            "value": float(Decimal(rng.randint(10, 150)) / 100),
        },
        lambda: {"field": score_field(), "op": "between", "value": _between_scores(rng)},
        lambda: {"field": "active_days_90", "op": "gte", "value": rng.randint(5, 60)},
        lambda: {"field": "source", "op": "is", "value": rng.choice(list(SOURCES))},
        lambda: {"field": "source", "op": "is_not", "value": rng.choice(list(SOURCES))},
        lambda: {"field": "attributes.plan", "op": "is", "value": rng.choice(list(PLANS))},
        lambda: {"field": "attributes.plan", "op": "is_empty"},
        lambda: {"field": "segment", "op": "in", "value": rng.choice(manual_ids)},
        lambda: {"field": "segment", "op": "not_in", "value": rng.choice(manual_ids)},
    ]


def _between_scores(rng: random.Random) -> list[float]:
    low = rng.randint(20, 200)
    return [low / 100, min(300, low + rng.randint(20, 100)) / 100]


def random_rule(rng: random.Random, makers: list[Callable[[], dict[str, Any]]]) -> dict:
    """1-3 conditions; mostly "all", sometimes "any", sometimes a nested "any" of two."""
    size = rng.choice([1, 1, 2, 2, 2, 3])
    conditions: list[dict[str, Any]] = [rng.choice(makers)() for _ in range(size)]
    if size == 3 and rng.random() < 0.3:
        return {"all": [conditions[0], {"any": conditions[1:]}]}
    return {"any" if size > 1 and rng.random() < 0.2 else "all": conditions}


def selectivity(rule: dict, sample: list[dict[str, Any]]) -> float:
    parsed = rules.parse(rule)
    hits = sum(rules.matches(parsed, facts, as_of=AS_OF) for facts in sample)
    return hits / len(sample)


def choose_rules(
    rng: random.Random, sample: list[dict[str, Any]], manual_ids: list[int]
) -> list[tuple[str, dict, float]]:
    """(name, rule, estimated share) for the 3 pills and 97 other smart segments."""
    makers = _condition_makers(rng, manual_ids)
    shares = company_shares()
    chosen: list[tuple[str, dict, float]] = []
    # Small: one company whose share is closest to 0.05% (exact from the Zipf weights).
    small_rank = min(range(COMPANIES), key=lambda r: abs(shares[r] - PILLS["Pill small"]))
    small = {"all": [{"field": "company_name", "op": "is", "value": company_name(small_rank)}]}
    chosen.append(("Pill small", small, shares[small_rank]))
    # Medium and large: the closest among candidates of a few fitting shapes.
    medium_candidates = [
        {
            "all": [
                {"field": "job_title", "op": "is", "value": title},
                {"field": "country", "op": "is", "value": country},
            ]
        }
        for title in JOB_TITLES
        for country in ("United States", "India", "Germany", "United Kingdom")
    ]
    large_candidates = [
        {
            "any": [
                {
                    "field": "last_seen_at",
                    "op": "within_last",
                    "value": {"amount": d, "unit": "days"},
                },
                {"field": "engagement_score", "op": "gte", "value": 1},
            ]
        }
        for d in (30, 45, 60, 90, 120, 180)
    ]
    for name, candidates in (("Pill medium", medium_candidates), ("Pill large", large_candidates)):
        scored = [(abs(selectivity(c, sample) - PILLS[name]), c) for c in candidates]
        _, best = min(scored, key=lambda pair: pair[0])
        chosen.append((name, best, selectivity(best, sample)))
    # A segment below 0.1%: a company from the tail that covers under 0.03% of members.
    tiny_rank = min(range(COMPANIES), key=lambda r: abs(shares[r] - 0.0002))
    tiny = {
        "all": [
            {"field": "company_name", "op": "is", "value": company_name(tiny_rank)},
            {"field": "job_title", "op": "contains", "value": "engineer"},
        ]
    }
    chosen.append(("Tiny tail", tiny, selectivity(tiny, sample)))
    # The rest: random rules steered so the average lands near 9%.
    total = sum(share for _, _, share in chosen)
    seen = {json.dumps(rule, sort_keys=True) for _, rule, _ in chosen}
    attempts = 0
    while len(chosen) < SMART_SEGMENTS:
        attempts += 1
        rule = random_rule(rng, makers)
        rules.parse(rule)  # the real grammar: raises on anything invalid
        key = json.dumps(rule, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        share = selectivity(rule, sample)
        if not 0.002 <= share <= 0.45:
            continue
        target = 0.09 * (len(chosen) + 1)
        if abs(total + share - target) > abs(total - 0.09 * len(chosen)) + 0.08:
            continue  # would pull the average away from the target
        chosen.append((f"Smart {len(chosen) + 1:03d}", rule, share))
        total += share
    print(
        f"  {SMART_SEGMENTS} smart rules chosen from {attempts + 4} candidates; estimated "
        f"average share {total / SMART_SEGMENTS:.1%}",
        flush=True,
    )
    return chosen


# --- Segments -----------------------------------------------------------------------------------


def create_segments(generated: Generated, rng: random.Random) -> None:
    """10 manual segments of 1,000 members, then the smart ones, without enqueuing refreshes."""
    community = generated.community
    with (
        mock.patch("segments.tasks.refresh_later"),
        mock.patch("segments.tasks.refresh_dependents_later"),
    ):
        manual_ids = []
        positions_by_segment: dict[int, set[int]] = {}
        for index in range(MANUAL_SEGMENTS):
            segment = services.segment_create(
                community=community, name=f"Manual {index + 1:02d}", kind=Kind.MANUAL
            )
            size = min(MANUAL_SIZE, generated.members)
            positions = rng.sample(range(generated.members), size)
            members = list(
                Member.objects.filter(pk__in=[generated.member_ids[p] for p in positions])
            )
            services.segment_add_members(segment=segment, members=members)
            manual_ids.append(segment.pk)
            positions_by_segment[segment.pk] = set(positions)
            generated.manual.append(segment)
        step = max(1, generated.members // SAMPLE_SIZE)
        for index, facts in enumerate(generated.sample):
            position = index * step
            facts["segments"] = {
                pk for pk, positions in positions_by_segment.items() if position in positions
            }
        for name, rule, share in choose_rules(rng, generated.sample, manual_ids):
            segment = services.segment_create(
                community=community,
                name=name,
                kind=Kind.SMART,
                rule=rule,
                description=f"Estimated share {share:.3%}",
                pinned=name in PILLS,
            )
            generated.smart.append(segment)
            if name in PILLS:
                generated.pills[name] = segment


# --- Whole community ----------------------------------------------------------------------------


def delete_community(slug: str) -> None:
    """Delete a bench community; big tables first, in SQL, which is much faster here."""
    community = Community.objects.filter(slug=slug).first()
    if community is None:
        return
    with connection.cursor() as cursor:
        for table in (
            "segments_membershipchange",
            "segments_segmentmembership",
            "engagement_activity",
            "engagement_memberscore",
            "members_identity",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE community_id = %s", [community.pk])  # noqa: S608
        cursor.execute("DELETE FROM segments_segment WHERE community_id = %s", [community.pk])
        cursor.execute("DELETE FROM members_member WHERE community_id = %s", [community.pk])
    community.delete()


def existing(members: int, seed: int, *, changed_ok: bool = False) -> Generated | None:
    """The community generated earlier with these settings, if it is complete (and unchanged
    by bench/segments.py, unless `changed_ok`)."""
    name = community_name(members, seed)
    community = Community.objects.filter(
        slug=slug_for(members),
        **{"name__startswith" if changed_ok else "name": name},
    ).first()
    if community is None:
        return None
    segments = list(Segment.objects.for_community(community).order_by("pk"))
    smart = [s for s in segments if s.kind == Kind.SMART]
    if len(smart) != SMART_SEGMENTS:
        return None
    generated = Generated(community=community, members=members)
    generated.smart = smart
    generated.manual = [s for s in segments if s.kind == Kind.MANUAL]
    generated.pills = {s.name: s for s in smart if s.name in PILLS}
    generated.member_ids = list(
        Member.objects.for_community(community).order_by("pk").values_list("pk", flat=True)
    )
    return generated


def generate(
    *,
    members: int = 100_000,
    seed: int = 20260601,
    activities_per_member: float = 0.0,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> Generated:
    """The bench community with these settings: reused when it exists, else made afresh."""
    if connection.vendor != "postgresql":
        raise SystemExit("bench/generate.py needs PostgreSQL (DATABASE_URL=postgres://...).")
    if not force and (found := existing(members, seed)) is not None:
        log(f"Reusing {found.community.name}.")
        return found
    delete_community(slug_for(members))
    started = time.monotonic()
    rng = random.Random(seed)  # Not for security: a reproducible data set.
    with transaction.atomic():
        community = Community.objects.create(
            name=community_name(members, seed), slug=slug_for(members)
        )
        generated = Generated(community=community, members=members)
        generated.member_ids, generated.sample = load_members(community, members, rng)
    log(
        f"  {members:,} members, identities and scores loaded in {time.monotonic() - started:.1f} s"
    )
    if activities_per_member:
        from bench.scoring import load_activities

        count = load_activities(community, generated.member_ids, activities_per_member, rng)
        log(f"  {count:,} activities loaded after {time.monotonic() - started:.1f} s")
    create_segments(generated, rng)
    with connection.cursor() as cursor:
        for table in (
            "members_member",
            "members_identity",
            "engagement_memberscore",
            "segments_segmentmembership",
            "segments_segment",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    log(f"Generated {community.name} in {time.monotonic() - started:.1f} s.")
    return generated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--activities-per-member", type=float, default=0.0)
    parser.add_argument("--force", action="store_true", help="regenerate even if it exists")
    parser.add_argument("--delete", action="store_true", help="delete the bench community")
    args = parser.parse_args()
    if args.delete:
        delete_community(slug_for(args.members))
        return 0
    generated = generate(
        members=args.members,
        seed=args.seed,
        activities_per_member=args.activities_per_member,
        force=args.force,
    )
    for name, segment in sorted(generated.pills.items()):
        print(f"  {name}: segment {segment.pk}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
