"""An import job that ends (done or failed) mails its uploader the counts and a link: from the
job's own worker once the end commits, or from a retrying task if the mail server failed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail as outbox
from django.urls import reverse
from django.utils import timezone

from members import jobs
from members.models import ImportJob
from notifications import services
from notifications.models import EmailKind, OptOut
from tests.members.test_imports_view import post_job, upload
from tests.notifications.conftest import SITE

pytestmark = pytest.mark.django_db

GOOD = "name,email\nAnn,ann@example.org\nBen,ben@example.org\n"
NOTICE = "notifications.tasks.send_import_notice"


@pytest.fixture
def import_file(alice_client, community, work, celery_calls, django_capture_on_commit_callbacks):
    def run(content: str, *, confirm: bool = True) -> ImportJob:
        url = reverse("members:imports", args=[community.slug])
        upload(alice_client, url, content, capture=django_capture_on_commit_callbacks)
        job = ImportJob.objects.latest("pk")
        work()  # the check
        if confirm:
            post_job(alice_client, job, django_capture_on_commit_callbacks, action="import")
            work()  # the import
        job.refresh_from_db()
        return job

    return run


def test_a_finished_import_mails_the_uploader_its_counts_and_link(import_file, celery_calls):
    job = import_file(GOOD)
    assert job.status == "done"
    assert NOTICE not in [c[0] for c in celery_calls]  # sent by the job's worker itself
    [message] = outbox.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "Import done: members.csv (Acme Builders)"
    assert "Your import of members.csv (Members) into Acme Builders is done." in message.body
    assert "Created: 2" in message.body and "Invalid: 0" in message.body
    link = f"{SITE}/c/acme/imports/{job.pk}/"
    assert link in message.body and f'href="{link}"' in message.alternatives[0][0]
    assert message.extra_headers["List-Unsubscribe"].startswith(f"<{SITE}/unsubscribe/")


def test_a_check_that_waits_for_confirmation_mails_nothing(import_file):
    job = import_file(GOOD, confirm=False)
    assert job.status == "ready"
    assert outbox.outbox == []


def test_a_failed_import_says_why(
    alice_client, community, work, celery_calls, django_capture_on_commit_callbacks
):
    url = reverse("members:imports", args=[community.slug])
    upload(alice_client, url, GOOD, capture=django_capture_on_commit_callbacks)
    job = ImportJob.objects.latest("pk")
    job.file.storage.delete(job.file.name)  # gone before the worker reads it
    work()
    job.refresh_from_db()
    assert job.status == "failed"
    [message] = outbox.outbox
    assert message.subject == "Import failed: members.csv (Acme Builders)"
    assert "The uploaded file cannot be read any more" in message.body
    assert "Created: 0" in message.body


def test_a_job_whose_worker_died_mails_once(
    community, alice, celery_calls, django_capture_on_commit_callbacks
):
    started = timezone.now() - timedelta(hours=2)
    job = ImportJob.objects.create(
        community=community,
        importer="members",
        file_name="big.csv",
        status="importing",
        started_at=started,
        uploaded_by=alice,
    )
    with django_capture_on_commit_callbacks(execute=True):
        jobs.sweep_jobs()
    assert services.import_notice_send(job_id=job.pk) is False  # asked twice: sent once
    [message] = outbox.outbox
    assert "its worker was restarted" in message.body


def test_the_uploader_who_turned_it_off_gets_nothing(import_file, celery_calls, alice):
    OptOut.objects.create(user=alice, kind=EmailKind.IMPORT)
    import_file(GOOD)
    assert outbox.outbox == []


def test_an_uploader_without_a_role_any_more_gets_nothing(import_file, alice):
    job = import_file(GOOD)
    outbox.outbox.clear()
    alice.community_roles.all().delete()
    assert services.import_notice_send(job_id=job.pk) is False
    assert outbox.outbox == []


def test_a_commands_job_has_nobody_to_mail(
    community, celery_calls, django_capture_on_commit_callbacks
):
    job = ImportJob.objects.create(community=community, importer="members", file_name="m.csv")
    with django_capture_on_commit_callbacks(execute=True):
        jobs._fail(job, "The file could not be read.")
    assert NOTICE not in [c[0] for c in celery_calls]


def test_a_mail_server_that_fails_hands_the_mail_to_a_retrying_task(
    import_file, celery_calls, settings, monkeypatch
):
    from notifications import mail

    def refuse(**kwargs):
        raise OSError("Connection refused")

    monkeypatch.setattr(mail, "send", refuse)
    job = import_file(GOOD)
    assert job.status == "done"  # the import is done all the same
    assert [c for c in celery_calls if c[0] == NOTICE] == [
        (NOTICE, (job.pk,), {}, {"countdown": 60})
    ]
    monkeypatch.undo()
    assert services.import_notice_send(job_id=job.pk) is True  # what the task does
    assert len(outbox.outbox) == 1
