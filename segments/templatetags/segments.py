"""Segment parts of pages other apps own (docs/architecture.md): the sidebar list, the pills above
the members table and the profile's segment pills. `members` templates load these tags; the Python
of `members` never imports `segments`."""

from __future__ import annotations

from django import template
from django.http import QueryDict
from django.urls import reverse

from members.access import htmx_page_path

from ..access import segments_for_request
from ..models import Segment
from ..views import member_segments_context, sidebar_context

register = template.Library()


@register.inclusion_tag("segments/sidebar.html", takes_context=True)
def segment_sidebar(context) -> dict:
    request = context["request"]
    if not hasattr(request, "community"):
        return {}
    return sidebar_context(request)


@register.inclusion_tag("segments/pills.html", takes_context=True)
def segment_pills(context) -> dict:
    """ "All members" and the pinned segments, each a link that keeps the search, filters and
    sort and drops the page cursor. One query, or two when the active segment is not pinned."""
    request = context["request"]
    list_path = reverse("members:list", args=[request.community.slug])
    # The table is also loaded into a segment's page, where the pills do not belong.
    on_members_page = (htmx_page_path(request) or request.path) == list_path
    query: QueryDict = request.GET.copy()
    for name in ("segment", "after", "before"):
        query.pop(name, None)
    active_id = request.GET.get("segment", "")
    pinned = [segment for segment in segments_for_request(request) if segment.pinned]
    active = next((s for s in segments_for_request(request) if str(s.pk) == active_id), None)
    if active is not None and not active.pinned:
        pinned.append(active)

    def link(segment: Segment | None) -> str:
        params = query.copy()
        if segment is not None:
            params["segment"] = str(segment.pk)
        encoded = params.urlencode()
        return f"?{encoded}" if encoded else "?"

    return {
        "show_pills": on_members_page,
        "all_link": link(None),
        "pills": [(segment, link(segment)) for segment in pinned],
        "active": active,
        "updating": any(segment.is_updating for segment in pinned),
        "community": request.community,
        "list_url": context.get("list_url", ""),
        "current_query": request.GET.urlencode(),
    }


@register.inclusion_tag("segments/member_segments.html", takes_context=True)
def member_segments(context, member) -> dict:
    return member_segments_context(context["request"], member)
