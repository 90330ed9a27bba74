"""Schemathesis against the live schema, in process: every operation of /api/v1/openapi.json,
with data that fits the schema and data that does not, sent through Django's WSGI handler with
a write token of acme (a community with members, activity, a smart and a manual segment and an
import job, so that valid ids reach past the 404s). Every response must be no 5xx and conform
to the schema: its status documented, its content type and body as documented (Schemathesis's
default checks), and data that does not fit must be refused with a 4xx.

One default check is left out, `positive_data_acceptance` (schema-valid data must get a 2xx):
a 422 for data the schema lets through is what the API answers for what no JSON schema says,
and what the screens refuse alike: a segment name in use, a rule naming an unknown field (a
rule is free-form JSON that the rule engine checks), an email held by another member, a join
date in the future, a cursor this API never gave. Bounded: EXAMPLES examples per operation."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.api import api as rest_api
from members.models import ImportJob
from segments import services
from tests.factories import ActivityFactory, IdentityFactory, MemberFactory

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))

# The schema as /api/v1/openapi.json serves it (tests/api/test_schema.py checks they agree).
schema = schemathesis.openapi.from_dict(rest_api.get_openapi_schema(path_params={}))
schema.app = WSGIHandler()


@pytest.fixture
def town(community, write_token, settings, monkeypatch):
    settings.API_RATE_LIMIT = 100_000
    # Webhook URLs resolve to a public address (the guard still refuses what it must): no DNS.
    monkeypatch.setattr("webhooks.transport.resolve", lambda host, port: ["93.184.215.14"])
    members = [MemberFactory(community=community, email=f"m{n}@example.org") for n in range(5)]
    IdentityFactory(member=members[0], source="slack", external_id="U1")
    ActivityFactory(member=members[0], external_id="a-1")
    manual = services.segment_create(community=community, name="Board", kind="manual")
    services.segment_add_members(segment=manual, members=members[:2])
    services.segment_create(
        community=community,
        name="Acme people",
        kind="smart",
        rule={"all": [{"field": "email", "op": "contains", "value": "example"}]},
    )
    ImportJob.objects.create(community=community, importer="members", file_name="a.csv")
    return write_token


@pytest.fixture
def in_process():
    """As Django's test client does: the request's end must not close the test's connection
    (its transaction is the test's)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_conforms_and_never_fails(case, town, in_process):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {town.secret}"},
        excluded_checks=[positive_data_acceptance],
    )
