"""Benchmark: refreshing 100 smart segments, against running their rules as plain queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/communityos_bench \\
        .venv/bin/python bench/segments.py [--members 100000] [--seed 20260601] [--repeat 3]

PostgreSQL only. Uses the community of bench/generate.py (made, or reused when it exists
unchanged) and times, on the same data in the same run:

- bare: the 100 rules as `SELECT id FROM members_member WHERE community_id = … AND <rule>`,
  every row fetched (best of --repeat); every other figure is also given as a ratio to it;
- cold build: refresh_community with no membership stored yet;
- warm refresh: refresh_community again, nothing having changed;
- 2% changed: 2% of the members get a new title, city, last-seen and scores, then
  refresh_community;
- fast path: the same 2% change again, then refresh_members for just them;
- rule edit: the large pill's rule widened, then refresh_segment of that one segment (its
  ratio is to that rule's own bare query);
- one day later: refresh_community at as_of + 1 day (relative dates move);
- naive: every rule evaluated in Python (rules.matches) over every member's facts, facts read
  from the database; past --naive-sample members it evaluates an even sample and extrapolates.

After every scenario each smart segment's membership is compared with its bare query in SQL
(no member missing, none extra) and its stored member_count with the rows; a verdict is printed.
The bench data is changed by the run, so the community is marked as such and generate.py makes
it afresh next time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.db import connection

from bench.generate import AS_OF, Generated, generate
from engagement.models import MemberScore
from members.models import Member
from segments import refresh, rules, services
from segments.models import MembershipChange, Segment

TARGETS = {"cold build": 8.0, "warm refresh": 2.5, "fast path (2%)": 0.5}
CHANGED_SHARE = 0.02


def compiled_rules(generated: Generated, as_of: datetime) -> list[tuple[int, str, tuple]]:
    """(segment id, SQL, params) of every smart rule as a plain query at `as_of`."""
    out = []
    for segment in Segment.objects.filter(pk__in=[s.pk for s in generated.smart]).order_by("pk"):
        query = (
            Member.objects.filter(community_id=generated.community.pk)
            .filter(rules.to_q(segment.parsed_rule(), as_of=as_of, tz=generated.community.timezone))
            .order_by()
            .values_list("id")
        )
        sql, params = query.query.get_compiler(using="default").as_sql()
        out.append((segment.pk, sql, tuple(params)))
    return out


def run_bare(queries: list[tuple[int, str, tuple]]) -> int:
    rows = 0
    with connection.cursor() as cursor:
        for _segment_id, sql, params in queries:
            cursor.execute(sql, params)
            rows += len(cursor.fetchall())
    return rows


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def verify(generated: Generated, as_of: datetime) -> tuple[bool, str]:
    """Every smart segment's rows equal its bare query at `as_of`, and counts are right."""
    wrong: list[str] = []
    with connection.cursor() as cursor:
        for segment_id, sql, params in compiled_rules(generated, as_of):
            cursor.execute(
                f"""SELECT count(*) FILTER (WHERE c.member_id IS NULL),
                           count(*) FILTER (WHERE m.id IS NULL),
                           count(c.member_id)
                FROM ({sql}) m
                FULL JOIN (SELECT member_id FROM segments_segmentmembership
                           WHERE segment_id = %s) c ON c.member_id = m.id""",  # noqa: S608
                [*params, segment_id],
            )
            missing, extra, stored = cursor.fetchone()
            count = Segment.objects.values_list("member_count", flat=True).get(pk=segment_id)
            if missing or extra or count != stored:
                wrong.append(
                    f"segment {segment_id}: {missing} missing, {extra} extra, "
                    f"member_count {count} for {stored} rows"
                )
    if wrong:
        return False, f"WRONG ({len(wrong)} segments; first: {wrong[0]})"
    return True, "correct"


