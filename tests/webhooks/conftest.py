"""A real HTTP receiver on 127.0.0.1, and a worker that runs the webhook tasks a test enqueued.

The receiver is http.server in a daemon thread: it listens on 127.0.0.1 only, every socket has
a 5 s timeout, and it is shut down at the end of the test (or it stops with the process). It
can start "down" (the port is reserved but nothing listens: connection refused) and be brought
up later on the same port.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook

from webhooks import services


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> dict:
        """The payload, once standardwebhooks' own verify accepts the signature."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    port: int
    answer: tuple[int, bytes, dict[str, str]] = (200, b"ok", {})
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks?src=test"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status, content, headers = receiver.answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None

    def payloads(self, secret: str) -> list[dict]:
        return [request.verified(secret) for request in self.received]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def _allow_loopback(settings):
    """The receiver is on 127.0.0.1: allowed here, as WEBHOOK_ALLOW_PRIVATE_HOSTS would."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]


@pytest.fixture
def receiver():
    found = Receiver(port=_free_port())
    found.up()
    yield found
    found.down()


@pytest.fixture
def down_receiver():
    """Nothing listens on its port until the test calls `up()`."""
    found = Receiver(port=_free_port())
    yield found
    found.down()


@pytest.fixture
def worker(celery_calls, django_capture_on_commit_callbacks):
    """Run, as a worker would, the webhook tasks enqueued so far (and those they enqueue), at
    the fake clock `now`. Countdowns are ignored: a retry runs when its delivery is due."""
    done: set[int] = set()

    def run(now: datetime | None = None) -> int:
        ran = 0
        while True:
            pending = [
                (index, call)
                for index, call in enumerate(celery_calls)
                if index not in done and call[0].startswith("webhooks.tasks.")
            ]
            if not pending:
                return ran
            for index, (name, args, _kwargs, _options) in pending:
                done.add(index)
                with django_capture_on_commit_callbacks(execute=True):
                    if name == "webhooks.tasks.expand_outbox":
                        services.outbox_expand(*args, now=now)
                    elif name == "webhooks.tasks.attempt_delivery":
                        services.delivery_attempt(*args, now=now)
                ran += 1

    return run


def changes_of(payloads: list[dict]) -> list[dict]:
    return [change for payload in payloads for change in payload["data"].get("changes", [])]


def decode(received: Received) -> dict:
    return json.loads(received.body)
