"""(e) The broker is down while managers write: every committed write is answered as usual
(never 500), what it asked for is marked as waiting and says so, and once the broker is back
the sweeps enqueue it.

Before: a segment save, a rule edit, an upload and a kinds save each answered 500 from the
on-commit enqueue, although each had committed; a retry said "There is already a segment
called ..."."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from engagement.models import ActivityKind
from engagement.tasks import score_waiting_communities
from members.models import Community, ImportJob
from members.tasks import sweep_import_jobs
from segments.models import Segment
from segments.tasks import sweep_segments
from tests.engagement.test_views import kinds_formset_data
from tests.factories import MemberFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.real_worker,  # nothing is recorded in place of the broker: it is really down
    pytest.mark.django_db(transaction=True),
]

# Each request waits for the broker's refusal (a few retries), never for long.
WITHIN_SECONDS = 5


def company_is(name: str) -> dict:
    return {"all": [{"field": "company_name", "op": "is", "value": name}]}


def _queued(broker) -> int:
    with broker.client() as client:
        return client.llen("celery")


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_writes_with_the_broker_down_commit_answer_and_wait_for_the_sweeps(
    broker, client, community, amy
):
    client.force_login(amy)
    MemberFactory(community=community, company_name="Acme", email="ada@example.org")
    slug = community.slug
    broker.stop()

    # A new smart segment: saved, listed as updating, and a retry is not needed.
    response, seconds = _timed(
        lambda: client.post(
            reverse("segments:new", args=[slug]),
            {
                "kind": "smart",
                "name": "Acme people",
                "color": "blue",
                "group-1": "all",
                "field-1.1": "company_name",
                "op-1.1": "is",
                "value-1.1": "Acme",
                "action": "save",
            },
            HTTP_HX_REQUEST="true",
        )
    )
    assert response.status_code == 204, response.content
    assert seconds < WITHIN_SECONDS
    segment = Segment.objects.get(community=community, name="Acme people")
    assert segment.is_updating
    page = client.get(reverse("segments:list", args=[slug]))
    assert "Updating…" in page.content.decode()

    # Its rule edited: saved, still waiting.
    response = client.post(
        reverse("segments:edit", args=[slug, segment.pk]),
        {
            "name": "Acme people",
            "color": "blue",
            "group-1": "all",
            "field-1.1": "company_name",
            "op-1.1": "is",
            "value-1.1": "Globex",
            "action": "save",
            "edit_version": segment.edit_version,
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204, response.content
    segment.refresh_from_db()
    assert segment.rule == company_is("Globex")
    assert segment.rule_version == 2 and segment.is_updating

    # An activities upload: its job is kept, and waits for the broker.
    csv = b"member_email,kind,occurred_at\nada@example.org,message,2026-11-01T10:00:00Z\n"
    response, seconds = _timed(
        lambda: client.post(
            reverse("members:imports", args=[slug]) + "?importer=activities",
            {"file": SimpleUploadedFile("activities.csv", csv, content_type="text/csv")},
        )
    )
    assert response.status_code == 302
    assert seconds < WITHIN_SECONDS
    job = ImportJob.objects.get(community=community)
    assert (job.status, job.waiting_for_broker) == ("queued", True)
    page = client.get(job.get_absolute_url()).content.decode()
    assert "The task queue could not be reached" in page

    # A kinds save: written, and the rescore waits.
    first = ActivityKind.objects.for_community(community).order_by("-initiated", "label")[0]
    data = kinds_formset_data(community, **{first.slug: {"weight": 7}})
    response = client.post(reverse("engagement:kinds", args=[slug]), data)
    assert response.status_code == 302
    assert ActivityKind.objects.get(pk=first.pk).weight == 7
    community.refresh_from_db()
    assert community.rescore_waiting_since is not None
    page = client.get(reverse("engagement:dashboard", args=[slug])).content.decode()
    assert "Scores are waiting to be recomputed" in page

    # The broker is back: the minutely sweeps enqueue what waited.
    broker.start()
    assert sweep_segments() == 1
    assert score_waiting_communities() == 1
    assert sweep_import_jobs() == (1, 0, 0)
    assert _queued(broker) == 3
    assert not ImportJob.objects.get(pk=job.pk).waiting_for_broker
    assert Community.objects.get(pk=community.pk).rescore_waiting_since is not None
