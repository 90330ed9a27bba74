"""Benchmark: imports against the least any import must do, in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/communityos_bench \\
        .venv/bin/python bench/imports.py [--members 100000] [--activities 1000000]

PostgreSQL only. Writes a members CSV of `--members` rows and an activities CSV of
`--activities` rows for them (deterministic for `--seed`), then times, in one run:

- new members: `import_members` into an empty community, against a `COPY` of the file into
  a staging table plus one `INSERT ... SELECT` into members_member;
- the same file again (every row unchanged), and the file with 2 % of rows changed: against
  the `COPY` plus one `UPDATE ... FROM` of every row;
- new activities, and the same activities again: `import_activities` against the `COPY` plus
  one `INSERT ... SELECT` into engagement_activity;

and the peak memory (max RSS of a fresh process) of a members and an activities import at
`--memory-factor` times fewer rows and at the full size. Each ratio is printed with its verdict
against the target of the imports issue. The bench communities are deleted at the end.
Not part of the test run; see bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "community_os.settings")
os.environ.setdefault("DEBUG", "true")  # a local tool: no SECRET_KEY needed

import django  # noqa: E402

django.setup()

from celery.app.task import Task  # noqa: E402
from django.db import connection  # noqa: E402

from engagement.importing import import_activities  # noqa: E402
from members.importing import import_members  # noqa: E402
from members.models import Community  # noqa: E402

TARGETS = {
    "new members": 2.5,
    "the same file again": 1.5,
    "2 % of rows changed": 2.0,
    "new activities": 2.5,
    "the same activities again": 1.5,
}
MEMORY_TARGET = 1.5
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell"]
TITLES = ["Product Manager", "Designer", "Engineer", "Founder", "Developer Advocate", "CTO"]
CITIES = [("Austin", "United States"), ("Berlin", "Germany"), ("Lagos", "Nigeria")]
KINDS = ["message", "reply", "post", "reaction_given", "event_attended"]
START = datetime(2025, 1, 1, tzinfo=UTC)
MEMBER_COLUMNS = "external_id,source,name,email,company_name,job_title,city,country,joined_at,Plan"


def write_members(path: Path, count: int, seed: int, *, changed: float = 0.0) -> None:
    rng = random.Random(seed)
    changed_rng = random.Random(seed + 1)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(MEMBER_COLUMNS.split(","))
        for n in range(count):
            city, country = rng.choice(CITIES)
            title = rng.choice(TITLES)
            if changed and changed_rng.random() < changed:
                title = f"Senior {title}"
            joined = START + timedelta(minutes=rng.randrange(600_000))
            writer.writerow(
                [
                    f"U{n}",
                    "bench",
                    f"Member {n}",
                    f"member{n}@example.org",
                    rng.choice(COMPANIES),
                    title,
                    city,
                    country,
                    joined.isoformat(),
                    rng.choice(["Free", "Pro", "Team"]),
                ]
            )


def write_activities(path: Path, count: int, members: int, seed: int) -> None:
    rng = random.Random(seed + 2)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["source", "member_external_id", "kind", "occurred_at", "external_id"])
        for n in range(count):
            member = min(members - 1, int(rng.paretovariate(1.2)) * 7 % members)
            when = START + timedelta(seconds=rng.randrange(40_000_000))
            writer.writerow(["bench", f"U{member}", rng.choice(KINDS), when.isoformat(), f"a{n}"])


def fresh_community(slug: str) -> Community:
    for community in Community.objects.filter(slug=slug):
        drop(community)
    return Community.objects.create(name=slug, slug=slug)


def drop(community: Community) -> None:
    """Delete a bench community's rows table by table (Django's cascade would load and signal
    every one of a million rows), then the community."""
    tables = (
        "segments_membershipchange",
        "segments_segmentmembership",
        "segments_segment",
        "engagement_activity",
        "engagement_memberscore",
        "engagement_healthsnapshot",
        "members_identity",
        "members_importjob",
        "members_membermerge",
        "members_member",
    )
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {table} WHERE community_id = %s", [community.pk])  # noqa: S608
    community.delete()


def clear(community: Community, table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE community_id = %s", [community.pk])  # noqa: S608


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bare_copy(path: Path, columns: str) -> None:
    """COPY the file into a staging table, as any import must read it."""
    names = ", ".join(f"{name.lower()} text" for name in columns.split(","))
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_stage")
        cursor.execute(f"CREATE TEMPORARY TABLE bench_stage ({names})")
        with (
            path.open("rb") as file,
            cursor.cursor.copy(
                f"COPY bench_stage ({columns.lower()}) FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy,
        ):
            while chunk := file.read(1 << 20):
                copy.write(chunk)
        cursor.execute("ANALYZE bench_stage")


def bare_insert_members(path: Path, community: Community) -> None:
    bare_copy(path, MEMBER_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO members_member (community_id, name, email, company_name, job_title, "
            "location, city, country, bio, avatar_url, joined_at, attributes, created_at, "
            "updated_at) SELECT %s, name, email, company_name, job_title, '', city, country, "
            "'', '', joined_at::timestamptz, jsonb_build_object('Plan', plan), now(), now() "
            "FROM bench_stage",
            [community.pk],
        )


def bare_update_members(path: Path, community: Community) -> None:
    bare_copy(path, MEMBER_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE members_member m SET job_title = s.job_title, updated_at = now() "
            "FROM bench_stage s WHERE m.community_id = %s AND m.email <> '' "
            "AND LOWER(m.email) = LOWER(s.email)",
            [community.pk],
        )


def bare_insert_activities(path: Path, community: Community) -> None:
    bare_copy(path, "source,member_external_id,kind,occurred_at,external_id")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO engagement_activity (community_id, member_id, kind_id, occurred_at, "
            "source, external_id, channel, title, url, created_at) "
            "SELECT %s, i.member_id, k.id, s.occurred_at::timestamptz, s.source, "
            "s.external_id, '', '', '', now() FROM bench_stage s "
            "JOIN members_identity i ON i.community_id = %s AND i.source = s.source "
            "AND i.external_id = s.member_external_id "
            "JOIN engagement_activitykind k ON k.community_id = %s AND k.slug = s.kind",
            [community.pk, community.pk, community.pk],
        )


def run_import(kind: str, path: Path, community: Community) -> None:
    run = import_members if kind == "members" else import_activities
    with path.open("rb") as file:
        report = run(community=community, file=file)
    if report.errors:
        raise SystemExit(f"{kind} import of {path} failed: {report.errors[:3]}")


def peak_memory(kind: str, path: Path, community: Community) -> int:
    """The max RSS in KiB of a fresh process importing `path` into `community`."""
    result = subprocess.run(  # noqa: S603 (our own script)
        [sys.executable, __file__, "--child", kind, str(path), community.slug],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.strip().splitlines()[-1])


def child(kind: str, path: Path, slug: str) -> None:
    with mock.patch.object(Task, "apply_async"):
        run_import(kind, path, Community.objects.get(slug=slug))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def verdict(ratio: float, target: float) -> str:
    return "meets" if ratio <= target else "MISSES"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--memory-factor", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # kind, file, slug
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("bench/imports.py measures PostgreSQL; set DATABASE_URL=postgres://...")
        return 2
    if args.child:
        child(args.child[0], Path(args.child[1]), args.child[2])
        return 0
    results: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as folder, mock.patch.object(Task, "apply_async"):
        base = Path(folder)
        members, changed, activities = (base / n for n in ("m.csv", "m2.csv", "a.csv"))
        write_members(members, args.members, args.seed)
        write_members(changed, args.members, args.seed, changed=0.02)
        write_activities(activities, args.activities, args.members, args.seed)
        print(f"{args.members:,} members, {args.activities:,} activities")

        bare = fresh_community("bench-imports-bare")
        real = fresh_community("bench-imports")
        try:
            results.append(
                (
                    "new members",
                    timed(lambda: run_import("members", members, real)),
                    timed(lambda: bare_insert_members(members, bare)),
                )
            )
            for name, path in (("the same file again", members), ("2 % of rows changed", changed)):
                results.append(
                    (
                        name,
                        timed(lambda path=path: run_import("members", path, real)),
                        timed(lambda path=path: bare_update_members(path, bare)),
                    )
                )
            # The bare activities need the members' identities too.
            run_import("members", members, bare_identities := fresh_community("bench-ids"))
            results.append(
                (
                    "new activities",
                    timed(lambda: run_import("activities", activities, real)),
                    timed(lambda: bare_insert_activities(activities, bare_identities)),
                )
            )
            clear(bare_identities, "engagement_activity")
            results.append(
                (
                    "the same activities again",
                    timed(lambda: run_import("activities", activities, real)),
                    timed(lambda: bare_insert_activities(activities, bare_identities)),
                )
            )
        finally:
            for community in (bare, real, locals().get("bare_identities")):
                if community is not None:
                    drop(community)

        print("\n| scenario | import s | bare s | ratio | target | verdict |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        for name, import_seconds, bare_seconds in results:
            ratio = import_seconds / bare_seconds
            target = TARGETS[name]
            print(
                f"| {name} | {import_seconds:.2f} | {bare_seconds:.2f} | {ratio:.2f}x | "
                f"<= {target}x | {verdict(ratio, target)} |"
            )

        small_members, small_activities = base / "ms.csv", base / "as.csv"
        factor = args.memory_factor
        write_members(small_members, args.members // factor, args.seed)
        write_activities(small_activities, args.activities // factor, args.members, args.seed)
        print(f"\n| peak memory (max RSS) | 1/{factor} of the rows | all rows | ratio | verdict |")
        print("| --- | ---: | ---: | ---: | --- |")
        memory = fresh_community("bench-imports-memory")
        try:
            peaks = {}
            for kind, small, full in (
                ("members", small_members, members),
                ("activities", small_activities, activities),
            ):
                for label, path in (("low", small), ("high", full)):
                    if kind == "members":
                        for table in ("members_identity", "engagement_memberscore"):
                            clear(memory, table)
                        clear(memory, "members_member")
                    else:
                        clear(memory, "engagement_activity")
                    peaks[kind, label] = peak_memory(kind, path, memory)
                if kind == "members":  # the activities need every member
                    run_import("members", members, memory)
                low, high = peaks[kind, "low"], peaks[kind, "high"]
                ratio = high / max(low, 1)
                print(
                    f"| {kind} import | {low / 1024:.0f} MiB | {high / 1024:.0f} MiB | "
                    f"{ratio:.2f}x | {verdict(ratio, MEMORY_TARGET)} |"
                )
        finally:
            drop(memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
