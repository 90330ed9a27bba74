"""Benchmark: scoring a big community against a plain GROUP BY over the same activities.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/communityos_bench \\
        .venv/bin/python bench/scoring.py [--members 100000] [--activities-per-member 36]

PostgreSQL only. Loads a separate community (slug `bench-scoring`) with COPY: `--members`
members and about `--activities-per-member` times as many activities, deterministic for a given
`--seed` and skewed like a real community (many members never active, a few very active, most
activity recent). Then it times, best of `--repeat` each, `score_community` (docs/scoring.md: one
upsert of every member's score) and the plain aggregate

    SELECT member_id, count(*), max(occurred_at) FROM engagement_activity
    WHERE community_id = %s GROUP BY member_id

and prints both and their ratio. The bench community is deleted at the end (`--keep` keeps it).
Not part of the test run; see bench/README.md for figures.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "community_os.settings")
os.environ.setdefault("DEBUG", "true")  # a local tool: no SECRET_KEY needed

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from engagement.models import ActivityKind  # noqa: E402
from engagement.scoring import community_health, score_community  # noqa: E402
from members.models import Community  # noqa: E402

SLUG = "bench-scoring"
AS_OF = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # fixed, so runs compare
# How often each kind occurs (the demo community's mix, roughly).
KIND_MIX = {
    "message": 25,
    "reaction_received": 22,
    "reply": 16,
    "reaction_given": 14,
    "reply_received": 8,
    "post": 6,
    "event_registered": 3,
    "event_attended": 2,
    "answer_accepted": 2,
    "content_published": 1,
    "event_hosted": 0.2,
}
BASELINE_SQL = """
SELECT member_id, count(*), max(occurred_at)
FROM engagement_activity
WHERE community_id = %s
GROUP BY member_id
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--activities-per-member", type=float, default=36.0)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs each")
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--keep", action="store_true", help="keep the bench community")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print(
            "bench/scoring.py measures PostgreSQL; this database is "
            f"{connection.vendor}. Set DATABASE_URL=postgres://... (a dedicated database, "
            "e.g. communityos_bench, created with createdb and migrated).",
            file=sys.stderr,
        )
        return 2

    delete_bench_community()
    community = Community.objects.create(name="Scoring benchmark", slug=SLUG)
    try:
        started = time.monotonic()
        rng = random.Random(args.seed)  # Not for security: a reproducible data set.
        member_ids = load_members(community, args.members, rng)
        print(f"  members loaded after {time.monotonic() - started:.1f} s", flush=True)
        activities = load_activities(community, member_ids, args.activities_per_member, rng)
        print(f"  activities loaded after {time.monotonic() - started:.1f} s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE members_member")
            cursor.execute("ANALYZE engagement_activity")
        print(
            f"Loaded {len(member_ids):,} members and {activities:,} activities in "
            f"{time.monotonic() - started:.1f} s (PostgreSQL {server_version()}).",
            flush=True,
        )

        baseline = best_of(args.repeat, lambda: run_baseline(community))
        scoring = best_of(args.repeat, lambda: score_community(community, as_of=AS_OF))
        health = community_health(community)
        print(
            f"Scored {health['scored']:,} members as of {AS_OF:%Y-%m-%d %H:%M}Z: "
            f"{health['super_users']:,} super users, {health['active']:,} active, "
            f"{health['inactive']:,} inactive."
        )
        print(f"GROUP BY member (best of {args.repeat}): {baseline:8.3f} s")
        print(f"score_community  (best of {args.repeat}): {scoring:8.3f} s")
        print(f"ratio score_community / GROUP BY:       {scoring / baseline:8.2f}x")
    finally:
        if not args.keep:
            delete_bench_community()
    return 0


def best_of(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def run_baseline(community: Community) -> int:
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_SQL, [community.pk])
        return len(cursor.fetchall())


def server_version() -> str:
    version = connection.cursor().connection.info.server_version
    return f"{version // 10000}.{version % 10000}"


