"""(b) Redis crashes and comes back while refreshes are queued: the worker reconnects and
every queued refresh is done. Redis runs as production must run it (append-only file,
README "Background jobs under faults"); without it a crash would drop the queue and only the
sweep would bring the segments up to date."""

import pytest
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

BIG, SMALL = 20_000, 300
COMPANIES = ["Initech", "Hooli", "Umbrella", "Stark", "Wayne"]


@pytest.mark.parametrize("private_redis", [True], ids=["appendonly"], indirect=True)
def test_a_redis_restart_with_queued_refreshes(big_community, workers, broker, slow_ledger):
    add_members(big_community, BIG, company="Acme")
    for company in COMPANIES:
        add_members(big_community, SMALL, company=company)
    big = smart_segment(big_community, "Acme", "Acme")
    small = [smart_segment(big_community, company, company) for company in COMPANIES]
    worker = workers("redis")

    requested_at = timezone.now().isoformat()
    for segment in [big, *small]:
        tasks.refresh_segment_task.delay(big_community.pk, segment.pk, requested_at)
    # The worker (one process, prefetch 1) is inside the big refresh; the rest wait in Redis.
    wait_until(
        lambda: worker_backends(worker.application_name, paused=True),
        30,
        "the big refresh",
        check=worker.alive,
    )
    with broker.client() as client:
        assert client.llen("celery") == len(small)

    broker.kill()  # a crash, not a clean shutdown
    broker.start()

    late = smart_segment(big_community, "Late", "Initech")  # the producer reconnects too
    tasks.refresh_segment_task.delay(big_community.pk, late.pk, timezone.now().isoformat())

    wait_until(
        lambda: all(snapshot(s.pk)[0] == SMALL for s in [*small, late]),
        60,
        "the queued refreshes",
        check=worker.alive,
    )
    assert snapshot(big.pk) == (BIG, BIG, BIG, 0)
    assert_materialized(big.pk, big_community, "Acme")
    for segment, company in [*zip(small, COMPANIES, strict=True), (late, "Initech")]:
        assert snapshot(segment.pk) == (SMALL, SMALL, SMALL, 0)
        assert_materialized(segment.pk, big_community, company)
    log = worker.text()
    assert "Connection to broker lost" in log
    assert log.count("Connected to redis://") >= 2
    assert log.count("succeeded") >= 1 + len(small) + 1
