"""Segment lookups for a request: scoped to the request's community, 404 for anything else."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from community_os.ids import parse_id
from members.access import CommunityRequest

from .models import Segment


def get_segment_for_request(request: CommunityRequest, pk: int | str) -> Segment:
    """The segment of the request's community; 404 for another's, a missing one or a value
    that is not an id (a form's `segment` field can hold anything)."""
    number = pk if isinstance(pk, int) else parse_id(pk)
    if number is None:
        raise Http404("No such segment.")
    return get_object_or_404(
        Segment.objects.for_community(request.community).select_related("community"), pk=number
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
