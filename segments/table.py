"""Segments in the community table: `?segment=<id>` keeps the members of one segment, and the
pills above the rows switch between them (registered with `members.table` from ready())."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from members.models import Member
from members.table import TableExtension, register

from .models import Segment


def _community_segments(request) -> QuerySet[Segment]:
    community = getattr(request, "community", None)
    return Segment.objects.for_community(community) if community else Segment.objects.none()


class SegmentFilter(django_filters.FilterSet):
    segment = django_filters.ModelChoiceFilter(
        queryset=_community_segments, method="in_segment", label="Segment"
    )

    class Meta:
        model = Member
        fields: list[str] = []

    def in_segment(self, queryset: QuerySet, name: str, segment: Segment) -> QuerySet:
        return queryset.filter(memberships__segment=segment)


class SegmentPills(TableExtension):
    filterset_class = SegmentFilter
    header_template = "segments/table_pills.html"


def register_segment_pills() -> None:
    """Called once, from SegmentsConfig.ready()."""
    register(SegmentPills())
