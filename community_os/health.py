"""What `/healthz` and the staff status page report: the database, the broker, the worker and
beat, each with its age where it has one.

The worker and beat are seen through two heartbeats (community_os.models.Heartbeat):

- "beat": written by the beat process each time it sends the `heartbeat` task (Celery's
  after_task_publish signal, only in a process where beat_init fired), so it proves beat runs
  and reaches the broker;
- "worker": written by the `heartbeat` task when a worker runs it (community_os/tasks.py).

Beat sends it every HEALTH_HEARTBEAT_SECONDS; either heartbeat older than HEALTH_STALE_SECONDS
is stale. The checks are cheap (one query for both heartbeats, one Redis PING or one folder
check) and never raise: a failure is a status.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from celery.signals import after_task_publish, beat_init
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

HEARTBEAT_TASK = "community_os.tasks.heartbeat"
BEAT, WORKER = "beat", "worker"


@dataclass(frozen=True)
class Check:
    name: str
    # "ok"; "unavailable" (database, broker); "stale" or "missing" (a heartbeat too old or
    # never written); "unknown" (a heartbeat while the database does not answer).
    status: str
    age: float | None = None  # seconds since the heartbeat
    at: datetime | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def checks(*, now: datetime | None = None) -> list[Check]:
    """Database, broker, worker and beat, in that order."""
    now = now or timezone.now()
    database, heartbeats = _database()
    stale_after = settings.HEALTH_STALE_SECONDS
    return [
        database,
        broker_check(),
        *(_heartbeat_check(name, heartbeats, now, stale_after) for name in (WORKER, BEAT)),
    ]


def _database() -> tuple[Check, dict[str, Any] | None]:
    from .models import Heartbeat

    try:
        rows = {row.name: row for row in Heartbeat.objects.all()}
    except DatabaseError:
        logger.warning("Health check: the database does not answer.", exc_info=True)
        return Check("database", "unavailable"), None
    return Check("database", "ok"), rows


def _heartbeat_check(
    name: str, heartbeats: dict[str, Any] | None, now: datetime, stale_after: float
) -> Check:
    if heartbeats is None:
        return Check(name, "unknown")
    row = heartbeats.get(name)
    if row is None:
        return Check(name, "missing")
    age = max(0.0, (now - row.at).total_seconds())
    status = "ok" if age <= stale_after else "stale"
    return Check(name, status, age=age, at=row.at, detail=row.detail)


# --- The broker -----------------------------------------------------------------------------------


def broker_kind() -> str:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        return "filesystem"
    if url.startswith(("redis://", "rediss://")):
        return "redis"
    return url.split("://", 1)[0]


def broker_check() -> Check:
    kind = broker_kind()
    try:
        if kind == "filesystem":
            folder = _filesystem_queue_folder()
            reachable = folder.is_dir() and os.access(folder, os.R_OK | os.W_OK | os.X_OK)
        elif kind == "redis":
            reachable = bool(_redis().ping())
        else:
            reachable = _kombu_connects()
    except Exception:  # any failure of any transport is an unavailable broker, never a 500
        logger.warning("Health check: the broker does not answer.", exc_info=True)
        reachable = False
    return Check("broker", "ok" if reachable else "unavailable", detail=kind)


def _filesystem_queue_folder() -> Path:
    return Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))


_redis_clients: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis:
    """One client (and connection pool) per broker URL, with short timeouts: a probe waits two
    seconds at most for a Redis that does not answer."""
    url = settings.CELERY_BROKER_URL
    client = _redis_clients.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        _redis_clients[url] = client
    return client


def _kombu_connects() -> bool:
    from .celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return True


def queue_lengths() -> list[tuple[str, int]]:
    """(label, messages) for the status page: the messages waiting in each queue, and with
    Redis those delivered to a worker and not yet acknowledged. Raises if the broker does not
    answer."""
    queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
    kind = broker_kind()
    if kind == "redis":
        from kombu.transport.redis import PRIORITY_STEPS, Channel

        client = _redis()
        with client.pipeline() as pipe:
            # kombu keeps one list per priority step: "celery", "celery\x06\x163", ...
            for step in PRIORITY_STEPS:
                pipe.llen(f"{queue}{Channel.sep}{step}" if step else queue)
            pipe.hlen(Channel.unacked_key)
            *sizes, unacked = pipe.execute()
        return [(f"{queue} (waiting)", sum(sizes)), ("delivered, not yet acknowledged", unacked)]
    if kind == "filesystem":
        # kombu names each message file <time>_<uuid>.<queue>.msg in the queue folder.
        suffix = f".{queue}.msg"
        with os.scandir(_filesystem_queue_folder()) as entries:
            waiting = sum(1 for entry in entries if entry.name.endswith(suffix))
        return [(f"{queue} (waiting)", waiting)]
    return []


# --- Writing the heartbeats -----------------------------------------------------------------------


def record(name: str, *, detail: str = "", at: datetime | None = None) -> None:
    """Overwrite heartbeat `name` (one upsert)."""
    from .models import Heartbeat

    Heartbeat.objects.bulk_create(
        [Heartbeat(name=name, at=at or timezone.now(), detail=detail[:200])],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["at", "detail"],
    )


_in_beat = False


@beat_init.connect
def _beat_started(**kwargs: Any) -> None:
    """In the beat process (standalone or embedded in a worker with --beat): from now on its
    heartbeat messages count as beat's. One is sent at once, so a fresh start is healthy within
    seconds rather than after the first interval."""
    global _in_beat
    _in_beat = True
    from .tasks import heartbeat

    try:
        heartbeat.apply_async(expires=settings.HEALTH_HEARTBEAT_SECONDS)
    except Exception:
        logger.warning("Could not send the first heartbeat; beat sends the next.", exc_info=True)


@after_task_publish.connect
def _heartbeat_sent(sender: str | None = None, **kwargs: Any) -> None:
    if sender != HEARTBEAT_TASK or not _in_beat:
        return
    # Never let a failed write stop beat from sending. Beat keeps one database connection for
    # its whole life: one that broke (a database restart) is closed, the next write reconnects.
    try:
        record(BEAT, detail=socket.gethostname())
    except DatabaseError:
        logger.warning("Could not record beat's heartbeat.", exc_info=True)
        connection.close()
