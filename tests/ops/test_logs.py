"""Log lines: time, level, logger, request id and task id (community_os/logs.py and
community_os/middleware.py); optional Sentry. The worker's lines: tests/ops/test_health_worker.py.
"""

import gzip
import json
import logging
import os
import re
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
import sentry_sdk
from celery.signals import before_task_publish, task_postrun, task_prerun
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from community_os import logs, tasks
from community_os.middleware import RequestIdMiddleware

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<level>[A-Z]+) (?P<logger>\S+) "
    r"\[request_id=(?P<request_id>\S+) task_id=(?P<task_id>\S+)\] (?P<message>.*)$"
)


@pytest.fixture
def lines():
    """What the project's handler (its filter and formatter) writes, for the root logger and
    for "django" (which does not propagate, settings.LOGGING)."""
    written: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            written.append(self.format(record))

    handler = Collect()
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.TextFormatter())
    loggers = [logging.getLogger(), logging.getLogger("django")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield written
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def _middleware_logging(message):
    def view(request):
        logging.getLogger("tests.ops").warning(message)
        return HttpResponse("ok")

    return RequestIdMiddleware(view)


def test_a_request_gets_an_id_in_its_log_lines_and_its_response(lines):
    response = _middleware_logging("inside the view")(RequestFactory().get("/"))
    request_id = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    (line,) = [line for line in lines if "inside the view" in line]
    fields = TEXT_LINE.match(line)
    assert fields, line
    assert fields.group("level", "logger", "request_id", "task_id", "message") == (
        "WARNING",
        "tests.ops",
        request_id,
        "-",
        "inside the view",
    )


def test_a_sane_request_id_from_the_proxy_is_kept(lines):
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="5f0c2a9e-proxy:1")
    response = _middleware_logging("kept")(request)
    assert response["X-Request-ID"] == "5f0c2a9e-proxy:1"
    assert "[request_id=5f0c2a9e-proxy:1 task_id=-] kept" in lines[-1]


@pytest.mark.parametrize(
    "incoming", ["", "two words", "line\nbreak", "x" * 129, 'quote"d', "tab\there", "é"]
)
def test_an_insane_request_id_is_replaced(incoming):
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID=incoming)
    response = _middleware_logging("replaced")(request)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.django_db
def test_every_response_has_the_header_and_djangos_own_lines_carry_the_id(client, lines):
    """Django logs a 4xx or 5xx after the middleware chain; the id is still set then."""
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="ops-404-request")
    assert (response.status_code, response["X-Request-ID"]) == (404, "ops-404-request")
    assert any(
        "WARNING django.request [request_id=ops-404-request task_id=-] Not Found" in line
        for line in lines
    ), lines
    # ... and is gone once the response is closed.
    assert logs.request_id.get() is None


@pytest.mark.django_db
def test_a_503_of_the_health_check_is_one_warning_with_the_reason(client, lines):
    with mock.patch.object(connection, "cursor", side_effect=DatabaseError("down")):
        assert client.get(reverse("healthz")).status_code == 503
    problems = [line for line in lines if " ERROR " in line or "Health check: " in line]
    first_lines = [line.splitlines()[0] for line in problems]
    assert [TEXT_LINE.match(line).group("level", "logger") for line in first_lines] == [
        ("WARNING", "community_os.health"),  # the database's traceback
        ("WARNING", "community_os.views"),
    ], problems
    assert first_lines[-1].endswith(
        "Health check: database unavailable, worker unknown, beat unknown."
    )


def test_a_task_logs_its_id_and_the_request_id_it_was_enqueued_with(lines):
    headers: dict = {}
    token = logs.request_id.set("web-request-7")
    try:
        before_task_publish.send(sender=tasks.heartbeat.name, headers=headers, body=())
    finally:
        logs.request_id.reset(token)
    assert headers == {logs.REQUEST_ID_HEADER: "web-request-7"}

    # What a worker does with that message: the header is an attribute of task.request.
    tasks.heartbeat.push_request(id="task-42", **headers)
    try:
        task_prerun.send(sender=tasks.heartbeat, task_id="task-42", task=tasks.heartbeat)
        logging.getLogger("tests.ops").info("in the task")
        task_postrun.send(sender=tasks.heartbeat, task_id="task-42", task=tasks.heartbeat)
        logging.getLogger("tests.ops").info("after the task")
    finally:
        tasks.heartbeat.pop_request()
    assert "[request_id=web-request-7 task_id=task-42] in the task" in lines[-2]
    assert "[request_id=- task_id=-] after the task" in lines[-1]


