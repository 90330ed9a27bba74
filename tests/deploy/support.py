"""What the deploy tests share: processes they start and stop, and a small HTTP client.

Every process is started in its own session (its own process group), so stopping it reaches
what it started too (gunicorn's workers, Celery's pool), by its pid and nothing else.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent

# What the processes the deploy tests start may inherit: the tools' settings, never the app's
# (DATABASE_URL, REDIS_URL, DEBUG, PYTEST_VERSION... are set by each test as it means them).
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")
INHERITED_PREFIXES = ("PIP_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy")


def base_environment() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if key in INHERITED or key.startswith(INHERITED_PREFIXES)
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    condition: Callable[[], Any], seconds: float, what: str, *, check: Callable[[], None] | None
) -> Any:
    """Poll `condition` until it returns something truthy; `check` runs on every round (that
    the processes are alive) and says why when not."""
    deadline = time.monotonic() + seconds
    while True:
        if check is not None:
            check()
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(0.25)


def run(
    args: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess:
    """Run a command to its end; fail with its output when it fails."""
    result = subprocess.run(  # noqa: S603 (the tests' own commands)
        list(args),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result


class Service:
    """A long-running process (gunicorn, a Celery worker, beat) writing to a log file."""

    def __init__(
        self, name: str, args: Sequence[str], *, env: Mapping[str, str], cwd: Path, logs: Path
    ) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 (the tests' own commands)
            list(args),
            env=dict(env),
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        code = self.process.poll()
        assert code is None, f"{self.name} exited {code}:\n{self.text()[-5000:]}"

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the process group (a warm shutdown), SIGKILL after `timeout`."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        # What is left of the group (pool children whose parent is gone) is killed.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self._log.close()


@dataclass
class Page:
    status: int
    headers: Any
    text: str

    def form_value(self, name: str) -> str:
        match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', self.text)
        assert match, f"no {name} field in:\n{self.text[:3000]}"
        return match.group(1)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is an answer the test reads, not one it follows


class Browser:
    """Requests to one origin with a cookie jar, as a browser behind the TLS proxy would send
    them: with `https` set, each request carries the proxy's X-Forwarded-Proto and secure
    cookies go back over the plain connection to gunicorn."""

    def __init__(self, base: str, *, https: bool) -> None:
        self.base = base.rstrip("/")
        self.https = https
        self.public = "https://" + urllib.parse.urlsplit(self.base).netloc
        policy = http.cookiejar.DefaultCookiePolicy(secure_protocols=("https", "http"))
        self.cookies = http.cookiejar.CookieJar(policy)
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(
        self,
        path: str,
        data: Mapping[str, str] | None = None,
        *,
        forwarded: bool | None = None,
        referer: str | None = None,
    ) -> Page:
        headers = {}
        if self.https if forwarded is None else forwarded:
            headers["X-Forwarded-Proto"] = "https"
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            origin = self.public if self.https else self.base
            headers["Origin"] = origin
            headers["Referer"] = origin + (referer or path)
        request = urllib.request.Request(self.base + path, data=body, headers=headers)  # noqa: S310 (http://127.0.0.1 only)
        try:
            with self.opener.open(request, timeout=30) as response:
                return Page(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx
            with error:
                return Page(error.code, error.headers, error.read().decode(errors="replace"))

    def get(self, path: str, **kwargs) -> Page:
        return self.request(path, **kwargs)

    def post(self, path: str, data: Mapping[str, str], **kwargs) -> Page:
        return self.request(path, data, **kwargs)


def answers(browser: Browser, path: str) -> bool:
    """Whether the server answers at all yet (any status)."""
    try:
        browser.get(path)
    except (ConnectionError, urllib.error.URLError, TimeoutError):
        return False
    return True


def static_url(page: Page, suffix: str) -> str:
    """The URL the page links for a static file ending in `suffix` (a hashed name in
    production)."""
    match = re.search(rf'(?:href|src)="(/static/[^"]*{re.escape(suffix)})"', page.text)
    assert match, f"no link to a static *{suffix} in:\n{page.text[:3000]}"
    return match.group(1)
