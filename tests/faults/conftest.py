"""Fault tests: real Celery worker processes against the test's PostgreSQL database and a
PRIVATE Redis server started per test (never the shared one), so that a worker can be killed,
Redis restarted or a database connection terminated without touching anything else.

Everything a test starts (Redis, workers) is stopped in the fixtures' `finally`, by pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kombu.pools
import pytest
import redis
from django.conf import settings
from django.db import connection

from community_os.celery import app as celery_app
from members.models import Community
from segments.models import Segment
from tests.factories import CommunityFactory

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], Any], seconds: float, what: str, *, check=None) -> Any:
    """Poll `condition` until it returns something truthy; `check` runs on every round (to
    assert invariants while waiting, or that a process is still alive)."""
    deadline = time.monotonic() + seconds
    while True:
        if check is not None:
            check()
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(0.05)


class PrivateRedis:
    """One redis-server process on a free port of 127.0.0.1, owned by one test."""

    def __init__(self, directory: Path, *, appendonly: bool = False) -> None:
        self.port = free_port()
        self.directory = directory
        self.appendonly = appendonly
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--daemonize", "no", "--dir", str(self.directory)]
        if self.appendonly:
            # What production needs (README "Background jobs under faults"): every queued
            # message is on disk before Redis answers, so a crash loses none.
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        self.log = (self.directory / "redis.log").open("a")
        # The arguments are ours: redis-server from PATH, a port and a directory.
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)  # noqa: S603
        wait_until(self.ping, 10, "redis-server to answer", check=self._alive)

    def _alive(self) -> None:
        assert self.process is not None and self.process.poll() is None, (
            self.directory / "redis.log"
        ).read_text()

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def ping(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    def kill(self) -> None:
        """A crash: SIGKILL, no shutdown save."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if not self.log.closed:
            self.log.close()


class Worker:
    """`celery -A community_os worker` in its own process group, on the test database and the
    private Redis. Its database connections carry `application_name`, so the test can find
    them in pg_stat_activity."""

    def __init__(self, name: str, broker_url: str, log_dir: Path, *, pool: str, concurrency: int):
        self.name = name
        self.application_name = f"faults-{name}-{os.getpid()}"
        self.log_path = log_dir / f"worker-{name}.log"
        db = connection.settings_dict
        password = db["PASSWORD"] or ""
        database_url = (
            f"postgres://{db['USER']}:{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
            f"?application_name={self.application_name}"
        )
        # PYTEST_VERSION stays set, so the worker, like the tests, ignores a developer's .env.
        env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url}
        env.pop("REDIS_URL", None)
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "community_os",
                "worker",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                "-Q",
                "celery",
                "-n",
                f"{self.application_name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool children go with it
        )
        wait_until(
            lambda: " ready." in self.text(), 30, f"worker {name} to start", check=self.alive
        )

    def text(self) -> str:
        return self.log_path.read_text()

    def alive(self) -> None:
        assert self.process.poll() is None, self.text()

    def children(self) -> list[int]:
        """Pids of the prefork pool's processes."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return pids

    def kill(self) -> None:
        """SIGKILL the worker and its pool: no shutdown, no ack, no reject."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        else:
            # the pool children of a worker whose main process was killed
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        if not self.log.closed:
            self.log.close()


@pytest.fixture
def redis_servers(tmp_path) -> Iterator[Callable[..., PrivateRedis]]:
    """Start private Redis servers (`appendonly=True` for the production persistence)."""
    if REDIS_SERVER is None:
        pytest.skip("needs redis-server on PATH (the fault tests start their own)")
    started: list[PrivateRedis] = []

    def start(*, appendonly: bool = False) -> PrivateRedis:
        directory = tmp_path / f"redis-{len(started)}"
        directory.mkdir()
        server = PrivateRedis(directory, appendonly=appendonly)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def private_redis(request, redis_servers) -> PrivateRedis:
    """One private Redis; parametrize it indirectly with True for append-only persistence."""
    return redis_servers(appendonly=getattr(request, "param", False))


