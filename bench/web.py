"""Benchmark: the community table through gunicorn, p50 and p95 at 1, 4 and 16 clients.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/communityos_bench \\
        .venv/bin/python bench/web.py [--members 100000] [--seconds 3] [--workers 4]

PostgreSQL only. Uses the community of bench/generate.py (made and refreshed if missing),
runs VACUUM ANALYZE on the tables the table reads, collects the static files into a
temporary directory, starts gunicorn on 127.0.0.1 (a free port, DEBUG off, a throwaway
SECRET_KEY, ALLOWED_HOSTS=127.0.0.1) and logs a bench user in with a session made here.
Then, for each page below and 1, 4 and 16 concurrent clients (threads with http.client, one
request at a time each), it requests the page for --seconds (at least --min-requests times)
after two warm-up requests, checks every answer is the table (200, the rows' region), and
prints p50 and p95 in milliseconds:

- the table's first page (newest members first);
- the pills of the small (about 0.05%), medium (about 3%) and large (about 70%) segments;
- sorted by join date (oldest first) and by engagement score (highest first);
- a deep page: the page after the member halfway down the table;
- the medium pill combined with a filter (joined since 2025-06-01).

gunicorn is stopped at the end, whatever happens. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The same key here and in gunicorn: the session made here must be valid there.
SECRET_KEY = os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(40))

from django.conf import settings  # noqa: E402
from django.contrib.auth import (  # noqa: E402
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import reverse  # noqa: E402

from bench.generate import Generated, existing, generate  # noqa: E402
from members.models import CommunityRole, Member, Role  # noqa: E402
from members.paging import encode_cursor  # noqa: E402
from segments import refresh  # noqa: E402
from segments.models import Segment  # noqa: E402

TARGET_MS = 150  # p95 with 4 clients (bench/README.md)
LEVELS = (1, 4, 16)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bench_session(community) -> str:
    user, _ = get_user_model().objects.get_or_create(username="bench-web")
    CommunityRole.objects.get_or_create(
        user=user, community=community, defaults={"role": Role.ADMIN}
    )
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return str(session.session_key)


def pages(community, pills: dict[str, Segment]) -> dict[str, str]:
    base = reverse("members:list", args=[community.slug])
    middle = (
        Member.objects.for_community(community)
        .order_by("-joined_at", "-id")
        .values_list("joined_at", "id")[Member.objects.for_community(community).count() // 2]
    )

    def url(**query: object) -> str:
        return f"{base}?{urlencode(query)}" if query else base

    return {
        "first page": url(),
        "pill small": url(segment=pills["Pill small"].pk),
        "pill medium": url(segment=pills["Pill medium"].pk),
        "pill large": url(segment=pills["Pill large"].pk),
        "sort join date": url(sort="joined_at"),
        "sort engagement": url(sort="-engagement_score"),
        "deep page": url(after=encode_cursor(*middle)),
        "pill + filter": url(segment=pills["Pill medium"].pk, joined_after="2025-06-01"),
    }


class Server:
    """gunicorn on 127.0.0.1, stopped on exit."""

    def __init__(self, workers: int) -> None:
        self.port = free_port()
        self.workers = workers
        self.process: subprocess.Popen | None = None
        self.static = tempfile.TemporaryDirectory(prefix="communityos-bench-static-")
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in __exit__)
            prefix="communityos-bench-gunicorn-", suffix=".log"
        )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1",
            "STATIC_ROOT": self.static.name,
            "DATABASE_URL": os.environ["DATABASE_URL"],
        }

    def __enter__(self) -> Server:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=self.env(),
            check=True,
            timeout=120,
        )
        self.process = subprocess.Popen(  # noqa: S603 (our own gunicorn, fixed arguments)
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "community_os.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=self.env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited: {Path(self.log.name).read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start within 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.static.cleanup()
        self.log.close()


def get(port: str | int, path: str, cookie: str) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    return time.perf_counter() - started, response.status, body


def measure(
    port: int, path: str, cookie: str, clients: int, seconds: float, minimum: int
) -> tuple[list[float], list[str]]:
    """Latencies (ms) of `clients` threads requesting `path` back to back."""
    latencies: list[float] = []
    problems: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    per_client = max(1, -(-minimum // clients))

    def client() -> None:
        done = 0
        while done < per_client or time.monotonic() < deadline:
            try:
                elapsed, status, body = get(port, path, cookie)
            except OSError as error:
                with lock:
                    problems.append(repr(error))
                return
            with lock:
                latencies.append(elapsed * 1000)
                if status != 200 or b'id="members-table"' not in body:
                    problems.append(f"HTTP {status}")
            done += 1
            if time.monotonic() > deadline + 30:
                return  # bounded, whatever the server does

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    return latencies, problems


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of them lie; NaN for none (every request failed), which
    no target meets."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def bench_community(members: int, seed: int) -> Generated:
    """The community of generate.py as the pages should find it: as bench/segments.py left it
    (its data changed) or a fresh one, its smart segments refreshed, and vacuumed."""
    generated = existing(members, seed, changed_ok=True) or generate(members=members, seed=seed)
    community = generated.community
    if any(s.refreshed_at is None for s in Segment.objects.filter(community=community).smart()):
        print("Refreshing the smart segments first...", flush=True)
        refresh.refresh_community(community)
    with connection.cursor() as cursor:
        # As a maintained database would be: bench/segments.py changed members all over the
        # table, and a page's capped count reads only the index once the pages are all-visible.
        for table in ("members_member", "engagement_memberscore", "segments_segmentmembership"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return generated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--seconds", type=float, default=3.0, help="per page and client count")
    parser.add_argument("--min-requests", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("bench/web.py measures PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    generated = bench_community(args.members, args.seed)
    community = generated.community
    pills = {name: Segment.objects.get(pk=s.pk) for name, s in generated.pills.items()}
    urls = pages(community, pills)
    cookie = bench_session(community)
    print(
        f"Web benchmark: {args.members:,} members; pills of {pills['Pill small'].member_count:,}, "
        f"{pills['Pill medium'].member_count:,} and {pills['Pill large'].member_count:,} "
        f"members; gunicorn with {args.workers} workers",
        flush=True,
    )
    rows = []
    failed = False
    with Server(args.workers) as server:
        for name, path in urls.items():
            for _ in range(2):  # warm-up
                get(server.port, path, cookie)
            figures = []
            for clients in LEVELS:
                latencies, problems = measure(
                    server.port, path, cookie, clients, args.seconds, args.min_requests
                )
                if problems or not latencies:
                    failed = True
                    print(f"  {name}: {len(problems)} bad answers, e.g. {problems[:1]}")
                p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
                figures.append((clients, p50, p95, len(latencies)))
            p95_at_4 = next(p95 for clients, _p50, p95, _n in figures if clients == 4)
            verdict = "meets" if p95_at_4 <= TARGET_MS else "MISSES"
            failed = failed or p95_at_4 > TARGET_MS
            rows.append((name, figures, verdict))
            cells = "  ".join(f"{c:>2}: {p50:6.1f} / {p95:6.1f}" for c, p50, p95, _n in figures)
            print(f"{name:<16} {cells}  p95 with 4 clients {verdict} ≤ {TARGET_MS} ms", flush=True)
    print()
    header = " | ".join(f"{c} client{'s' if c > 1 else ''} p50 / p95" for c in LEVELS)
    print(f"| page ({args.members:,} members) | {header} | verdict |")
    print("| --- |" + " --- |" * len(LEVELS) + " --- |")
    for name, figures, verdict in rows:
        cells = " | ".join(f"{p50:.0f} / {p95:.0f} ms" for _c, p50, p95, _n in figures)
        print(f"| {name} | {cells} | {verdict} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
