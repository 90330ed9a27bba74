"""The "Watch" control of a segment's page (a segments template loads it; segments' Python
never imports notifications)."""

from __future__ import annotations

from django import template

from ..models import Watch

register = template.Library()


@register.inclusion_tag("notifications/watch_button.html", takes_context=True)
def watch_button(context, segment) -> dict:
    request = context["request"]
    user = request.user
    found = (
        Watch.objects.filter(segment=segment, user=user).first() if user.is_authenticated else None
    )
    return {"segment": segment, "watch": found, "request": request, "error": ""}
