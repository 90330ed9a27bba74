"""A real worker and a real beat: `/healthz` turns 503 when the worker stops and 200 again when
it is back, within the staleness setting (shortened here: a heartbeat every second, stale
after 4 s, where production has 30 s and 120 s)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from community_os import logs, tasks
from tests.worker import celery_worker

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.real_worker,
    pytest.mark.django_db(transaction=True),
]

HEARTBEAT, STALE = 1, 4  # seconds


@contextmanager
def celery_beat(tmp_path: Path) -> Iterator[subprocess.Popen]:
    """`celery beat` on the test database and the settings' broker, in its own process group,
    stopped (SIGTERM, then SIGKILL) on exit."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    log_path = tmp_path / "beat.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
            [
                *(sys.executable, "-m", "celery", "-A", "community_os", "beat"),
                *("--schedule", str(tmp_path / "beat-schedule"), "--loglevel=INFO"),
                *("--pidfile", str(tmp_path / "beat.pid")),
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def _wait_for(condition: Callable[[], bool], seconds: float, what: str, log: Path) -> float:
    """Poll until `condition` holds; how long it took. Fails (with beat's log) on timeout."""
    start = time.monotonic()
    while not condition():
        elapsed = time.monotonic() - start
        assert elapsed < seconds, f"{what}: not after {seconds} s\n{log.read_text()}"
        time.sleep(0.2)
    return time.monotonic() - start


def test_healthz_sees_the_worker_stop_and_come_back(client, settings, tmp_path, monkeypatch):
    # The worker and beat processes read these from their environment, the test from settings.
    monkeypatch.setenv("HEALTH_HEARTBEAT_SECONDS", str(HEARTBEAT))
    monkeypatch.setenv("HEALTH_STALE_SECONDS", str(STALE))
    settings.HEALTH_HEARTBEAT_SECONDS, settings.HEALTH_STALE_SECONDS = HEARTBEAT, STALE

    def health() -> tuple[int, dict]:
        response = client.get(reverse("healthz"))
        return response.status_code, response.json()

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    with celery_beat(tmp_path) as beat:
        beat_log = tmp_path / "beat.log"
        # Beat alone: it sends heartbeats, nobody runs them.
        _wait_for(lambda: health()[1]["beat"] == "ok", 30, "beat's first heartbeat", beat_log)
        assert health()[0] == 503 and health()[1]["worker"] == "missing"

        with celery_worker(first) as worker:
            _wait_for(lambda: health()[0] == 200, 60, "a healthy worker", worker.log)
            code, body = health()
            assert (code, body["worker"], body["beat"]) == (200, "ok", "ok")
            assert body["worker_age_seconds"] <= STALE

            # Its log lines carry the task's id, and a task enqueued during a request the
            # request's id (a message header: community_os/logs.py).
            token = logs.request_id.set("ops-request-1234")
            try:
                sent = tasks.heartbeat.delay()
            finally:
                logs.request_id.reset(token)
            worker.wait_for(
                lambda: (
                    f"Task community_os.tasks.heartbeat[{sent.id}] succeeded"
                    in worker.log.read_text()
                ),
                30,
            )
        log = worker.log.read_text()
        assert re.search(
            rf"Z INFO celery\.app\.trace \[request_id=ops-request-1234 task_id={sent.id}\] "
            rf"Task community_os\.tasks\.heartbeat\[{sent.id}\] succeeded",
            log,
        ), log
        assert re.search(r"\[request_id=- task_id=[0-9a-f-]{36}\] Task community_os", log), log

        # The worker is stopped: 503 once its last heartbeat is older than STALE seconds.
        took = _wait_for(lambda: health()[0] == 503, STALE + 10, "503 without a worker", beat_log)
        code, body = health()
        assert (body["worker"], body["beat"], body["broker"]) == ("stale", "ok", "ok")
        assert body["worker_age_seconds"] >= STALE  # rounded to whole seconds
        assert took <= STALE + 3

        # It restarts: 200 again within seconds (the heartbeats queued meanwhile expired).
        with celery_worker(second) as worker:
            _wait_for(lambda: health()[0] == 200, 60, "200 after the restart", worker.log)
            assert health()[1]["worker"] == "ok"
        assert beat.poll() is None, beat_log.read_text()
