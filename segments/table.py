"""Segments in the community table: `?segment=<id>` keeps the members of one segment, and the
pills above the rows switch between them (registered with `members.table` from ready())."""

from __future__ import annotations

import django_filters
from django.db import connection
from django.db.models import BooleanField, F, Func, QuerySet

from members.models import Member
from members.table import TableExtension, register

from .models import Segment, SegmentMembership

# Up to this many members a pill's page starts from the segment's rows and sorts them; a
# bigger segment is read in the table's sort order, each row checked against the segment
# (an index probe), which stops after one page. Either way a page costs a few milliseconds;
# the wrong plan for a small segment walks most of the community to find 50 of its members.
SMALL_SEGMENT = 5_000


class _PkInArray(Func):
    """`pk = ANY(ARRAY(subquery))` (PostgreSQL): the planner looks the few ids up by primary
    key instead of walking the sort index and probing the segment for each member."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        pk_sql, pk_params = compiler.compile(self.source_expressions[0])
        array_sql, array_params = compiler.compile(self.source_expressions[1])
        return f"{pk_sql} = ANY({array_sql})", (*pk_params, *array_params)


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

    known_count: int | None = None  # the table need not count a pill alone: it has a count

    def in_segment(self, queryset: QuerySet, name: str, segment: Segment) -> QuerySet:
        self.known_count = segment.member_count
        if connection.vendor == "postgresql" and segment.member_count <= SMALL_SEGMENT:
            from django.contrib.postgres.expressions import ArraySubquery

            members = SegmentMembership.objects.filter(segment=segment).values("member_id")
            return queryset.filter(_PkInArray(F("pk"), ArraySubquery(members)))
        return queryset.filter(memberships__segment=segment)


class SegmentPills(TableExtension):
    filterset_class = SegmentFilter
    header_template = "segments/table_pills.html"


def register_segment_pills() -> None:
    """Called once, from SegmentsConfig.ready()."""
    register(SegmentPills())
