"""Shared fixtures: two communities and users with different rights in them.

- alice: manager of `community`      - amy: admin of `community`
- victor: viewer of `community`      - otto: manager of `other_community` only (an outsider)
"""

import os

import pytest
from celery.app.task import Task
from django.db import connection

from members import jobs
from members.models import Role
from tests.factories import CommunityFactory, CommunityRoleFactory, UserFactory

# `.ci/run` sets this so that a test skipped for a missing browser or database fails instead.
STRICT = os.environ.get("COMMUNITYOS_STRICT_SKIPS") == "1"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under COMMUNITYOS_STRICT_SKIPS=1: {report.longrepr}"
    return report


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def community(db):
    return CommunityFactory(name="Acme Builders", slug="acme")


@pytest.fixture
def other_community(db):
    return CommunityFactory(name="Globex Makers", slug="globex")


def _user_with_role(username, community, role):
    user = UserFactory(username=username)
    CommunityRoleFactory(user=user, community=community, role=role)
    return user


@pytest.fixture
def alice(community):
    return _user_with_role("alice", community, Role.MANAGER)


@pytest.fixture
def amy(community):
    return _user_with_role("amy", community, Role.ADMIN)


@pytest.fixture
def victor(community):
    return _user_with_role("victor", community, Role.VIEWER)


@pytest.fixture
def otto(other_community):
    return _user_with_role("otto", other_community, Role.MANAGER)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def victor_client(client, victor):
    client.force_login(victor)
    return client


@pytest.fixture
def otto_client(client, otto):
    client.force_login(otto)
    return client


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Tests create many users; the production hasher is deliberately slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    # Uploaded import files land in a folder of the test's own, never in var/media.
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def celery_calls(request, monkeypatch):
    """The tasks the test enqueued, as (task name, args, kwargs, options).

    Nothing reaches a broker, so tests never leave messages behind for a later worker; a test
    marked `real_worker` runs a worker process and enqueues for real.
    """
    calls: list[tuple[str, tuple, dict, dict]] = []
    if "real_worker" not in request.keywords:

        def record(task, args=None, kwargs=None, **options):
            calls.append((task.name, tuple(args or ()), dict(kwargs or {}), options))

        monkeypatch.setattr(Task, "apply_async", record)
    return calls


@pytest.fixture
def work(celery_calls, django_capture_on_commit_callbacks):
    """Run, as a worker would, every import job task enqueued so far (once each)."""
    done = set()

    def run():
        for index, (name, args, _kwargs, _options) in enumerate(list(celery_calls)):
            if name == "members.tasks.run_import_job" and index not in done:
                done.add(index)
                with django_capture_on_commit_callbacks(execute=True):
                    jobs.job_run(*args)

    return run
