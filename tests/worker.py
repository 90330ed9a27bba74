"""A real Celery worker process for the tests marked `real_worker` (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection


class Worker:
    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process = process
        self.log = log

    def wait_for(self, condition: Callable[[], bool], seconds: float = 60) -> None:
        """Poll `condition` until it holds; fail with the worker's log if it dies or times out."""
        deadline = time.monotonic() + seconds
        while not condition():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)


@contextmanager
def celery_worker(tmp_path: Path) -> Iterator[Worker]:
    """`celery worker --pool=solo` on the test database and the settings' broker (Redis in
    CI), stopped on exit."""
    db = connection.settings_dict
    # PYTEST_VERSION stays set, so the worker, like the tests, ignores a developer's .env.
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        # The test's own folder for uploaded import files (tests/conftest.py).
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 (fixed arguments)
            [
                *(sys.executable, "-m", "celery", "-A", "community_os", "worker"),
                *("--pool=solo", "--concurrency=1", "-Q", "celery", "--loglevel=INFO"),
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield Worker(process, log_path)
        finally:
            process.terminate()
            process.wait(timeout=30)
