from datetime import datetime

from django import template
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(value: datetime | None) -> str:
    """A short "3 days ago": one unit, so table columns stay narrow."""
    if not value:
        return ""
    return f"{timesince(value, depth=1)} ago"
