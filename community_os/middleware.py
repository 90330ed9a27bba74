"""Every request gets an id: in its log lines, in its response, in the tasks it enqueues."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import sentry_sdk
from django.http import HttpRequest, HttpResponse

from . import logs

HEADER = "X-Request-ID"
# What we take from the proxy (nginx's $request_id, a UUID, a load balancer's trace id): a
# token without spaces, quotes or line breaks, so it cannot forge or break a log line.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")


class RequestIdMiddleware:
    """First in MIDDLEWARE: takes X-Request-ID from the proxy when it is a sane token, else
    makes one (32 hex digits), puts it where the log filter reads it (community_os/logs.py)
    and answers it in the X-Request-ID header.

    The id stays set until the response is closed (request_finished, in logs.py), not just
    until this middleware returns: Django logs a 4xx or 5xx response ("Not Found: /x") after
    the whole middleware chain, and a streamed response (a CSV export) runs later still."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(HEADER, "")
        request_id = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        logs.request_id.set(request_id)
        sentry_sdk.set_tag("request_id", request_id)  # nothing happens without SENTRY_DSN
        response = self.get_response(request)
        response[HEADER] = request_id
        return response
