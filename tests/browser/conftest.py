"""Playwright on the system Chromium; skips without it (fails under COMMUNITYOS_STRICT_SKIPS=1)."""

import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the test
# itself (factories) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM_PATH")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


@pytest.fixture(scope="session")
def browser():
    executable = _chromium_path()
    if not executable:
        pytest.skip("no Chromium found: install it (apt-get install chromium) or set CHROMIUM_PATH")
    from playwright.sync_api import expect, sync_playwright

    # The CI machine has two cores shared with the live server: be patient, not flaky.
    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    context.close()


@pytest.fixture
def log_in(live_server):
    def log_in(page, username, password="correct horse battery staple"):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()

    return log_in


@pytest.fixture(autouse=True)
def celery_calls(monkeypatch, request):
    """Overrides the recorder of tests/conftest.py: enqueued tasks run at once, in the thread
    that enqueued them (the live server's), so a saved segment is materialized before the page
    asks for it. A test marked `real_worker` enqueues for a real worker process instead."""
    from celery.app.task import Task

    calls: list[tuple[str, tuple, dict, dict]] = []
    if "real_worker" in request.keywords:
        return calls

    def run_now(task, args=None, kwargs=None, **options):
        calls.append((task.name, tuple(args or ()), dict(kwargs or {}), options))
        task.apply(args=args, kwargs=kwargs, throw=True)

    monkeypatch.setattr(Task, "apply_async", run_now)
    return calls
