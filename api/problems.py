"""Errors as RFC 9457 problem details (application/problem+json), never HTML, never a 500 for
bad input: every exception a request can cause is turned into one here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from community_os import database
from segments.services import EditConflict, SegmentError, SegmentGone

CONTENT_TYPE = "application/problem+json"


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(
    status: int,
    detail: str,
    errors: Iterable[tuple[str, str]] = (),
    *,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body = {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "detail": detail,
        "errors": [{"field": field, "message": message} for field, message in errors],
    }
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE
    )
    for name, value in (headers or {}).items():
        response[name] = value
    # What an API answers is the caller's own community's data.
    response["Cache-Control"] = "private, no-store"
    return response


def field_path(location: Sequence[Any]) -> str:
    """("body", "payload", "activities", 3, "kind") -> "activities[3].kind"; a query or path
    parameter is its name."""
    parts = list(location)
    if parts and parts[0] == "body":
        parts = parts[2:]  # the source and the operation's parameter name
    elif parts and parts[0] in ("query", "path", "header", "cookie"):
        parts = parts[1:]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text


def _message(error: dict) -> str:
    message = str(error.get("msg", "Invalid value."))
    # Pydantic words a ValueError from a validator as "Value error, ..."; the rest is ours.
    return message.removeprefix("Value error, ")


def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [(field_path(error.get("loc", ())), _message(error)) for error in exc.errors]
    fields = ", ".join(sorted({field for field, _ in errors if field})) or "the request"
    return problem(422, f"Some fields were refused: {fields}.", errors)


def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem(exc.status_code, str(exc))


def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(
        401,
        "Send an API token as `Authorization: Bearer cos_…`; or, logged in to the site, the "
        "community's slug in X-Community.",
        headers={"WWW-Authenticate": 'Bearer realm="CommunityOS"'},
    )


def unauthorized_token(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem(401, str(exc), headers={"WWW-Authenticate": 'Bearer realm="CommunityOS"'})


def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    # ninja adds Retry-After (the seconds to the end of the window) to this response.
    return problem(429, "Too many requests for this token; wait for Retry-After seconds.")


def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    message = str(exc)
    # get_object_or_404's own words name a model class; ours are sentences.
    if not message or (message.startswith("No ") and "matches the given query" in message):
        message = "Not found."
    return problem(404, message)


def segment_error(request: HttpRequest, exc: SegmentError) -> HttpResponse:
    if isinstance(exc, SegmentGone):
        return problem(404, str(exc))
    if isinstance(exc, EditConflict):
        return problem(409, str(exc), [("edit_version", str(exc))])
    if exc.field is None:
        return problem(409, str(exc))
    return problem(422, str(exc), [(exc.field, str(exc))])


def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    """A body past DATA_UPLOAD_MAX_MEMORY_SIZE, refused before it is read."""
    return problem(
        413,
        f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes, the most one "
        "request may send; send fewer items at once.",
    )


def server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A statement stopped at the request's time limit is a 503 the client may retry; any
    other exception is a bug, for Django's 500 handling (and Sentry)."""
    if database.is_timeout(exc):
        return problem(
            503,
            "The request took too long and was stopped; try again, or ask for less at once.",
            headers={"Retry-After": "10"},
        )
    raise exc


class InputError(Exception):
    """Input refused after the schema's own checks (a cursor, a filter): a 422 naming the
    field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def input_error(request: HttpRequest, exc: InputError) -> HttpResponse:
    return problem(422, exc.message, [(exc.field, exc.message)])
