"""Segment writes that race cannot break the graph of segment references (segments/locks.py
`graph_lock`): no cycle, no rule that refers to a deleted segment.

Each race is made certain by slowing the check a write makes before it writes, so that both
writes are checked before either commits, unless the lock serializes them. Threads need two
connections: PostgreSQL only.
"""

import threading
import time
from unittest import mock

import pytest
from django.db import connection

from segments import graph, services
from segments.models import Segment
from tests.factories import CommunityFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

EVERYONE = {"all": []}


def reads(segment: Segment, op: str = "in") -> dict:
    return {"all": [{"field": "segment", "op": op, "value": segment.pk}]}


def slowly(function):
    """`function`, which then waits long enough for the other thread to reach the same point."""

    def slow(*args, **kwargs):
        result = function(*args, **kwargs)
        time.sleep(0.5)
        return result

    return slow


def run_together(*calls) -> list[BaseException | None]:
    """Run each call in its own thread at the same moment; what each raised (None: nothing)."""
    outcomes: list[BaseException | None] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index, call):
        try:
            start.wait()
            call()
        except BaseException as error:  # reported to the test
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def cycle_in(community) -> list[int]:
    full = graph.dependency_graph(community)
    for segment_id, references in full.items():
        if found := graph.find_cycle(full, segment_id, references):
            return found
    return []


def test_two_edits_that_would_close_a_cycle_cannot_both_be_saved():
    community = CommunityFactory(slug="race-cycle")
    p = services.segment_create(community=community, name="P", kind="smart", rule=EVERYONE)
    q = services.segment_create(community=community, name="Q", kind="smart", rule=EVERYONE)
    with mock.patch.object(services, "clean_rule", slowly(services.clean_rule)):
        outcomes = run_together(
            lambda: services.segment_update(segment=p, rule=reads(q, "not_in")),
            lambda: services.segment_update(segment=q, rule=reads(p)),
        )
    errors = [error for error in outcomes if error is not None]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], services.SegmentError)
    assert "refer to each other in a circle" in str(errors[0])
    assert cycle_in(community) == []


def test_a_deletion_and_an_edit_that_reads_the_deleted_segment_cannot_both_succeed():
    community = CommunityFactory(slug="race-delete")
    x = services.segment_create(community=community, name="X", kind="smart", rule=EVERYONE)
    y = services.segment_create(community=community, name="Y", kind="manual")
    with (
        mock.patch.object(services, "clean_rule", slowly(services.clean_rule)),
        mock.patch.object(graph, "dependency_graph", slowly(graph.dependency_graph)),
    ):
        outcomes = run_together(
            lambda: services.segment_delete(segment=y),
            lambda: services.segment_update(segment=x, rule=reads(y)),
        )
    errors = [error for error in outcomes if error is not None]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], services.SegmentError)
    existing = set(Segment.objects.filter(community=community).values_list("pk", flat=True))
    for references in graph.dependency_graph(community).values():
        assert references <= existing  # no rule reads a deleted segment


def test_an_edit_of_a_segment_deleted_meanwhile_says_so():
    community = CommunityFactory(slug="race-gone")
    segment = services.segment_create(community=community, name="Gone", kind="manual")
    Segment.objects.filter(pk=segment.pk).delete()
    with pytest.raises(services.SegmentGone, match="Gone was deleted meanwhile"):
        services.segment_update(segment=segment, name="Back")
    with pytest.raises(services.SegmentGone):
        services.segment_add_members(segment=segment, members=[])
    with pytest.raises(services.SegmentGone):
        services.segment_move(segment=segment, up=True)
    services.segment_delete(segment=segment)  # already gone: nothing to do, no error
