from django.http import HttpRequest

from .access import can_edit
from .models import Community, CommunityRole


def communities(request: HttpRequest) -> dict:
    """What the sidebar needs on every page: the current community and the switcher's list."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if user.is_superuser:
        available = list(Community.objects.order_by("name"))
    else:
        available = [r.community for r in CommunityRole.objects.for_user(user)]
    return {
        "current_community": getattr(request, "community", None),
        "current_role": getattr(request, "role", None),
        "can_edit": can_edit(request),
        "available_communities": available,
    }
