"""The API's URLs: the REST API itself under /api/v1/ (`rest_urls`, namespace "api-v1"), and
the Settings > API tokens page under /c/<slug>/settings/api/ (namespace "api")."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path

from . import problems, views
from .api import api

app_name = "api"

urlpatterns = [
    path("c/<slug:slug>/settings/api/", views.tokens, name="tokens"),
    # Anything else under /api/v1/ is a problem document too, never the site's HTML 404.
    path("api/v1/<path:rest>", views.not_found, name="not_found"),
]


def _json_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """ninja answers a method a path does not have with a plain 405, and its root URL with
    Django's 404: both as problem documents here."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return problems.problem(404, "No such resource; see /api/v1/docs.")
        if response.status_code == 405 and not response.get("Content-Type", "").endswith("json"):
            allowed = response.get("Allow", "")
            return problems.problem(
                405,
                f"{request.method} is not a method of this URL; use {allowed}.",
                headers={"Allow": allowed},
            )
        return response

    wrapper.csrf_exempt = True  # type: ignore[attr-defined]  # ninja checks CSRF itself
    return wrapper


def rest_urls() -> tuple[list, str, str]:
    patterns, app, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern) and pattern.name not in ("openapi-json", "openapi-view"):
            pattern.callback = _json_errors(pattern.callback)
    return patterns, app, namespace
