"""(a) A worker SIGKILLed in the middle of a large refresh: the segment is never seen half
refreshed, and the refresh is completed afterwards with a consistent ledger.

The refresh of one segment is one transaction; the kill lands while the worker's transaction
has written every membership and ledger row and not committed (`slow_ledger` holds it there).
"""

import os
import signal
import time

import pytest
from django.utils import timezone

from segments import refresh, tasks
from segments.models import Segment

from .conftest import (
    add_members,
    assert_materialized,
    company_is,
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

OLD, NEW = 1_000, 20_000


def _edited_segment(community):
    """A segment materialized with OLD members whose rule was then changed to match NEW others:
    the next refresh moves OLD members out and NEW members in."""
    add_members(community, OLD, company="Initech")
    add_members(community, NEW, company="Acme")
    segment = smart_segment(community, "Acme", "Initech")
    refresh.refresh_segment(segment.pk)
    Segment.objects.filter(pk=segment.pk).update(rule=company_is("Acme"), rule_version=2)
    old = (OLD, OLD, OLD, 0)
    new = (NEW, NEW, OLD + NEW, OLD)
    assert snapshot(segment.pk) == old
    return segment, old, new


def _whole(segment, old, new):
    """A check for wait_until: the segment shows all of the old or all of the new state."""

    def check():
        assert snapshot(segment.pk) in (old, new)

    return check


def _kill_during_ledger_insert(worker, segment, old, new, kill):
    wait_until(
        lambda: worker_backends(worker.application_name, paused=True),
        60,
        "the refresh to write its ledger",
        check=lambda: (worker.alive(), _whole(segment, old, new)()),
    )
    kill()
    assert snapshot(segment.pk) == old  # the killed transaction shows nothing


def test_a_pool_process_killed_mid_refresh_is_redelivered_and_completed(
    big_community, workers, slow_ledger
):
    """acks_late + reject_on_worker_lost: the worker's main process sees its pool process
    die, puts the message back, and a fresh pool process completes the refresh."""
    segment, old, new = _edited_segment(big_community)
    worker = workers("pool", pool="prefork", concurrency=1)
    tasks.refresh_segment_task.delay(big_community.pk, segment.pk, timezone.now().isoformat())

    (child,) = worker.children()
    _kill_during_ledger_insert(worker, segment, old, new, lambda: os.kill(child, signal.SIGKILL))

    check = _whole(segment, old, new)
    wait_until(lambda: snapshot(segment.pk) == new, 60, "the redelivered refresh", check=check)
    assert_materialized(segment.pk, big_community, "Acme")
    log = worker.text()
    assert "WorkerLostError" in log
    assert child not in worker.children()
    assert "succeeded" in log and f"({NEW}, {OLD})" in log


def test_a_killed_worker_loses_no_refresh(big_community, workers, broker, slow_ledger):
    """The whole worker is SIGKILLed, so nothing rejects its message: Redis keeps it unacked
    until the visibility timeout. Meanwhile beat's sweep refreshes the stale segment on a new
    worker; the message delivered again an hour later changes nothing."""
    segment, old, new = _edited_segment(big_community)
    # The old membership is older than the community's interval: the sweep will pick it up.
    Segment.objects.filter(pk=segment.pk).update(
        refreshed_at=timezone.now() - big_community.segment_refresh_interval * 2
    )
    first = workers("first")
    requested_at = timezone.now().isoformat()
    tasks.refresh_segment_task.delay(big_community.pk, segment.pk, requested_at)
    _kill_during_ledger_insert(first, segment, old, new, first.kill)

    with broker.client() as client:
        unacked = client.hgetall("unacked")
    assert len(unacked) == 1  # not lost: held for redelivery after the visibility timeout
    ((tag, _),) = unacked.items()

    second = workers("second")
    tasks.sweep_segments.delay()  # what beat does every minute
    check = _whole(segment, old, new)
    wait_until(lambda: snapshot(segment.pk) == new, 60, "the sweep's refresh", check=check)
    assert_materialized(segment.pk, big_community, "Acme")
    refreshed_at = Segment.objects.get(pk=segment.pk).refreshed_at
    assert f"({NEW}, {OLD})" in second.text()
    second.stop()

    # An hour later (the unacked entry is made older than the visibility timeout), a worker
    # starting up restores the killed worker's message and runs it: covered by the sweep's
    # refresh, it is skipped.
    with broker.client() as client:
        client.zadd("unacked_index", {tag: time.time() - 3 * 3600})
    third = workers("third")
    wait_until(lambda: "succeeded" in third.text(), 30, "the redelivered message")
    assert "(0, 0)" in third.text()
    with broker.client() as client:
        assert client.hlen("unacked") == 0
    assert snapshot(segment.pk) == new
    assert Segment.objects.get(pk=segment.pk).refreshed_at == refreshed_at
    assert_materialized(segment.pk, big_community, "Acme")