def change_members(generated: Generated, member_ids: list[int], variant: int) -> None:
    """A new job title, city, last-seen and scores for these members, set-based."""
    titles = ["Data Scientist", "Founder", "Product Manager", "Student", "CTO", "UX Researcher"]
    cities = [("Berlin", "Germany"), ("Austin", "United States"), ("Pune", "India")]
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE members_member SET
                   job_title = (%s::text[])[1 + (id + %s) %% 6],
                   city = (%s::text[])[1 + (id + %s) %% 3],
                   country = (%s::text[])[1 + (id + %s) %% 3],
                   last_seen_at = %s - make_interval(days => ((id + %s) %% 120)::int),
                   updated_at = now()
               WHERE id = ANY(%s)""",
            [
                titles,
                variant,
                [c for c, _ in cities],
                variant,
                [c for _, c in cities],
                variant,
                AS_OF,
                variant * 7,
                member_ids,
            ],
        )
        cursor.execute(
            """UPDATE engagement_memberscore SET
                   frequency = ((member_id * 7 + %s) %% 300) / 100.0,
                   recency = ((member_id * 13 + %s) %% 300) / 100.0,
                   impact = ((member_id * 17 + %s) %% 300) / 100.0,
                   engagement = ((member_id * 11 + %s) %% 300) / 100.0,
                   active_days_90 = (member_id + %s) %% 90
               WHERE member_id = ANY(%s)""",
            [variant, variant, variant, variant, variant, member_ids],
        )


def naive(generated: Generated, as_of: datetime, sample_size: int) -> tuple[float, bool, str]:
    """Seconds for rules.matches over every member (extrapolated past `sample_size` members),
    and whether its answers agree with the stored memberships of the members evaluated."""
    started = time.perf_counter()
    smart = {
        s.pk: s.parsed_rule()
        for s in Segment.objects.filter(pk__in=[s.pk for s in generated.smart])
    }
    facts_by_id: dict[int, dict[str, Any]] = {}
    score_fields = ("frequency", "recency", "impact", "engagement", "active_days_90")
    for row in (
        Member.objects.for_community(generated.community)
        .values(
            "id", "name", "email", "company_name", "job_title", "location", "city", "country",
            "bio", "joined_at", "last_seen_at", "attributes",
        )
        .iterator(chunk_size=20_000)
    ):  # fmt: skip
        row["sources"], row["segments"] = set(), set()
        facts_by_id[row["id"]] = row
    for member_id, *scores in (
        MemberScore.objects.filter(community=generated.community)
        .values_list("member_id", *score_fields)
        .iterator(chunk_size=20_000)
    ):
        facts = facts_by_id[member_id]
        for name, value in zip(score_fields, scores, strict=True):
            facts[name if name == "active_days_90" else f"{name}_score"] = value
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT member_id, source FROM members_identity WHERE community_id = %s",
            [generated.community.pk],
        )
        for member_id, source in cursor.fetchall():
            facts_by_id[member_id]["sources"].add(source)
        cursor.execute(
            "SELECT member_id, segment_id FROM segments_segmentmembership "
            "WHERE segment_id = ANY(%s)",
            [[s.pk for s in generated.manual]],
        )
        for member_id, segment_id in cursor.fetchall():
            facts_by_id[member_id]["segments"].add(segment_id)
    loading = time.perf_counter() - started
    ids = sorted(facts_by_id)
    step = max(1, len(ids) // sample_size)
    evaluated = ids[::step]
    started = time.perf_counter()
    matched: dict[int, set[int]] = {}
    for segment_id, rule in smart.items():
        matched[segment_id] = {
            pk for pk in evaluated if rules.matches(rule, facts_by_id[pk], as_of=as_of)
        }
    evaluating = (time.perf_counter() - started) * len(ids) / len(evaluated)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT segment_id, member_id FROM segments_segmentmembership "
            "WHERE segment_id = ANY(%s) AND member_id = ANY(%s)",
            [list(smart), evaluated],
        )
        stored: dict[int, set[int]] = {pk: set() for pk in smart}
        for segment_id, member_id in cursor.fetchall():
            stored[segment_id].add(member_id)
    differing = [pk for pk in smart if stored[pk] != matched[pk]]
    how = f"{len(evaluated):,} of {len(ids):,} members evaluated" + (
        ", time extrapolated" if step > 1 else ""
    )
    if differing:
        return loading + evaluating, False, f"DIFFERS from SQL on {len(differing)} segments ({how})"
    return loading + evaluating, True, f"agrees with the memberships ({how})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--repeat", type=int, default=3, help="bare queries: best of this many")
    parser.add_argument("--naive-sample", type=int, default=50_000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print(
            "bench/segments.py measures PostgreSQL: set DATABASE_URL=postgres://...",
            file=sys.stderr,
        )
        return 2
    generated = generate(members=args.members, seed=args.seed)
    community = generated.community
    # The run changes the data: the next run makes the community afresh.
    community.name += " (changed by bench/segments.py)"
    community.save(update_fields=["name"])
    smart_ids = [s.pk for s in generated.smart]
    version = connection.cursor().connection.info.server_version
    print(
        f"Refresh benchmark: {args.members:,} members, {len(smart_ids)} smart segments, "
        f"PostgreSQL {version // 10000}.{version % 10000}",
        flush=True,
    )

    queries = compiled_rules(generated, AS_OF)
    bare_times = [timed(lambda: run_bare(queries)) for _ in range(args.repeat)]
    bare, bare_rows = min(t for t, _ in bare_times), bare_times[0][1]
    print(
        f"bare: 100 rule queries, {bare_rows:,} ids fetched (average share "
        f"{bare_rows / len(smart_ids) / args.members:.1%}): best of {args.repeat} {bare:.3f} s",
        flush=True,
    )
    table: list[tuple[str, float, float, str, str]] = []
    all_correct = True

    def report(name: str, seconds: float, ratio: float, as_of: datetime, note: str = "") -> None:
        nonlocal all_correct
        correct, verdict = verify(generated, as_of)
        target = TARGETS.get(name)
        if target is not None:
            meets = ratio <= target
            verdict += f"; {'meets' if meets else 'MISSES'} ≤ {target}x"
            correct = correct and meets
        all_correct = all_correct and correct
        table.append((name, seconds, ratio, verdict, note))
        print(f"{name:<16} {seconds:9.3f} s {ratio:7.2f}x  {verdict}  {note}", flush=True)

    def refresh_all(as_of: datetime) -> str:
        results = refresh.refresh_community(community, as_of=as_of)
        errors = [r for r in results if isinstance(r, refresh.RefreshError)]
        if errors:
            raise SystemExit(f"refresh failed: {errors[0]}")
        entered = sum(r.entered for r in results if isinstance(r, refresh.RefreshResult))
        left = sum(r.left for r in results if isinstance(r, refresh.RefreshResult))
        return f"({entered:,} entered, {left:,} left)"

    # Cold: no memberships yet.
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM segments_membershipchange WHERE segment_id = ANY(%s)", [smart_ids]
        )
        cursor.execute(
            "DELETE FROM segments_segmentmembership WHERE segment_id = ANY(%s)", [smart_ids]
        )
        cursor.execute(
            "UPDATE segments_segment SET member_count = 0, refreshed_at = NULL WHERE id = ANY(%s)",
            [smart_ids],
        )
        cursor.execute("VACUUM ANALYZE segments_segmentmembership")
        cursor.execute("VACUUM ANALYZE segments_membershipchange")
    seconds, note = timed(lambda: refresh_all(AS_OF))
    report("cold build", seconds, seconds / bare, AS_OF, note)
    with connection.cursor() as cursor:  # as autovacuum would, soon after
        cursor.execute("VACUUM ANALYZE segments_segmentmembership")
        cursor.execute("VACUUM ANALYZE segments_membershipchange")

    ledger = MembershipChange.objects.filter(segment_id__in=smart_ids).count()
    warm = []
    for _ in range(args.repeat):
        seconds, note = timed(lambda: refresh_all(AS_OF))
        warm.append(seconds)
    written = MembershipChange.objects.filter(segment_id__in=smart_ids).count() - ledger
    report(
        "warm refresh",
        min(warm),
        min(warm) / bare,
        AS_OF,
        f"{note}, best of {args.repeat}, {written} ledger rows written",
    )

    rng = random.Random(args.seed + 1)  # Not for security: reproducible changes.
    changed = sorted(
        rng.sample(generated.member_ids, int(len(generated.member_ids) * CHANGED_SHARE))
    )
    change_members(generated, changed, variant=1)
    seconds, note = timed(lambda: refresh_all(AS_OF))
    report("2% changed", seconds, seconds / bare, AS_OF, f"{len(changed):,} members {note}")

    change_members(generated, changed, variant=2)

    def fast() -> str:
        results = refresh.refresh_members(community, changed, as_of=AS_OF)
        errors = [r for r in results if isinstance(r, refresh.RefreshError)]
        if errors:
            raise SystemExit(f"refresh_members failed: {errors[0]}")
        entered = sum(r.entered for r in results if isinstance(r, refresh.RefreshResult))
        left = sum(r.left for r in results if isinstance(r, refresh.RefreshResult))
        return f"{len(changed):,} members ({entered:,} entered, {left:,} left)"

    seconds, note = timed(fast)
    report("fast path (2%)", seconds, seconds / bare, AS_OF, note)

    large = generated.pills["Pill large"]
    large.refresh_from_db()
    original_rule = large.rule
    wider = {"any": [*original_rule["any"], {"field": "source", "op": "is", "value": "discourse"}]}
    with mock.patch("segments.tasks.refresh_later"):
        services.segment_update(segment=large, rule=wider)
    single = [q for q in compiled_rules(generated, AS_OF) if q[0] == large.pk]
    single_bare = min(timed(lambda: run_bare(single))[0] for _ in range(args.repeat))

    def edit() -> str:
        result = refresh.refresh_segment(large.pk, as_of=AS_OF)
        return (
            f"({result.entered:,} entered, {result.left:,} left; "
            f"its own bare query {single_bare:.3f} s)"
        )

    seconds, note = timed(edit)
    report("rule edit", seconds, seconds / single_bare, AS_OF, note)
    with mock.patch("segments.tasks.refresh_later"):
        services.segment_update(segment=large, rule=original_rule)
    refresh.refresh_segment(large.pk, as_of=AS_OF)

    tomorrow = AS_OF + timedelta(days=1)
    seconds, note = timed(lambda: refresh_all(tomorrow))
    report("one day later", seconds, seconds / bare, tomorrow, note)

    seconds, agrees, verdict = naive(generated, tomorrow, args.naive_sample)
    all_correct = all_correct and agrees
    table.append(("naive Python", seconds, seconds / bare, verdict, ""))
    print(f"{'naive Python':<16} {seconds:9.3f} s {seconds / bare:7.2f}x  {verdict}", flush=True)

    print()
    print(f"| scenario ({args.members:,} members) | seconds | x bare | verdict |")
    print("| --- | --- | --- | --- |")
    print(f"| bare (100 rule queries) | {bare:.2f} | 1.00 | |")
    for name, seconds, ratio, verdict, note in table:
        print(f"| {name} | {seconds:.2f} | {ratio:.2f} | {verdict} {note} |")
    return 0 if all_correct else 1


if __name__ == "__main__":
    sys.exit(main())
