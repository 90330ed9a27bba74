"""The Celery settings the fault tests rely on, checked on the real settings and task objects
(README "Background jobs under faults"). No worker or database needed, so these run on
every machine, not only on PostgreSQL."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError

from community_os.celery import app
from engagement import tasks as engagement_tasks
from segments import tasks as segment_tasks

OUR_TASKS = sorted(name for name in app.tasks if not name.startswith("celery."))


@pytest.fixture(scope="module")
def redis_transport_options():
    """The broker transport options of the Celery app as a worker on Redis sees them: the
    settings are loaded in a fresh process with a Redis broker URL (nothing connects)."""
    env = {**os.environ, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    env.pop("REDIS_URL", None)
    code = (
        "import json, django; django.setup(); from community_os.celery import app; "
        "print(json.dumps(app.conf.broker_transport_options))"
    )
    out = subprocess.run(  # noqa: S603 (our interpreter, our code)
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_late_acks_requeue_on_a_lost_worker_and_prefetch_one():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    # ...and the app the worker runs reads them.
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_every_task_has_a_soft_and_a_hard_time_limit():
    assert 0 < settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert app.conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert {
        "segments.tasks.refresh_segment_task",
        "segments.tasks.refresh_members_task",
        "segments.tasks.sweep_segments",
        "engagement.tasks.score_community_task",
        "engagement.tasks.score_all_communities",
    } <= set(OUR_TASKS)
    for name in OUR_TASKS:
        task = app.tasks[name]
        assert task.soft_time_limit and task.time_limit, name
        assert 0 < task.soft_time_limit < task.time_limit, name


def _longest_backoff(retries: int) -> float:
    with mock.patch("segments.tasks.random.uniform", side_effect=lambda low, high: high):
        return segment_tasks._backoff(retries)


def test_retries_are_bounded_with_backoff_on_named_exceptions():
    for task in (segment_tasks.refresh_segment_task, segment_tasks.refresh_members_task):
        assert task.max_retries == segment_tasks.MAX_RETRIES == 5
    # The refresh retries on its own RefreshError when it is retryable (the database failed:
    # OperationalError, InterfaceError), waiting 5, 10, 20, 40, 80 s (+-20 %) between tries.
    assert [_longest_backoff(n) for n in range(segment_tasks.MAX_RETRIES)] == [
        6.0,
        12.0,
        24.0,
        48.0,
        96.0,
    ]
    assert _longest_backoff(100) == 720  # capped
    score = engagement_tasks.score_community_task
    assert score.autoretry_for == (OperationalError,)
    assert score.retry_backoff is True and score.max_retries == 3


def test_the_redis_visibility_timeout_is_above_the_longest_task(redis_transport_options):
    timeout = redis_transport_options["visibility_timeout"]
    assert timeout > settings.CELERY_TASK_TIME_LIMIT
    for name in OUR_TASKS:
        assert timeout > app.tasks[name].time_limit, name
    # A retry waits in the worker, unacknowledged, for its countdown: Redis must not hand it
    # to another worker meanwhile.
    assert timeout > _longest_backoff(100)
    # Celery's autoretry backoff (scoring) is capped at 600 s unless the task says otherwise.
    assert timeout > getattr(engagement_tasks.score_community_task, "retry_backoff_max", 600)


def test_every_periodic_job_expires_before_the_next_one_is_due():
    assert settings.CELERY_BEAT_SCHEDULE
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
        schedule = entry["schedule"]
        assert isinstance(schedule, timedelta), name
        assert 0 < entry["options"]["expires"] <= schedule.total_seconds(), name
    # The refreshes the sweep enqueues expire too (the next sweep enqueues them again).
    assert 0 < segment_tasks.SWEEP_EXPIRES <= 60