def _configured_process(code, **env):
    """Run `code` in a fresh interpreter with the project's settings (so LOGGING as configured),
    and `env` on top of ours. Its stderr and stdout."""
    result = subprocess.run(  # noqa: S603 (our interpreter, our code)
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "community_os.settings", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stderr, result.stdout


LOG_TWO_LINES = """
import logging
logging.getLogger("members.tasks").info("plain %s", "line")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("community_os").exception("it broke")
"""


def test_the_configured_log_lines_are_plain_text_by_default():
    stderr, _ = _configured_process(LOG_TWO_LINES, LOG_FORMAT="text")
    first, second, *traceback = stderr.splitlines()
    assert TEXT_LINE.match(first).group("level", "logger", "request_id", "message") == (
        "INFO",
        "members.tasks",
        "-",
        "plain line",
    )
    assert TEXT_LINE.match(second).group("level", "message") == ("ERROR", "it broke")
    assert "ZeroDivisionError" in traceback[-1]


def test_log_format_json_writes_one_object_per_line():
    stderr, _ = _configured_process(LOG_TWO_LINES, LOG_FORMAT="json")
    first, second = (json.loads(line) for line in stderr.splitlines())
    assert set(first) == {"time", "level", "logger", "message", "request_id", "task_id"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert (first["level"], first["logger"], first["message"]) == (
        "INFO",
        "members.tasks",
        "plain line",
    )
    assert (first["request_id"], first["task_id"]) == ("-", "-")
    assert second["level"] == "ERROR" and "ZeroDivisionError" in second["exc_info"]


def test_an_unknown_log_format_is_refused():
    with pytest.raises(subprocess.CalledProcessError) as failed:
        _configured_process("", LOG_FORMAT="xml")
    assert "LOG_FORMAT must be text or json" in failed.value.stderr


# --- Sentry ---------------------------------------------------------------------------------------


def test_sentry_is_off_without_a_dsn():
    assert settings.SENTRY_DSN == ""
    assert not sentry_sdk.get_client().is_active()


class _Envelopes(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # only if sentry-sdk chose it, i.e. brotli is installed

            body = brotli.decompress(body)
        type(self).received.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


# A page that fails (a 500) for a request with a member's address in its query string, a
# session cookie and a header: what reaches Sentry is the error, none of those.
SEND_AN_ERROR = """
import json
from unittest import mock
import sentry_sdk
from django.contrib.auth.views import LoginView
from django.test import Client
import community_os.urls  # the URLs first: as_view reads dispatch

client = sentry_sdk.get_client()
print(json.dumps({
    "active": client.is_active(),
    "integrations": sorted(client.integrations),
    "user_info": client.options["data_collection"]["user_info"],
}))
with mock.patch.object(LoginView, "dispatch", side_effect=ValueError("boom from the ops test")):
    response = Client(raise_request_exception=False).get(
        "/login/?q=member@example.com",
        HTTP_COOKIE="sessionid=secret-session-value",
        HTTP_X_MEMBER="private-header-value",
    )
print(response.status_code)
sentry_sdk.flush(timeout=10)
"""


def test_with_a_dsn_errors_go_to_sentry_without_personal_data(tmp_path):
    _Envelopes.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Envelopes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        dsn = f"http://public@127.0.0.1:{server.server_address[1]}/1"
        _, stdout = _configured_process(
            SEND_AN_ERROR,
            SENTRY_DSN=dsn,
            ALLOWED_HOSTS="testserver",
            DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        )
    finally:
        server.shutdown()
        server.server_close()
    state, status = (json.loads(line) for line in stdout.splitlines()[:2])
    assert status == 500
    assert state["active"] is True
    assert {"django", "celery"} <= set(state["integrations"])
    assert state["user_info"] is False
    events = [
        json.loads(line)
        for body in _Envelopes.received
        for line in body.splitlines()
        if b'"exception"' in line
    ]
    assert len(events) == 1
    (event,) = events
    assert event["exception"]["values"][-1]["value"] == "boom from the ops test"
    assert event["transaction"] == "/login/"
    assert re.fullmatch(r"[0-9a-f]{32}", event["tags"]["request_id"])  # as in the log lines
    sent = json.dumps(event)
    for private in ("member@example.com", "secret-session-value", "private-header-value"):
        assert private not in sent
