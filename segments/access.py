"""Segment lookups for a request: scoped to the request's community, 404 for anything else."""

from django.shortcuts import get_object_or_404

from members.access import CommunityRequest

from .models import Segment


def get_segment_for_request(request: CommunityRequest, pk: int | str) -> Segment:
    return get_object_or_404(
        Segment.objects.for_community(request.community).select_related("community"), pk=pk
    )


def segments_for_request(request: CommunityRequest) -> list[Segment]:
    """The community's segments in pill order, read once per request: the sidebar and the
    pills above the table both show them."""
    cached = getattr(request, "_community_segments", None)
    if cached is None:
        cached = list(Segment.objects.for_community(request.community))
        for segment in cached:
            segment.community = request.community  # the one already read, not a copy each
        request._community_segments = cached  # type: ignore[attr-defined]
    return cached
