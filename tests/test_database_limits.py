"""What one web request may ask of the database (community_os/database.py): a statement
timeout, no JIT, no parallel workers; a statement stopped at the limit is answered with a
clear message, never a 500, and leaves nothing running."""

import time
from unittest import mock

import pytest
from django.db import DatabaseError, OperationalError, connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from community_os import database, health
from segments import rules

pytestmark = pytest.mark.django_db


def _show(*names: str) -> list[str]:
    with connection.cursor() as cursor:
        values = []
        for name in names:
            cursor.execute(f"SHOW {name}")
            values.append(cursor.fetchone()[0])
    return values


SETTINGS = ("statement_timeout", "jit", "max_parallel_workers_per_gather")


@pytest.mark.postgres
def test_a_request_runs_under_the_web_limits(settings):
    settings.WEB_STATEMENT_TIMEOUT = 2.5
    seen = []

    def view(request):
        seen.extend(_show(*SETTINGS))
        return HttpResponse("ok")

    response = database.RequestLimitsMiddleware(view)(RequestFactory().get("/"))
    assert seen == ["2500ms", "off", "0"]
    assert response.status_code == 200
    # Their reset at the end of the response: test_the_limits_are_reset_when_the_response_is_
    # finished (outside a test's transaction, which would keep them until its rollback).


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_limits_are_reset_when_the_response_is_finished(client, settings):
    settings.WEB_STATEMENT_TIMEOUT = 2.5
    before = _show(*SETTINGS)
    health.record(health.WORKER)  # fresh heartbeats: the health check answers 200
    health.record(health.BEAT)
    assert client.get(reverse("healthz")).status_code == 200
    assert _show(*SETTINGS) == before


@pytest.mark.postgres
def test_a_timed_out_statement_is_a_503_with_a_message_never_a_500(rf):
    with (
        pytest.raises(OperationalError) as caught,
        database.statement_timeout(0.05),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_sleep(2)")
    assert database.is_timeout(caught.value)
    middleware = database.RequestLimitsMiddleware(lambda request: HttpResponse())

    page = middleware.process_exception(rf.get("/c/acme/"), caught.value)
    assert page.status_code == 503 and page["Retry-After"] == "10"
    assert "This took too long and was stopped" in page.content.decode()

    htmx = rf.get("/c/acme/", HTTP_HX_REQUEST="true")
    htmx.htmx = True
    answer = middleware.process_exception(htmx, caught.value)
    assert answer.status_code == 503 and answer["Content-Type"].startswith("text/plain")
    assert answer.content.decode() == database.TIMEOUT_MESSAGE

    other = OperationalError("connection refused")
    assert middleware.process_exception(rf.get("/"), other) is None  # not ours to answer


SLOW_QUERY = {
    "postgresql": "SELECT pg_sleep(5)",
    # SQLite has no sleep: count half a billion rows of a recursive CTE.
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
    "SELECT count(*) FROM (SELECT i FROM n LIMIT 500000000)",
}


def test_a_statement_past_its_time_limit_is_stopped_on_either_database():
    """PostgreSQL's statement_timeout, or SQLite's progress handler."""
    started = time.monotonic()
    with (
        pytest.raises(OperationalError) as caught,
        database.statement_timeout(0.2),
        connection.cursor() as cursor,
    ):
        cursor.execute(SLOW_QUERY[connection.vendor])
    assert time.monotonic() - started < 3
    assert database.is_timeout(caught.value)


def _slow_rule() -> dict:
    """As many conditions as a rule may have, each a text search no index can answer."""
    return {
        "any": [
            {"field": "bio", "op": "contains", "value": f"needle {i} never found"}
            for i in range(rules.MAX_CONDITIONS)
        ]
    }


def _preview_data(rule: dict) -> dict:
    data = {"kind": "smart", "group-1": "any"}
    for index, condition in enumerate(rule["any"], start=1):
        data[f"field-1.{index}"] = condition["field"]
        data[f"op-1.{index}"] = condition["op"]
        data[f"value-1.{index}"] = condition["value"]
    return data


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_preview_too_slow_for_the_limit_is_stopped_and_leaves_nothing_running(
    client, community, alice, settings
):
    with connection.cursor() as cursor:  # 300,000 members with a bio to search
        cursor.execute(
            """INSERT INTO members_member (community_id, name, email, company_name, job_title,
                   location, city, country, bio, avatar_url, attributes, joined_at,
                   created_at, updated_at)
               SELECT %s, 'Member ' || i, '', '', '', '', '', '',
                   repeat('a long biography without what is searched ', 4), '', '{}',
                   now(), now(), now()
               FROM generate_series(1, 300000) AS i""",
            [community.pk],
        )
    settings.WEB_STATEMENT_TIMEOUT = 0.3
    client.force_login(alice)
    started = time.monotonic()
    response = client.post(
        reverse("segments:preview", args=[community.slug]),
        _preview_data(_slow_rule()),
        HTTP_HX_REQUEST="true",
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert "takes too long to preview" in response.content.decode()
    assert elapsed < 3, elapsed
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()
                 AND state = 'active' AND query ILIKE %s""",
            ["%members_member%"],
        )
        assert cursor.fetchone()[0] == 0


def test_an_unreachable_database_leaves_the_answer_to_the_view(client):
    """The health check must still say 503 when the database is down: the limits cannot be
    set then, and the request goes on without them."""
    with mock.patch("community_os.database.connection.cursor", side_effect=DatabaseError("down")):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503


def test_the_preview_attack_is_refused_at_once(client, community, alice):
    """The request that held PostgreSQL for 11 minutes: 50 conditions `name is_any_of` 500
    values each, in an any-group. The rule is refused before any query runs."""
    data = {"kind": "smart", "group-1": "any"}
    for index in range(1, 51):
        data[f"field-1.{index}"] = "name"
        data[f"op-1.{index}"] = "is_any_of"
        data[f"value-1.{index}"] = ",".join(f"name {index}-{value}" for value in range(500))
    client.force_login(alice)
    started = time.monotonic()
    response = client.post(
        reverse("segments:preview", args=[community.slug]), data, HTTP_HX_REQUEST="true"
    )
    assert time.monotonic() - started < 3
    assert response.status_code == 200
    assert "at most 1000 values in all" in response.content.decode()
