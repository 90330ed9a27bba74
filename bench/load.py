"""Load test: 20 users on the table, pills, profiles and the segment preview for 60 seconds.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/communityos_bench \\
        .venv/bin/python bench/load.py [--members 100000] [--users 20] [--seconds 60]

PostgreSQL only; the community of bench/generate.py (made if missing), served by gunicorn on
127.0.0.1 (bench/web.py's Server). Each simulated user loops without pause over a mix of
requests a community manager makes, chosen at random (seeded):

- the members table, first page (30 %);
- a pill: a pinned segment's members (30 %);
- a member's profile (25 %);
- the "+ New Segment" live preview: a POST of a two-condition rule, CSRF token included (15 %).

Every answer must be 200 and the expected page; any other answer, a timeout or a refused
connection counts as an error. It prints requests, errors and p50 / p95 / max per kind and in
all, and exits 1 when there was any error. Bounded: it stops after --seconds (plus at most the
30 s request timeout), whatever the server does, and contacts only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import secrets
import sys
import threading
import time
from collections import defaultdict
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Before Django reads its settings: the sessions made here must be valid in gunicorn, which
# bench/web.py's Server starts with this same key.
os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(40))

from django.conf import settings
from django.db import connection
from django.urls import reverse

from bench.web import Server, bench_community, bench_session, percentile
from members.models import Member
from segments.models import Segment

MIX = (("table", 30), ("pill", 30), ("profile", 25), ("preview", 15))
TIMEOUT = 30


class User:
    """One manager's browser: a session, a CSRF token, and a random walk over the pages."""

    def __init__(self, port: int, session: str, targets: dict, rng: random.Random) -> None:
        self.port = port
        self.targets = targets
        self.rng = rng
        self.cookies = {settings.SESSION_COOKIE_NAME: session}
        self.csrf = ""

    def request(self, method: str, path: str, body: str = "") -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if method == "POST":
            headers.update(
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-CSRFToken": self.csrf,
                    "HX-Request": "true",
                }
            )
        try:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            content = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                cookie = SimpleCookie(header)
                for name, morsel in cookie.items():
                    self.cookies[name] = morsel.value
                    if name == settings.CSRF_COOKIE_NAME:
                        self.csrf = morsel.value
            return response.status, content
        finally:
            conn.close()

    def step(self) -> tuple[str, bool]:
        kind = self.rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        targets = self.targets
        if kind == "preview" and not self.csrf:
            kind = "table"  # the first page sets the CSRF cookie
        if kind == "table":
            status, body = self.request("GET", targets["table"])
            return kind, status == 200 and b'id="members-table"' in body
        if kind == "pill":
            status, body = self.request("GET", self.rng.choice(targets["pills"]))
            return kind, status == 200 and b'aria-current="true"' in body
        if kind == "profile":
            status, body = self.request("GET", self.rng.choice(targets["profiles"]))
            return kind, status == 200 and b'id="member-segments"' in body
        status, body = self.request("POST", targets["preview"], self.rng.choice(targets["rules"]))
        return kind, status == 200 and b"preview-count" in body


def targets(community, rng: random.Random) -> dict:
    slug = community.slug
    table = reverse("members:list", args=[slug])
    pinned = list(Segment.objects.for_community(community).pinned().values_list("pk", flat=True))
    smart = Segment.objects.for_community(community).smart().values_list("pk", flat=True)
    pill_ids = pinned or list(smart[:10])
    member_ids = list(Member.objects.for_community(community).values_list("pk", flat=True)[:5000])
    companies = list(
        Member.objects.for_community(community)
        .exclude(company_name="")
        .values_list("company_name", flat=True)[:200]
    )
    rules = [
        urlencode(
            {
                "kind": "smart",
                "group-1": "all",
                "field-1.1": "company_name",
                "op-1.1": "is",
                "value-1.1": company,
                "field-1.2": "joined_at",
                "op-1.2": "within_last",
                "amount-1.2": str(rng.choice([30, 90, 365])),
                "unit-1.2": "days",
            }
        )
        for company in rng.sample(companies, min(20, len(companies)))
    ]
    return {
        "table": table,
        "pills": [f"{table}?segment={pk}" for pk in pill_ids],
        "profiles": [
            reverse("members:detail", args=[slug, pk])
            for pk in rng.sample(member_ids, min(200, len(member_ids)))
        ],
        "preview": reverse("segments:preview", args=[slug]),
        "rules": rules,
    }


def run(port: int, session: str, plan: dict, users: int, seconds: float, seed: int) -> dict:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def user(number: int) -> None:
        walker = User(port, session, plan, random.Random(seed + number))
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                kind, ok = walker.step()
                problem = "" if ok else "unexpected answer"
            except OSError as error:
                kind, ok, problem = "connection", False, repr(error)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies[kind].append(elapsed)
                if not ok:
                    errors[kind].append(problem)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + TIMEOUT + 10)
    return {"latencies": latencies, "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("bench/load.py needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    community = bench_community(args.members, args.seed).community
    plan = targets(community, random.Random(args.seed))
    session = bench_session(community)
    print(
        f"Load test: {args.users} users for {args.seconds:.0f} s on {args.members:,} members "
        f"(gunicorn, {args.workers} workers)",
        flush=True,
    )
    with Server(args.workers) as server:
        result = run(server.port, session, plan, args.users, args.seconds, args.seed)
    latencies, errors = result["latencies"], result["errors"]
    everything = [ms for values in latencies.values() for ms in values]
    print("| requests | count | errors | p50 | p95 | max |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind, values in [*sorted(latencies.items()), ("all", everything)]:
        if not values:
            continue
        failed = sum(len(e) for e in errors.values()) if kind == "all" else len(errors[kind])
        print(
            f"| {kind} | {len(values):,} | {failed} | {percentile(values, 0.5):.0f} ms "
            f"| {percentile(values, 0.95):.0f} ms | {max(values):.0f} ms |"
        )
    total_errors = sum(len(e) for e in errors.values())
    rate = len(everything) / args.seconds
    print(f"{len(everything):,} requests ({rate:.0f}/s), {total_errors} errors.")
    for kind, problems in errors.items():
        if problems:
            print(f"  {kind}: {len(problems)} errors, e.g. {problems[:3]}")
    return 1 if total_errors or not everything else 0


if __name__ == "__main__":
    sys.exit(main())
