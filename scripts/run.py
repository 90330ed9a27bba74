"""`make run`: the demo on http://127.0.0.1:8000/ with a Celery worker and beat beside it.

0. Reads HOST and PORT from the environment (`PORT=8001 make run`) and stops at once, before
   any setup step, if they are not valid or the port is taken.
1. Writes `.env` from `.env.example` on the first run (DEBUG=true, a fresh SECRET_KEY).
2. Migrates the database and loads the demo community (`seed_demo` skips it when present).
3. Starts the Celery worker with embedded beat, then the development web server.
4. Ctrl-C (or SIGTERM) stops both and exits 0.

Each child runs in its own process group, so stopping it also reaches what it started
(runserver's autoreloader, Celery's pool processes) and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.demo_data import DEMO_PASSWORD, DEMO_USERNAME  # noqa: E402

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
STOP_TIMEOUT = 10  # seconds a child gets to shut down before it is killed

CELERY = [
    *("-m", "celery", "-A", "community_os", "worker", "--beat"),
    *("--loglevel=INFO", "--concurrency=2", "--schedule", "var/celerybeat-schedule"),
]


class AddressError(ValueError):
    """HOST or PORT is not something the web server can listen on."""


def listen_address(environ: Mapping[str, str]) -> tuple[str, int]:
    """(host, port) from HOST and PORT, or the defaults; AddressError says what is wrong."""
    host = environ.get("HOST", "").strip() or DEFAULT_HOST
    if host == "localhost":
        host = DEFAULT_HOST
    raw_port = environ.get("PORT", "").strip()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise AddressError(
            f"HOST must be an IP address to listen on (127.0.0.1, 0.0.0.0, ::1); got {host!r}. "
            f"Unset HOST to use {DEFAULT_HOST}."
        ) from None
    if not raw_port:
        return host, DEFAULT_PORT
    if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
        raise AddressError(f"PORT must be a number from 1 to 65535; got {raw_port!r}.")
    return host, int(raw_port)


def main() -> int:
    try:
        host, port = listen_address(os.environ)
    except AddressError as error:
        print(error, file=sys.stderr)
        return 2
    # Before any setup step: a taken port is said at once, not after migrating and seeding.
    problem = port_problem(host, port)
    if problem:
        print(problem, file=sys.stderr)
        return 1

    # SIGTERM (from `kill`, `timeout`, a process manager) stops us like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda signum, frame: _interrupt())
    ensure_env_file()
    manage("migrate", "--noinput")
    manage("seed_demo")

    children: list[subprocess.Popen] = []
    try:
        children.append(start("Celery worker", CELERY))
        web = start("web server", ["manage.py", "runserver", _runserver_address(host, port)])
        children.append(web)
        if wait_for_port(web, host, port):
            url = f"http://{_url_host(_reachable(host))}:{port}/"
            print(
                f"\nCommunityOS is running: log in at {url} as "
                f"{DEMO_USERNAME} / {DEMO_PASSWORD}  (Ctrl-C stops it)\n",
                flush=True,
            )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("A child process stopped; shutting down.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    finally:
        # Ignore further Ctrl-C / SIGTERM while stopping, so the children are always cleaned up.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in reversed(children):
            stop(child)


def ensure_env_file() -> None:
    env_file = ROOT / ".env"
    if env_file.exists():
        return
    text = (ROOT / ".env.example").read_text()
    text = re.sub(r"(?m)^DEBUG=.*$", "DEBUG=true", text)
    text = re.sub(r"(?m)^SECRET_KEY=.*$", f"SECRET_KEY={secrets.token_urlsafe(50)}", text)
    env_file.write_text(
        "# Written by `make run` for local use from .env.example: DEBUG is on.\n" + text
    )
    env_file.chmod(0o600)
    print("Wrote .env for local use (DEBUG=true, a new SECRET_KEY).")


# The commands below are fixed lists run with this interpreter: no shell, no outside input.


def manage(*args: str) -> None:
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args], cwd=ROOT, check=True
    )


def start(label: str, args: list[str]) -> subprocess.Popen:
    print(f"Starting the {label}...", flush=True)
    return subprocess.Popen(  # noqa: S603
        [sys.executable, *args], cwd=ROOT, start_new_session=True
    )


def port_problem(host: str, port: int) -> str:
    """Why the web server could not listen on host:port ("" if it can), found by binding a
    socket there as runserver will (SO_REUSEADDR, as it sets too)."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return (
                    f"Port {port} on {host} is in use: is CommunityOS already running? "
                    f"Choose another with PORT, e.g. `PORT={port + 1 if port < 65535 else 8001} "
                    "make run`."
                )
            return f"Cannot listen on {host} port {port}: {error.strerror or error}."
    return ""


def _reachable(host: str) -> str:
    """Where this machine reaches a server listening on `host`: loopback for 0.0.0.0 or ::."""
    address = ipaddress.ip_address(host)
    if address.is_unspecified:
        return "::1" if address.version == 6 else DEFAULT_HOST
    return host


def _url_host(host: str) -> str:
    return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host


def _runserver_address(host: str, port: int) -> str:
    return f"{_url_host(host)}:{port}"


def wait_for_port(web: subprocess.Popen, host: str, port: int, timeout: float = 30) -> bool:
    """Wait until the web server accepts connections (or has died)."""
    host = _reachable(host)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def stop(child: subprocess.Popen) -> None:
    """SIGTERM the child, give it STOP_TIMEOUT seconds, then SIGKILL its whole group."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    # Whatever the child started and left behind shares its process group (= its pid).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)


def _interrupt() -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
    except KeyboardInterrupt:  # Ctrl-C during migrate or seed_demo
        sys.exit(0)
