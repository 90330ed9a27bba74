"""Tenancy: the one place that turns a request into a community and checks the user's role.

Every community page is decorated with `community_view`; every lookup of a tenant-owned
object goes through a `get_<thing>_for_request` helper. Outsiders get 404, never 403, so a
URL does not reveal whether a community or object exists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django_htmx.middleware import HtmxDetails

from .models import ROLE_RANK, Community, CommunityRole, ImportJob, Member, Role

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CommunityRequest(HttpRequest):
    """What a view decorated with `community_view` receives."""

    community: Community
    role: Role
    htmx: HtmxDetails


def role_for(user, community: Community) -> Role | None:
    """The user's role in the community; superusers act as admins everywhere."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    role = (
        CommunityRole.objects.filter(user=user, community=community)
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role else None


def has_role(role: Role | None, needed: Role) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


def community_view(
    view: Callable[..., HttpResponseBase] | None = None,
    *,
    write_role: Role = Role.MANAGER,
    read_role: Role = Role.VIEWER,
):
    """Resolve `slug` from the URL into `request.community` and `request.role`.

    Anonymous users go to the login page; users without a role get 404; a user whose role is
    below `write_role` gets 403 on anything but a safe method. Every response the view gives
    (pages, partials, CSV exports) is `Cache-Control: private, no-store`.
    """

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            community = get_object_or_404(Community, slug=slug)
            role = role_for(request.user, community)
            if not has_role(role, read_role):
                raise Http404("No such community.")
            if request.method not in SAFE_METHODS and not has_role(role, write_role):
                raise PermissionDenied("Your role in this community is read-only.")
            request.community = community  # type: ignore[attr-defined]
            request.role = role  # type: ignore[attr-defined]
            # Dates are shown, and date filters read, in the community's timezone.
            with timezone.override(community.timezone):
                response = view(request, *args, **kwargs)
            # Member data: no shared cache may keep it, nor the browser on disk (a page or an
            # export left behind on a shared computer). Vary is the view's own, untouched.
            patch_cache_control(response, private=True, no_store=True)
            return response

        return wrapper

    return decorate(view) if view is not None else decorate


def can_edit(request: HttpRequest) -> bool:
    """Whether the page should offer editing controls (managers and admins)."""
    return has_role(getattr(request, "role", None), Role.MANAGER)


def get_member_for_request(request: CommunityRequest, pk: int) -> Member:
    return get_object_or_404(Member.objects.for_community(request.community), pk=pk)


def get_import_job_for_request(request: CommunityRequest, pk: int) -> ImportJob:
    jobs = ImportJob.objects.for_community(request.community).select_related("community")
    return get_object_or_404(jobs, pk=pk)


def htmx_page_path(request: HttpRequest) -> str | None:
    """The path (without the query) of the page an htmx request was sent from; None for a
    request not sent by htmx, or whose HX-Current-URL header is not a URL of this site."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return None
    try:
        path = htmx.current_url_abs_path
    except ValueError:  # a forged header ("http://[")
        return None
    return path.split("?")[0] if path else None
