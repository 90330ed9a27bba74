"""`make run` (scripts/run.py): HOST and PORT from the environment, and a busy port found
before any setup step."""

import os
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings

from scripts import run


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ("127.0.0.1", 8000)),
        ({"PORT": "8001"}, ("127.0.0.1", 8001)),
        ({"PORT": " 8001 ", "HOST": ""}, ("127.0.0.1", 8001)),
        ({"HOST": "0.0.0.0", "PORT": "65535"}, ("0.0.0.0", 65535)),  # noqa: S104
        ({"HOST": "localhost"}, ("127.0.0.1", 8000)),
        ({"HOST": "::1", "PORT": "1"}, ("::1", 1)),
    ],
)
def test_the_address_comes_from_host_and_port(environ, expected):
    assert run.listen_address(environ) == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PORT": "abc"}, "PORT must be a number from 1 to 65535; got 'abc'."),
        ({"PORT": "0"}, "PORT must be a number from 1 to 65535; got '0'."),
        ({"PORT": "65536"}, "PORT must be a number from 1 to 65535; got '65536'."),
        ({"PORT": "-1"}, "PORT must be a number from 1 to 65535; got '-1'."),
        ({"PORT": "80.5"}, "PORT must be a number from 1 to 65535; got '80.5'."),
        ({"HOST": "my-laptop"}, "HOST must be an IP address to listen on"),
    ],
)
def test_a_bad_host_or_port_is_refused_with_a_clear_message(environ, message):
    with pytest.raises(run.AddressError) as refused:
        run.listen_address(environ)
    assert str(refused.value).startswith(message)


@pytest.fixture
def busy_port():
    """A port of 127.0.0.1 with a listening socket on it (as a running CommunityOS has)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_busy_port_stops_it_before_any_setup_step(busy_port, monkeypatch, capsys):
    monkeypatch.setenv("PORT", str(busy_port))
    monkeypatch.delenv("HOST", raising=False)

    def must_not_run(*args, **kwargs):
        raise AssertionError(f"a setup step ran: {args}")

    for step in ("ensure_env_file", "manage", "start"):
        monkeypatch.setattr(run, step, must_not_run)
    monkeypatch.setattr(run.signal, "signal", must_not_run)
    assert run.main() == 1
    error = capsys.readouterr().err
    assert f"Port {busy_port} on 127.0.0.1 is in use" in error
    assert f"PORT={busy_port + 1} make run" in error


def test_a_free_port_goes_on_to_the_setup_steps(unused_port, monkeypatch):
    monkeypatch.setenv("PORT", str(unused_port))
    steps = []

    class Stop(Exception):
        pass

    def first_step():
        steps.append("ensure_env_file")
        raise Stop

    monkeypatch.setattr(run, "ensure_env_file", first_step)
    monkeypatch.setattr(run.signal, "signal", lambda *args: None)
    with pytest.raises(Stop):
        run.main()
    assert steps == ["ensure_env_file"]
    assert run.port_problem("127.0.0.1", unused_port) == ""


def test_the_script_says_what_is_wrong_with_port_and_exits_2(tmp_path):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "scripts/run.py"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "PORT": "eighty", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "PORT must be a number from 1 to 65535; got 'eighty'."
    assert result.stdout == ""  # nothing written, migrated or started
    assert time.monotonic() - started < 30
