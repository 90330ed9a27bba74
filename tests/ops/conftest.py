"""Fixtures of the operations tests (health, logs, housekeeping, `make run`)."""

import socket

import pytest


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unused_port() -> int:
    return free_port()
