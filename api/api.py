"""The REST API at /api/v1/ (django-ninja): its resources, authentication, rate limit, errors
and the OpenAPI 3 schema at /api/v1/openapi.json, with Swagger UI at /api/v1/docs (served
from django-ninja's own static files: no CDN, no inline script)."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.parser import Parser

from segments.services import SegmentError

from . import problems
from .auth import RateLimit, SessionAuth, TokenAuth, Unauthorized
from .routes import activities, changes, imports, members, segments, webhooks
from .schemas import FieldError, Problem

DESCRIPTION = """\
The members, activities, segments, membership changes and import jobs of one community.

**Authentication.** An API token (Settings > API tokens, or `manage.py create_api_token`) as
`Authorization: Bearer cos_…`: the token's community is the only one it sees, and a read
token may only read. From a browser logged in to the site: the community's slug in the
`X-Community` header, and `X-CSRFToken` on writes.

**Paging.** Lists return `items` and `next`; pass `next` back as `cursor` until it is null.

**Errors** are RFC 9457 problem details (`application/problem+json`) whose `errors` name each
refused field. **Rate limit**: 429 with `Retry-After` past the requests a token may make per
minute.
"""

# Answers any operation may give, as problem details.
ERRORS = {
    400: "The body is not JSON.",
    401: "No credentials, or a token that is not valid, expired or revoked.",
    403: "A read token or a read-only role writing, or a failed CSRF check.",
    404: "No such object in this community (or, for a session, no such community).",
    413: "The body is larger than a request may send (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    422: "Input refused: `errors` names each field.",
    429: "Too many requests: wait for Retry-After seconds.",
    503: "A statement took too long and was stopped: try again.",
}
CONFLICT = "The change conflicts with the segment's state (a rule refers to it, it is smart, or "
CONFLICT += "someone else saved it since edit_version)."


class JsonParser(Parser):
    """JSON as RFC 8259 has it: NaN and Infinity, which Python's json reads, are refused."""

    def parse_body(self, request: HttpRequest) -> Any:
        def refuse(name: str) -> None:
            raise ValueError(f"{name} is not JSON")

        return json.loads(request.body, parse_constant=refuse)


class CommunityApi(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """ninja's schema, with the problem responses every operation may give."""
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["FieldError"] = FieldError.model_json_schema()
        problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        problem_schema.pop("$defs", None)
        components["Problem"] = problem_schema
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                for parameter in operation.get("parameters", []):
                    _not_nullable(parameter)
                responses = operation.setdefault("responses", {})
                codes = dict(ERRORS)
                if path.startswith(f"{self.root_path}segments") and method != "get":
                    codes[409] = CONFLICT
                for code, description in sorted(codes.items()):
                    responses[code] = _problem_response(description, code)
        return schema

    @property
    def root_path(self) -> str:
        return self.get_root_path({})


def _not_nullable(parameter: dict) -> None:
    """An optional query parameter is one left out: `null` is no value a query string has."""
    schema = parameter.get("schema", {})
    options = schema.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        kept = [option for option in options if option != {"type": "null"}]
        del schema["anyOf"]
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept


def _problem_response(description: str, code: int) -> dict:
    response: dict = {
        "description": description,
        "content": {problems.CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if code == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait.",
                "required": True,
                "schema": {"type": "integer"},
            }
        }
    return response


api = CommunityApi(
    title="CommunityOS API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=[TokenAuth(), SessionAuth()],
    throttle=[RateLimit()],
    parser=JsonParser(),
)

# Every error a request can cause, as a problem document (api/problems.py); the handler of
# Exception answers a timeout with 503 and lets anything else be the bug it is.
HANDLERS: list[tuple[type[Exception], Any]] = [
    (ValidationError, problems.validation_error),
    (HttpError, problems.http_error),
    (AuthenticationError, problems.unauthenticated),
    (Unauthorized, problems.unauthorized_token),
    (Throttled, problems.throttled),
    (Http404, problems.not_found),
    (SegmentError, problems.segment_error),
    (problems.InputError, problems.input_error),
    (RequestDataTooBig, problems.too_big),
    (Exception, problems.server_error),
]
for exception, handler in HANDLERS:
    api.add_exception_handler(exception, handler)

api.add_router("", members.router)
api.add_router("", activities.router)
api.add_router("", segments.router)
api.add_router("", changes.router)
api.add_router("", imports.router)
api.add_router("", webhooks.router)
