"""What one web request may ask of the shared database.

The web processes, the Celery workers and the commands share one database; a request must not
hold it. `RequestLimitsMiddleware` gives every request's statements:

- a statement timeout (`WEB_STATEMENT_TIMEOUT`, seconds): PostgreSQL cancels a statement that
  runs longer, waiting for a lock included, so nothing is left running after the request,
  whatever became of the process that sent it;
- no JIT compilation: a big plan spent minutes in the JIT compiler, which neither cancel nor
  terminate interrupt;
- no parallel workers: pages are a few milliseconds of one core, and parallel plans take the
  cores other requests wait for.

These are session settings, set at the start of each request and reset when its response is
finished (a streamed export reads after the view has returned). Two kinds of request may take
longer, each under its own documented setting, through `allow_request()`: the table's
"Count all" (`COUNT_ALL_STATEMENT_TIMEOUT`) and CSV exports (`EXPORT_STATEMENT_TIMEOUT`). An
upload on the Imports page writes nothing in the request: a worker imports it (members/jobs.py).
`statement_timeout()` sets another limit for one block of statements.

SQLite, the single-user default, has no such settings: there a progress handler interrupts a
statement that runs past the same deadline.

A statement stopped this way raises OperationalError; the middleware answers it with 503 and
a message saying what happened (plain text for htmx, which app.js shows), never a 500.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.core.signals import request_finished
from django.db import DatabaseError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

TIMEOUT_MESSAGE = (
    "This took too long and was stopped, so that the database stays free for everyone. "
    "Narrow the search or the filters, or try again in a moment."
)
# How often (in SQLite virtual machine instructions) the SQLite deadline is checked.
_SQLITE_CHECK_EVERY = 1_000


def _milliseconds(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))


def _limit(seconds: float) -> None:
    """Apply the web limits to this connection, with a statement timeout of `seconds`."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # One round trip; the number is ours (SET takes no parameters).
            cursor.execute(
                f"SET statement_timeout = {_milliseconds(seconds)}; SET jit = off; "
                "SET max_parallel_workers_per_gather = 0"
            )
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        deadline = time.monotonic() + seconds
        connection.connection.set_progress_handler(
            lambda: time.monotonic() > deadline, _SQLITE_CHECK_EVERY
        )


def _unlimit(**kwargs: object) -> None:
    """Back to the connection's own settings, without opening a connection to do it."""
    if connection.connection is None:
        return
    try:
        if connection.vendor == "postgresql":
            if connection.in_atomic_block or connection.needs_rollback:
                return  # a test's transaction: the settings end with it
            with connection.cursor() as cursor:
                cursor.execute(
                    "RESET statement_timeout; RESET jit; RESET max_parallel_workers_per_gather"
                )
        elif connection.vendor == "sqlite":
            connection.connection.set_progress_handler(None, 0)
    except Exception:  # a broken connection: closing it resets everything
        logger.warning("Could not reset the request's database limits; closing the connection.")
        connection.close()


request_finished.connect(_unlimit, dispatch_uid="community_os_database_unlimit")


def allow_request(seconds: float) -> None:
    """From now until the response is finished, this request's statements may each take up
    to `seconds` (the table's "Count all", a streamed export, an upload)."""
    _limit(seconds)


@contextmanager
def statement_timeout(seconds: float) -> Iterator[None]:
    """Statements in this block may run up to `seconds` (instead of the web limit).

    On PostgreSQL the block is a transaction (SET LOCAL ends with it)."""
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)", [_milliseconds(seconds)]
            )
            yield
    elif connection.vendor == "sqlite":
        _limit(seconds)
        try:
            yield
        finally:
            _limit(settings.WEB_STATEMENT_TIMEOUT)
    else:  # pragma: no cover
        yield


def is_timeout(error: BaseException) -> bool:
    """Whether `error` is a statement stopped by a limit of this module."""
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__
    if isinstance(cause, psycopg.errors.QueryCanceled):
        return True
    return isinstance(cause, sqlite3.OperationalError) and str(cause) == "interrupted"


class RequestLimitsMiddleware:
    """Every request's statements run under the web limits; a statement stopped by them is
    answered with 503 and a message, never a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            _limit(settings.WEB_STATEMENT_TIMEOUT)
        except DatabaseError:
            # The database is unreachable: the view finds out too and answers for it (the
            # health check says 503); the limits are set again with the next request.
            logger.warning("Could not set the request's database limits.", exc_info=True)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_timeout(exception):
            return None
        logger.warning(
            "Stopped a statement of %s %s at the time limit.", request.method, request.path
        )
        return timeout_response(request)


def timeout_response(request: HttpRequest) -> HttpResponse:
    headers = {"Retry-After": "10", "Cache-Control": "no-store"}
    if getattr(request, "htmx", False):
        return HttpResponse(
            TIMEOUT_MESSAGE, status=503, content_type="text/plain; charset=utf-8", headers=headers
        )
    html = render_to_string("timeout.html", {"message": TIMEOUT_MESSAGE}, request=request)
    return HttpResponse(html, status=503, headers=headers)
