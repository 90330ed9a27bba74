"""Log lines an operator can use: time, level, logger, request id and task id on every line.

A request's id lives in a context variable (set by community_os.middleware.RequestIdMiddleware),
a task's id in another (set by Celery's task_prerun signal); ContextFilter copies both onto
every record the console handler writes. A task enqueued during a request carries the
request's id in a message header, so the worker's lines for it show the same request id.

Plain text by default; JSON (one object per line) with LOG_FORMAT=json. The JSON formatter is
these few lines rather than python-json-logger: we want exactly these fixed keys, and the
standard library does the rest.

Sentry is optional (SENTRY_DSN); `init_sentry` is called from settings when it is set.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun
from django.core.signals import request_finished
from django.dispatch import receiver

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
task_id: ContextVar[str | None] = ContextVar("task_id", default=None)

# The message header a task's request id travels in (Celery makes it `task.request.<name>`).
REQUEST_ID_HEADER = "communityos_request_id"

TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [request_id=%(request_id)s task_id=%(task_id)s] %(message)s"
)


class ContextFilter(logging.Filter):
    """Adds `request_id` and `task_id` ("-" outside a request or a task) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        record.task_id = task_id.get() or "-"
        return True


def _utc_time(record: logging.LogRecord) -> str:
    """ISO 8601 in UTC to the millisecond: 2026-05-04T09:12:33.042Z."""
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class TextFormatter(logging.Formatter):
    def __init__(self, fmt: str | None = None, **kwargs: Any) -> None:
        super().__init__(fmt or TEXT_FORMAT, **kwargs)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc_time(record)

    def format(self, record: logging.LogRecord) -> str:
        # A record that did not pass ContextFilter (another handler's) still formats.
        record.__dict__.setdefault("request_id", "-")
        record.__dict__.setdefault("task_id", "-")
        return super().format(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "task_id": getattr(record, "task_id", "-"),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


@receiver(request_finished)
def _leave_request(**kwargs: Any) -> None:
    request_id.set(None)


# --- Celery ---------------------------------------------------------------------------------------


@setup_logging.connect
def _configure_celery_logging(**kwargs: Any) -> None:
    """Workers and beat log through settings.LOGGING, like the web: with a receiver on this
    signal, Celery leaves the logging configuration alone."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@before_task_publish.connect
def _send_request_id(headers: dict | None = None, **kwargs: Any) -> None:
    current = request_id.get()
    if current and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, current)


@task_prerun.connect
def _enter_task(**kwargs: Any) -> None:
    task_request = getattr(kwargs.get("task"), "request", None)
    _set_task_context(kwargs.get("task_id"), getattr(task_request, REQUEST_ID_HEADER, None))


@task_postrun.connect
def _leave_task(**kwargs: Any) -> None:
    _set_task_context(None, None)


def _set_task_context(current_task_id: str | None, current_request_id: str | None) -> None:
    # Set, not reset with a token: prerun and postrun of one task may run in different
    # contexts (a pool process' thread), and each task starts by setting both.
    task_id.set(current_task_id)
    request_id.set(current_request_id)


# --- Sentry ---------------------------------------------------------------------------------------


def init_sentry(dsn: str, *, environment: str, traces_sample_rate: float) -> None:
    """Errors of the web, the workers and beat go to Sentry, without personal data.

    sentry-sdk 3 replaced `send_default_pii` with `data_collection`: `user_info: False` is what
    `send_default_pii=False` was, and the rest is switched off too, because members' names and
    addresses travel in this application's query strings (table search), bodies (imports,
    join page answers), SQL parameters and local variables.
    """
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=traces_sample_rate,
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "off"}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
    )
