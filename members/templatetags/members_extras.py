from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(value: datetime | None) -> str:
    """A short "3 days ago": one unit, so table columns stay narrow."""
    if not value:
        return ""
    if timedelta(0) <= timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, depth=1)} ago"


MERGES_SHOWN = 20


@register.inclusion_tag("members/member_merges.html", takes_context=True)
def member_merges(context, member) -> dict:
    """The profile's merges into this member and its possible duplicates (members/merging.py,
    members/duplicates.py)."""
    from ..duplicates import duplicates_of

    merges = list(member.merges.select_related("by").order_by("-at", "-pk")[: MERGES_SHOWN + 1])
    return {
        "member": member,
        "merges": merges[:MERGES_SHOWN],
        "more_merges": len(merges) > MERGES_SHOWN,
        "duplicates": duplicates_of(member),
        "can_edit": context.get("can_edit", False),
        "community": member.community,
    }
