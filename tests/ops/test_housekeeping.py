"""Housekeeping in beat: expired sessions and old login records (community_os/tasks.py), and
the one beat schedule that runs them."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from community_os import tasks
from community_os.celery import app

pytestmark = pytest.mark.django_db


def test_clear_sessions_deletes_the_expired_ones_only():
    live = SessionStore()
    live["who"] = "alice"
    live.create()
    expired = SessionStore()
    expired["who"] = "bob"
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    tasks.clear_sessions()
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def _records(age: timedelta) -> None:
    at = timezone.now() - age
    common = {"username": f"aged {age}", "ip_address": "203.0.113.10", "user_agent": "test"}
    rows = [
        AccessAttempt.objects.create(**common, path_info="/", failures_since_start=5),
        AccessLog.objects.create(**common, path_info="/"),
        AccessFailureLog.objects.create(**common, path_info="/", locked_out=True),
    ]
    for row in rows:  # attempt_time is auto_now_add
        type(row).objects.filter(pk=row.pk).update(attempt_time=at)


def test_login_records_older_than_axes_keep_days_are_deleted(settings):
    settings.AXES_KEEP_DAYS = 30
    _records(timedelta(days=31))
    _records(timedelta(days=29))
    assert tasks.delete_old_login_records() == 3
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        assert list(model.objects.values_list("username", flat=True)) == [
            f"aged {timedelta(days=29)}"
        ]


def test_an_attempt_within_its_cool_off_is_never_deleted(settings):
    settings.AXES_KEEP_DAYS = 1
    settings.AXES_COOLOFF_TIME = timedelta(days=3)
    _records(timedelta(days=2))
    assert tasks.delete_old_login_records() == 0
    assert AccessAttempt.objects.count() == 1


def test_every_periodic_job_is_a_registered_task_that_expires_before_it_is_due_again():
    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
        every = entry["schedule"].total_seconds()
        assert 0 < entry["options"]["expires"] <= every, name


def test_the_housekeeping_jobs_are_in_the_schedule():
    tasks_in_schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "community_os.tasks.heartbeat",
        "community_os.tasks.clear_sessions",
        "community_os.tasks.delete_old_login_records",
        "members.tasks.sweep_import_jobs",  # expired import files
    } <= tasks_in_schedule
    heartbeat = settings.CELERY_BEAT_SCHEDULE["heartbeat"]
    assert heartbeat["schedule"] == timedelta(seconds=settings.HEALTH_HEARTBEAT_SECONDS)
    assert heartbeat["options"]["expires"] == settings.HEALTH_HEARTBEAT_SECONDS
