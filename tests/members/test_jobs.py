"""The import jobs' sweep (members/jobs.py sweep_jobs): retention, dead workers, the broker."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from members import jobs
from members.models import ImportJob

pytestmark = pytest.mark.django_db


def job(community, **fields) -> ImportJob:
    made = ImportJob.objects.create(
        community=community, importer="members", file_name="m.csv", **fields
    )
    made.file.save("upload.csv", ContentFile(b"name\nAnn\n"))
    return made


def test_files_are_deleted_after_the_retention_period(community, settings):
    settings.IMPORT_FILE_RETENTION_DAYS = 7
    now = timezone.now()
    old = job(community, status="done", finished_at=now - timedelta(days=8))
    old.report.save("1-report.csv", ContentFile(b"line,problem,message\n"))
    recent = job(community, status="done", finished_at=now - timedelta(days=6))
    running = job(community, status="importing", started_at=now - timedelta(minutes=5))
    stored = old.file.name, old.report.name

    assert jobs.sweep_jobs(now) == (0, 0, 1)

    old.refresh_from_db()
    assert (old.file.name, old.report.name) == ("", "")
    assert not any(old.file.storage.exists(name) for name in stored)
    assert (old.status, old.finished_at is not None) == ("done", True)  # the history stays
    for kept in (recent, running):
        kept.refresh_from_db()
        assert kept.file.storage.exists(kept.file.name)


def test_a_job_whose_worker_died_is_failed_and_says_so(community, settings):
    now = timezone.now()
    limit = timedelta(seconds=settings.IMPORT_TASK_TIME_LIMIT + 300)
    dead = job(community, status="importing", started_at=now - limit - timedelta(seconds=1))
    alive = job(community, status="validating", started_at=now - limit + timedelta(minutes=1))

    assert jobs.sweep_jobs(now) == (0, 1, 0)

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == "failed"
    assert "its worker was restarted" in dead.message
    assert alive.status == "validating"


def test_a_job_that_waited_for_the_broker_is_enqueued(community, celery_calls):
    waiting = job(community, status="queued", waiting_for_broker=True)
    job(community, status="queued")  # enqueued already: not again

    assert jobs.sweep_jobs() == (1, 0, 0)

    assert celery_calls == [("members.tasks.run_import_job", (waiting.pk,), {}, {})]
    waiting.refresh_from_db()
    assert not waiting.waiting_for_broker
