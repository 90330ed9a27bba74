"""The production install, run for real on 127.0.0.1: the three systemd units' commands
(deploy/*.service, with deploy/gunicorn.conf.py) as processes, the environment of
deploy/communityos.env.example (DEBUG off, HTTPS behind the proxy), a PostgreSQL database of
its own (created and dropped here) and Redis DB 9. It migrates, collects the static files,
creates a community, an admin with a role in it and a few members as README "Production
install" does, logs in over HTTP as a browser behind the TLS proxy would, opens the members
table, creates a smart segment through the segment form, and sees the worker refresh it.

Every process is stopped (by process group) and the database dropped, pass or fail. About a
minute; each wait is bounded. PostgreSQL only (the marker skips it elsewhere, which fails under
COMMUNITYOS_STRICT_SKIPS=1, as in CI).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from psycopg import sql

from tests.deploy.support import (
    ROOT,
    Browser,
    Service,
    answers,
    base_environment,
    free_port,
    run,
    static_url,
    wait_until,
)

pytestmark = [pytest.mark.deploy, pytest.mark.postgres]

DEPLOY = ROOT / "deploy"
DEPLOY_CONFIG = "/etc/communityos/gunicorn.conf.py"  # where the units read it
REDIS_URL = "redis://127.0.0.1:6379/9"  # a database of its own on the shared server
USERNAME, EMAIL, PASSWORD = "smoke-admin", "admin@example.org", "a long smoke password 2026"
PEOPLE = [
    ("Ada Acme", "Acme"),
    ("Bea Acme", "Acme"),
    ("Cy Acme", "Acme"),
    ("Olga Globex", "Globex"),
    ("Pat Initech", "Initech"),
]
MEMBERS = (
    "from members.models import Community, Member\n"
    "community = Community.objects.get(slug='acme')\n"
    "Member.objects.bulk_create([Member(community=community, name=n, company_name=c,"
    " email=n.split()[0].lower() + '@example.org') for n, c in {people!r}])\n"
)


@pytest.fixture
def smoke_database() -> Iterator[str]:
    """A database of this test's own on the test PostgreSQL server, dropped afterwards."""
    db = settings.DATABASES["default"]
    server = {
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
        "user": db["USER"] or "postgres",
        "password": db["PASSWORD"] or None,
        "dbname": "postgres",
        "connect_timeout": 10,
    }
    name = f"communityos_smoke_{secrets.token_hex(4)}"
    with psycopg.connect(**server, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        password = f":{server['password']}" if server["password"] else ""
        yield f"postgres://{server['user']}{password}@{server['host']}:{server['port']}/{name}"
    finally:
        with psycopg.connect(**server, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def smoke_redis() -> Iterator[str]:
    """Redis DB 9 on 127.0.0.1:6379, empty before and after (that database only)."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.ConnectionError as error:
        client.close()
        pytest.skip(f"needs Redis on 127.0.0.1:6379: {error}")
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """/run/communityos, for gunicorn's control socket: a short path (a Unix socket's is at most
    107 bytes, more than pytest's tmp_path may leave)."""
    path = Path(tempfile.mkdtemp(prefix="cos-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _environment_file() -> dict[str, str]:
    """deploy/communityos.env.example as systemd reads it (KEY=value, optional quotes)."""
    values = {}
    for line in (DEPLOY / "communityos.env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            values[key] = value
    return values


def _exec_start(unit: str, paths: dict[str, str]) -> list[str]:
    """The unit's ExecStart, with the installation's paths mapped to this test's."""
    text = (DEPLOY / f"communityos-{unit}.service").read_text()
    (line,) = re.findall(r"(?m)^ExecStart=(.+)$", text)
    for installed, here in paths.items():
        line = line.replace(installed, here)
    return shlex.split(line)


@contextlib.contextmanager
def _services(commands: dict[str, list[str]], env, cwd: Path, logs: Path) -> Iterator[dict]:
    started: dict[str, Service] = {}
    try:
        for name, args in commands.items():
            started[name] = Service(name, args, env=env, cwd=cwd, logs=logs)
        yield started
    finally:
        for service in reversed(started.values()):
            service.stop()


def test_production_install_logs_in_and_the_worker_refreshes_a_new_segment(
    tmp_path, smoke_database, smoke_redis, run_dir
):
    state = tmp_path / "state"  # /var/lib/communityos
    state.mkdir()
    port = free_port()
    env = {**base_environment(), **_environment_file()}
    env = {key: value.replace("/var/lib/communityos", str(state)) for key, value in env.items()}
    env |= {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{port}",
        "DATABASE_URL": smoke_database,
        "REDIS_URL": smoke_redis,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_CONTROL_SOCKET": str(run_dir / "gunicorn.ctl"),
        "WEB_CONCURRENCY": "2",
        "EMAIL_URL": "consolemail://",
        # The checkout's code, as the tests run it: an editable install maps only the packages
        # there were when it was made (the installed wheel is tests/deploy/test_wheel.py's).
        "PYTHONPATH": str(ROOT),
    }
    assert env["DEBUG"] == "false" and env["HTTPS"] == "true"
    bin_dir = str(Path(sys.executable).parent)
    paths = {
        "/opt/communityos/venv/bin/": bin_dir + "/",
        DEPLOY_CONFIG: str(DEPLOY / "gunicorn.conf.py"),
        "/var/lib/communityos": str(state),
    }

    # README "Production install": migrate, collectstatic, a community, an admin with a role.
    manage = [sys.executable, "-m", "community_os"]  # the `communityos` console script's main
    run([*manage, "migrate", "--noinput"], env=env, cwd=state, timeout=300)
    run([*manage, "collectstatic", "--noinput"], env=env, cwd=state, timeout=120)
    run([*manage, "create_community", "acme", "--name", "Acme"], env=env, cwd=state, timeout=60)
    run(
        [*manage, "createsuperuser", "--noinput", "--username", USERNAME, "--email", EMAIL],
        env={**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        cwd=state,
        timeout=60,
    )
    run(
        [*manage, "grant_access", "acme", USERNAME, "--role", "admin"],
        env=env,
        cwd=state,
        timeout=60,
    )
    run([*manage, "shell", "-c", MEMBERS.format(people=PEOPLE)], env=env, cwd=state, timeout=60)

    commands = {unit: _exec_start(unit, paths) for unit in ("web", "worker", "beat")}
    assert commands["web"][:3] == [f"{bin_dir}/gunicorn", "--config", paths[DEPLOY_CONFIG]]
    with _services(commands, env, state, tmp_path) as services:

        def alive() -> None:
            for service in services.values():
                service.check_alive()

        browser = Browser(f"http://127.0.0.1:{port}", https=True)
        wait_until(lambda: answers(browser, "/login/"), 60, "gunicorn", check=alive)
        wait_until(lambda: " ready." in services["worker"].text(), 60, "worker", check=alive)
        wait_until(lambda: "beat: Starting" in services["beat"].text(), 30, "beat", check=alive)

        # Production settings are on: plain http is sent to https, https gets HSTS.
        plain = browser.get("/login/", forwarded=False)
        assert plain.status == 301
        assert plain.headers["Location"] == f"https://127.0.0.1:{port}/login/"
        login = browser.get("/login/")
        assert login.status == 200, login.text[:2000]
        assert "max-age=" in login.headers["Strict-Transport-Security"]
        assert "DEBUG" not in login.text
        css = browser.get(static_url(login, ".css"))
        assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")

        answer = browser.post(
            "/login/",
            {
                "csrfmiddlewaretoken": login.form_value("csrfmiddlewaretoken"),
                "username": USERNAME,
                "password": PASSWORD,
            },
        )
        assert answer.status == 302, answer.text[:2000]
        assert any(cookie.name == "sessionid" and cookie.secure for cookie in browser.cookies)

        table = browser.get("/c/acme/")
        assert table.status == 200, table.text[:2000]
        for name, _company in PEOPLE:
            assert name in table.text

        form = browser.get("/c/acme/segments/new/")
        assert form.status == 200, form.text[:2000]
        created = browser.post(
            "/c/acme/segments/new/",
            {
                "csrfmiddlewaretoken": form.form_value("csrfmiddlewaretoken"),
                "kind": "smart",
                "name": "Acme people",
                "color": "blue",
                "group-1": "all",
                "field-1.1": "company_name",
                "op-1.1": "is",
                "value-1.1": "acme",
                "action": "save",
            },
        )
        assert created.status == 302, created.text[:3000]
        segment_path = created.headers["Location"]
        assert re.fullmatch(r"/c/acme/segments/\d+/", segment_path), segment_path

        # Nothing but the worker refreshes it (the web process only enqueued the refresh).
        def refreshed() -> str | None:
            page = browser.get(segment_path)
            assert page.status == 200, page.text[:2000]
            return None if "updating…" in page.text else page.text

        page = wait_until(refreshed, 60, "the worker to refresh the segment", check=alive)
        assert "3 members" in page
        assert "refresh_segment_task" in services["worker"].text()
        pill = browser.get(f"/c/acme/?segment={segment_path.split('/')[-2]}")
        assert pill.status == 200
        assert [name for name, _ in PEOPLE if name in pill.text] == [
            "Ada Acme",
            "Bea Acme",
            "Cy Acme",
        ]
        alive()  # beat and the worker are still up after all that