def load_members(community: Community, count: int, rng: random.Random) -> list[int]:
    """`count` members joined over the last three years, with COPY; their ids in order."""
    now = datetime.now(UTC).isoformat()
    columns = (
        "community_id, name, email, company_name, job_title, location, city, country, bio, "
        "avatar_url, joined_at, last_seen_at, attributes, created_at, updated_at"
    )
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY members_member ({columns}) FROM STDIN") as copy:
            for n in range(1, count + 1):
                joined = AS_OF - timedelta(seconds=int(3 * 365 * 86400 * rng.random()))
                copy.write_row(
                    (
                        community.pk, f"Bench Member {n}", "", "", "", "", "", "", "", "",
                        joined.isoformat(), None, "{}", now, now,
                    )
                )  # fmt: skip
        cursor.execute(
            "SELECT id FROM members_member WHERE community_id = %s ORDER BY id", [community.pk]
        )
        return [row[0] for row in cursor.fetchall()]


def load_activities(
    community: Community, member_ids: list[int], per_member: float, rng: random.Random
) -> int:
    """About per_member * members activities, skewed, written with COPY; returns how many.

    40% of members never do anything; the others' volumes follow a log-normal (a few do
    thousands of things a year); each member's activity clusters before their own last active
    day, which is mostly recent, and reaches back beyond the 365-day window for some.
    """
    kinds = dict(ActivityKind.objects.for_community(community).values_list("slug", "pk"))
    kind_ids = [kinds[slug] for slug in KIND_MIX]
    kind_weights = list(KIND_MIX.values())
    weights = [0.0 if rng.random() < 0.4 else rng.lognormvariate(0, 1.4) for _ in member_ids]
    total = per_member * len(member_ids)
    scale = total / sum(weights)
    created = AS_OF.strftime("%Y-%m-%d %H:%M:%S+00")
    as_of_epoch = int(AS_OF.timestamp())
    columns = (
        "community_id, member_id, kind_id, occurred_at, source, external_id, channel, title, "
        "url, created_at"
    )
    # Lines in COPY's text format, formatted here: much faster than adapting row by row.
    prefix = f"{community.pk}\t"
    suffix = f"\tbench\t\t\t\t\t{created}\n"
    written = 0
    with connection.cursor() as cursor:
        # The rows reference only the members and kinds just made, so skip the per-row foreign
        # key triggers while loading (needs a superuser; the bench's own database).
        cursor.execute("SET session_replication_role = replica")
        with cursor.cursor.copy(f"COPY engagement_activity ({columns}) FROM STDIN") as copy:
            for member_id, weight in zip(member_ids, weights, strict=True):
                n = int(weight * scale + rng.random())
                if not n:
                    continue
                last_active = min(rng.expovariate(1 / 45), 420) * 86400
                spread = rng.uniform(20, 200) * 86400
                chosen = rng.choices(kind_ids, kind_weights, k=n)
                lines = []
                for kind_id in chosen:
                    ago = int(last_active + rng.expovariate(1 / spread)) + 1
                    occurred = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(as_of_epoch - ago))
                    lines.append(f"{prefix}{member_id}\t{kind_id}\t{occurred}{suffix}")
                copy.write("".join(lines))
                written += n
        cursor.execute("SET session_replication_role = DEFAULT")
    return written


def delete_bench_community() -> None:
    """Delete the bench community; big tables first, in SQL, which is much faster here."""
    community = Community.objects.filter(slug=SLUG).first()
    if community is None:
        return
    with connection.cursor() as cursor:
        for table in ("engagement_activity", "engagement_memberscore", "members_identity"):
            cursor.execute(f"DELETE FROM {table} WHERE community_id = %s", [community.pk])  # noqa: S608
        cursor.execute("DELETE FROM members_member WHERE community_id = %s", [community.pk])
    community.delete()


if __name__ == "__main__":
    sys.exit(main())
