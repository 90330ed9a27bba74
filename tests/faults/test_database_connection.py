"""(d) The worker's PostgreSQL connection is terminated in the middle of a refresh
(pg_terminate_backend, as a failover or an administrator would): the refresh's transaction is
rolled back, the failure is recorded on the segment, and the task retries with backoff on a
new connection and completes."""

import pytest
from django.db import connection
from django.utils import timezone

from segments import tasks
from segments.models import Segment

from .conftest import (
    add_members,
    assert_materialized,
    smart_segment,
    snapshot,
    wait_until,
    worker_backends,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.real_worker,
    pytest.mark.django_db(transaction=True),
]

N = 20_000


def test_a_terminated_connection_is_retried_and_the_refresh_completes(
    big_community, workers, slow_ledger
):
    add_members(big_community, N, company="Acme")
    segment = smart_segment(big_community, "Acme", "Acme")
    worker = workers("db")
    tasks.refresh_segment_task.delay(big_community.pk, segment.pk, timezone.now().isoformat())

    def whole():
        assert snapshot(segment.pk) in ((0, 0, 0, 0), (N, N, N, 0))

    (backend,) = wait_until(
        lambda: worker_backends(worker.application_name, paused=True),
        30,
        "the refresh to write its ledger",
        check=lambda: (worker.alive(), whole()),
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
        assert cursor.fetchone() == (True,)

    wait_until(lambda: "Retry in" in worker.text(), 15, "the task to retry", check=worker.alive)
    assert snapshot(segment.pk) == (0, 0, 0, 0)
    assert "OperationalError" in Segment.objects.get(pk=segment.pk).refresh_error

    wait_until(
        lambda: "succeeded" in worker.text(),
        30,
        "the retried refresh",
        check=lambda: (worker.alive(), whole()),
    )
    assert f"({N}, 0)" in worker.text()
    assert snapshot(segment.pk) == (N, N, N, 0)
    assert_materialized(segment.pk, big_community, "Acme")


def test_a_worker_holds_no_connection_between_tasks(big_community, workers):
    """Celery's Django fixup closes the worker's connections before and after every task, so a
    connection the server dropped while the worker was idle is never reused: the next task
    opens a new one."""
    add_members(big_community, 100, company="Acme")
    first = smart_segment(big_community, "First", "Acme")
    second = smart_segment(big_community, "Second", "Acme")
    worker = workers("idle")

    def connections():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [worker.application_name],
            )
            return cursor.fetchone()[0]

    for segment in (first, second):
        done = worker.text().count("succeeded") + 1
        tasks.refresh_segment_task.delay(big_community.pk, segment.pk, timezone.now().isoformat())
        wait_until(lambda done=done: worker.text().count("succeeded") == done, 30, "the refresh")
        wait_until(lambda: connections() == 0, 10, "the worker to close its connection")
    assert "Retry in" not in worker.text()
    for segment in (first, second):
        assert snapshot(segment.pk) == (100, 100, 100, 0)
        assert_materialized(segment.pk, big_community, "Acme")
