"""(c) The same refresh delivered twice at once (the same message twice, as a redelivery
would): both run at the same time on two pool processes, one does the refresh, the other
waits for the segment's row lock and then finds it already covered. One result, one ledger."""

import pytest
from celery.utils import uuid
from django.utils import timezone

from segments import tasks

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


def test_the_same_refresh_delivered_twice_at_once(big_community, workers, slow_ledger):
    add_members(big_community, N, company="Acme")
    add_members(big_community, 500, company="Globex")
    segment = smart_segment(big_community, "Acme", "Acme")
    worker = workers("pair", pool="prefork", concurrency=2)

    args = (big_community.pk, segment.pk, timezone.now().isoformat())
    task_id = uuid()
    for _ in range(2):
        tasks.refresh_segment_task.apply_async(args, task_id=task_id)

    def whole():
        assert snapshot(segment.pk) in ((0, 0, 0, 0), (N, N, N, 0))

    # At the same time: while one has written the whole refresh (not yet committed) under the
    # segment's row lock, the other waits for that lock.
    wait_until(
        lambda: (
            worker_backends(worker.application_name, waiting="Lock")
            and worker_backends(worker.application_name, paused=True)
        ),
        30,
        "the second delivery to wait for the first",
        check=lambda: (worker.alive(), whole()),
    )
    wait_until(
        lambda: worker.text().count("succeeded") == 2,
        30,
        "both deliveries to finish",
        check=lambda: (worker.alive(), whole()),
    )

    log = worker.text()
    assert log.count(f"[{task_id}] received") == 2
    assert log.count(f"({N}, 0)") == 1  # one refresh did the work...
    assert log.count("(0, 0)") == 1  # ...the other found it done
    assert snapshot(segment.pk) == (N, N, N, 0)
    assert_materialized(segment.pk, big_community, "Acme")
