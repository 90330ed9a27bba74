"""`/healthz` and the staff status page (community_os/health.py, community_os/views.py)."""

from datetime import timedelta
from unittest import mock

import pytest
import redis
from celery.signals import after_task_publish
from django.db import DatabaseError, connection
from django.urls import reverse
from django.utils import timezone

from community_os import health, tasks
from community_os.models import Heartbeat
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _beats(*, worker_age: float, beat_age: float) -> None:
    now = timezone.now()
    health.record(health.WORKER, detail="celery@box", at=now - timedelta(seconds=worker_age))
    health.record(health.BEAT, detail="box", at=now - timedelta(seconds=beat_age))


def test_healthz_is_200_with_every_part_ok_and_the_ages(client, settings):
    settings.HEALTH_STALE_SECONDS = 120
    _beats(worker_age=12, beat_age=3)
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "worker": "ok",
        "beat": "ok",
        "worker_age_seconds": 12,
        "beat_age_seconds": 3,
        "stale_after_seconds": 120,
    }
    assert "no-cache" in response["Cache-Control"]


def test_a_worker_heartbeat_older_than_the_setting_is_stale_and_503(client, settings):
    settings.HEALTH_STALE_SECONDS = 120
    _beats(worker_age=121, beat_age=3)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["worker"], body["beat"]) == ("error", "stale", "ok")
    assert body["worker_age_seconds"] == 121


def test_a_stale_beat_is_503_too(client, settings):
    settings.HEALTH_STALE_SECONDS = 60
    _beats(worker_age=5, beat_age=61)
    body = client.get(reverse("healthz")).json()
    assert (body["status"], body["worker"], body["beat"]) == ("error", "ok", "stale")


def test_heartbeats_never_written_are_missing_and_503(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert (body["worker"], body["beat"]) == ("missing", "missing")
    assert (body["worker_age_seconds"], body["beat_age_seconds"]) == (None, None)
    assert body["database"] == "ok"


def test_a_database_that_does_not_answer_is_503_and_the_heartbeats_unknown(client):
    _beats(worker_age=1, beat_age=1)
    with mock.patch.object(connection, "cursor", side_effect=DatabaseError("down")):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert (body["database"], body["worker"], body["beat"]) == ("unavailable", "unknown", "unknown")


def test_a_redis_broker_that_does_not_answer_is_503(client, settings, unused_port):
    _beats(worker_age=1, beat_age=1)
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{unused_port}/7"
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable"


def test_a_missing_filesystem_broker_folder_is_503(client, settings, tmp_path):
    _beats(worker_age=1, beat_age=1)
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "absent")}
    assert client.get(reverse("healthz")).json()["broker"] == "unavailable"
    (tmp_path / "absent").mkdir()
    response = client.get(reverse("healthz"))
    assert (response.status_code, response.json()["broker"]) == (200, "ok")


def test_healthz_is_never_a_500(client):
    with mock.patch("community_os.health.broker_check", side_effect=RuntimeError("surprise")):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "error"}


def test_healthz_answers_get_only(client):
    assert client.post(reverse("healthz")).status_code == 405


# --- Writing the heartbeats -----------------------------------------------------------------------


def test_the_heartbeat_task_records_the_worker_and_its_name():
    tasks.heartbeat.apply()  # runs here, as the worker would (the broker is not involved)
    row = Heartbeat.objects.get(name="worker")
    assert timezone.now() - row.at < timedelta(seconds=5)
    assert Heartbeat.objects.count() == 1


def test_a_heartbeat_is_one_row_overwritten():
    old = timezone.now() - timedelta(hours=1)
    health.record(health.WORKER, detail="first", at=old)
    health.record(health.WORKER, detail="second")
    (row,) = Heartbeat.objects.all()
    assert row.detail == "second" and row.at > old


def test_beat_records_its_heartbeat_when_it_sends_one(monkeypatch):
    # Outside the beat process, a heartbeat sent (by anyone) does not count as beat's.
    after_task_publish.send(sender=health.HEARTBEAT_TASK, headers={}, body=(), exchange="")
    assert not Heartbeat.objects.filter(name="beat").exists()

    monkeypatch.setattr(health, "_in_beat", True)  # what beat_init does in the beat process
    after_task_publish.send(sender="segments.tasks.sweep_segments", headers={}, body=())
    assert not Heartbeat.objects.filter(name="beat").exists()
    after_task_publish.send(sender=health.HEARTBEAT_TASK, headers={}, body=(), exchange="")
    assert timezone.now() - Heartbeat.objects.get(name="beat").at < timedelta(seconds=5)


def test_a_failed_beat_write_does_not_stop_beat(monkeypatch):
    monkeypatch.setattr(health, "_in_beat", True)
    with mock.patch.object(health, "record", side_effect=DatabaseError("down")):
        after_task_publish.send(sender=health.HEARTBEAT_TASK, headers={}, body=())  # no raise


# --- Queue lengths --------------------------------------------------------------------------------


def test_filesystem_queue_length_counts_the_queue_files(settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    for index in range(3):
        (tmp_path / f"{index}_abc.celery.msg").write_text("{}")
    (tmp_path / "9_abc.other.msg").write_text("{}")
    assert health.queue_lengths() == [("celery (waiting)", 3)]


@pytest.fixture
def redis_db7():
    """Redis database 7 of the local server (ours), or a skip; the test's keys are deleted."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=7, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    queue = "ops-test-queue"
    keys = [queue, f"{queue}\x06\x163", f"{queue}\x06\x169"]
    client.delete(*keys)
    try:
        yield client, queue
    finally:
        client.delete(*keys)
        client.close()


def test_redis_queue_length_sums_the_priority_lists(settings, redis_db7):
    client, queue = redis_db7
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/7"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    client.rpush(queue, "a", "b")
    client.rpush(f"{queue}\x06\x169", "c")
    lengths = dict(health.queue_lengths())
    assert lengths[f"{queue} (waiting)"] == 3
    assert lengths["delivered, not yet acknowledged"] == client.hlen("unacked")


# --- The status page ------------------------------------------------------------------------------


def test_the_status_page_asks_anonymous_users_to_log_in(client):
    response = client.get(reverse("status"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_status_page_is_404_for_users_who_are_not_staff(alice_client):
    assert alice_client.get(reverse("status")).status_code == 404


def test_the_status_page_shows_staff_the_checks_queues_and_periodic_jobs(
    client, settings, tmp_path
):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    (tmp_path / "1_abc.celery.msg").write_text("{}")
    (tmp_path / "2_abc.celery.msg").write_text("{}")
    settings.HEALTH_STALE_SECONDS = 120
    _beats(worker_age=130, beat_age=4)
    client.force_login(UserFactory(username="root", is_staff=True))
    response = client.get(reverse("status"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "503 now" in page
    assert "Worker (ran the heartbeat)" in page and "stale" in page and "130 s ago" in page
    assert "celery@box" in page and "4 s ago" in page
    assert '<th scope="row">celery (waiting)</th><td class="num">2</td>' in page
    for name in ("heartbeat", "clear-sessions", "delete-old-login-records", "sweep-import-jobs"):
        assert f'<th scope="row">{name}</th>' in page


def test_the_status_page_says_when_the_broker_is_down(client, settings, unused_port):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{unused_port}/7"
    client.force_login(UserFactory(username="root", is_staff=True))
    page = client.get(reverse("status")).content.decode()
    assert "The broker is unavailable." in page