def use_broker(url: str) -> Callable[[], None]:
    """Point this process's Celery app (what `.delay()` uses) at `url`; returns the undo."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.broker_transport_options

    def reset_pools() -> None:
        # kombu keeps its connection and producer pools in global registries keyed by the
        # connection: closing one there would leave a closed pool for the next test that
        # sends to the same broker. Forget them all; new ones open on demand.
        kombu.pools.reset()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    reset_pools()
    conf.broker_url = url
    conf.broker_transport_options = {}

    def undo() -> None:
        reset_pools()
        conf.broker_url, conf.broker_transport_options = saved

    return undo


@pytest.fixture
def broker(private_redis) -> Iterator[PrivateRedis]:
    """The private Redis, also as this process's broker: whatever the test enqueues (on
    purpose or through a signal) goes there and nowhere else."""
    undo = use_broker(private_redis.url)
    try:
        yield private_redis
    finally:
        undo()


@pytest.fixture
def workers(tmp_path, broker) -> Iterator[Callable[..., Worker]]:
    """Start worker processes on the private Redis; all are stopped after the test."""
    started: list[Worker] = []

    def start(name: str, *, pool: str = "solo", concurrency: int = 1) -> Worker:
        worker = Worker(name, broker.url, tmp_path, pool=pool, concurrency=concurrency)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


# --- Data ----------------------------------------------------------------------------------------


def add_members(community: Community, count: int, *, company: str) -> None:
    """`count` members of `company`, in one INSERT ... SELECT (no signals, no Python loop)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO members_member
                   (community_id, name, email, company_name, job_title, location, city, country,
                    bio, avatar_url, attributes, created_at, updated_at)
               SELECT %s, %s || ' member ' || i, '', %s, '', '', '', '', '', '', '{}'::jsonb,
                      now(), now()
               FROM generate_series(1, %s) AS i""",
            [community.pk, company, company, count],
        )
        cursor.execute("ANALYZE members_member")


def company_is(company: str) -> dict:
    return {"all": [{"field": "company_name", "op": "is", "value": company}]}


def smart_segment(community: Community, name: str, company: str) -> Segment:
    """A smart segment stored without the on-commit refresh trigger (the test enqueues)."""
    return Segment.objects.create(
        community=community, name=name, kind="smart", rule=company_is(company)
    )


@pytest.fixture
def big_community(db) -> Community:
    return CommunityFactory(slug="faults")


def snapshot(segment_id: int) -> tuple[int, int, int, int]:
    """(stored member_count, membership rows, ledger 'entered', ledger 'left') of a segment,
    read in ONE statement, i.e. from one snapshot of the database."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT s.member_count,
                      (SELECT count(*) FROM segments_segmentmembership m
                       WHERE m.segment_id = s.id),
                      (SELECT count(*) FROM segments_membershipchange c
                       WHERE c.segment_id = s.id AND c.change = 'entered'),
                      (SELECT count(*) FROM segments_membershipchange c
                       WHERE c.segment_id = s.id AND c.change = 'left')
               FROM segments_segment s WHERE s.id = %s""",
            [segment_id],
        )
        row = cursor.fetchone()
    assert row is not None
    return row


def assert_materialized(segment_id: int, community: Community, company: str) -> None:
    """The segment holds exactly the members of `company`, its count says so, no error, and the
    ledger is consistent: every member of the segment entered exactly once more than it left,
    nobody entered (or left) twice in a row, and nobody outside has a net entry."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT
                 (SELECT count(*) FROM members_member
                  WHERE community_id = %s AND company_name = %s),
                 (SELECT count(*) FROM segments_segmentmembership s
                  JOIN members_member m ON m.id = s.member_id
                  WHERE s.segment_id = %s AND m.company_name = %s AND m.community_id = %s),
                 (SELECT count(*) FROM segments_segmentmembership WHERE segment_id = %s)""",
            [community.pk, company, segment_id, company, community.pk, segment_id],
        )
        expected, matching, stored = cursor.fetchone()
        cursor.execute(
            """SELECT count(*) FROM (
                 SELECT c.member_id,
                        count(*) FILTER (WHERE c.change = 'entered') AS entered,
                        count(*) FILTER (WHERE c.change = 'left') AS left_,
                        bool_or(c.change = c.previous) AS repeated,
                        bool_or(s.member_id IS NOT NULL) AS inside
                 FROM (SELECT member_id, change,
                              lag(change) OVER (PARTITION BY member_id ORDER BY at, id)
                                AS previous
                       FROM segments_membershipchange WHERE segment_id = %s) c
                 LEFT JOIN segments_segmentmembership s
                   ON s.segment_id = %s AND s.member_id = c.member_id
                 GROUP BY c.member_id
               ) per_member
               WHERE entered - left_ <> CASE WHEN inside THEN 1 ELSE 0 END OR repeated""",
            [segment_id, segment_id],
        )
        (inconsistent,) = cursor.fetchone()
    segment = Segment.objects.get(pk=segment_id)
    assert expected > 0
    assert (stored, matching, segment.member_count) == (expected, expected, expected)
    assert inconsistent == 0
    assert segment.refresh_error == ""
    assert segment.refreshed_at is not None


LEDGER_PAUSE = 1.5  # seconds


@pytest.fixture
def slow_ledger(db) -> Iterator[None]:
    """Make every refresh done by a fault-test worker pause for LEDGER_PAUSE seconds right
    after writing its ledger rows, before it commits: all its writes are made, none is
    visible, and the test has a window to strike in that does not depend on how fast the
    refresh is. (A statement trigger that sleeps only for connections named `faults-...`.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE FUNCTION faults_pause() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF current_setting('application_name') LIKE 'faults-%%' THEN
                    PERFORM pg_sleep({LEDGER_PAUSE});
                  END IF;
                  RETURN NULL;
                END $$"""
        )
        cursor.execute(
            "CREATE TRIGGER faults_pause AFTER INSERT ON segments_membershipchange "
            "FOR EACH STATEMENT EXECUTE FUNCTION faults_pause()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS faults_pause ON segments_membershipchange")
            cursor.execute("DROP FUNCTION IF EXISTS faults_pause()")


def worker_backends(application_name: str, *, paused: bool = False, waiting: str = "") -> list[int]:
    """Pids of a worker's active PostgreSQL backends: all of them, those paused in
    `slow_ledger` (every write of the refresh made, not committed), or those waiting for
    `waiting` (e.g. 'Lock')."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT pid FROM pg_stat_activity
               WHERE application_name = %s AND state = 'active'
                 AND (NOT %s OR (wait_event = 'PgSleep'
                                 AND query LIKE '%%segments_membershipchange%%'))
                 AND (%s = '' OR wait_event_type = %s)""",
            [application_name, paused, waiting, waiting],
        )
        return [pid for (pid,) in cursor.fetchall()]
