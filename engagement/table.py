"""The engagement scores in the community table: four sortable columns and min/max filters.

Registered with `members.table` in `EngagementConfig.ready()`; `members` never imports this.
The columns read annotations over the member's MemberScore (a LEFT JOIN), so members without a
score get NULL: they show "—" and sort last both ways (members/paging.py orders nulls last).
"""

from __future__ import annotations

import django_filters
from django.db.models import F, FilteredRelation, Q, QuerySet

from members.models import Member
from members.table import Column, TableExtension, register

# (score field on MemberScore, label); the table key and filter params derive from the field.
SCORES = (
    ("engagement", "Engagement"),
    ("frequency", "Frequency"),
    ("recency", "Recency"),
    ("impact", "Impact"),
)


def _bound(score: str, label: str, lookup: str, word: str) -> django_filters.NumberFilter:
    return django_filters.NumberFilter(
        field_name=f"{score}_score",
        lookup_expr=lookup,
        label=f"{label} {word}",
        min_value=0,
        max_value=3,
        decimal_places=2,
    )


class ScoreFilter(django_filters.FilterSet):
    """`<score>_min` / `<score>_max`: inclusive bounds on each score (members without one fail)."""

    engagement_min = _bound("engagement", "Engagement", "gte", "from")
    engagement_max = _bound("engagement", "Engagement", "lte", "to")
    frequency_min = _bound("frequency", "Frequency", "gte", "from")
    frequency_max = _bound("frequency", "Frequency", "lte", "to")
    recency_min = _bound("recency", "Recency", "gte", "from")
    recency_max = _bound("recency", "Recency", "lte", "to")
    impact_min = _bound("impact", "Impact", "gte", "from")
    impact_max = _bound("impact", "Impact", "lte", "to")

    class Meta:
        model = Member
        fields: list[str] = []


class ScoreColumns(TableExtension):
    columns = tuple(Column(f"{score}_score", label, "score") for score, label in SCORES)
    filterset_class = ScoreFilter
    filter_template = "engagement/score_filters.html"

    def annotate(self, queryset: QuerySet) -> QuerySet:
        # The join also matches the score's community to the member's: the same rows (a
        # score belongs to its member's community), but it lets PostgreSQL read a page sorted
        # by a score from the (community, score, member) index instead of sorting everyone.
        return queryset.annotate(
            table_score=FilteredRelation("score", condition=Q(score__community=F("community"))),
            **{f"{score}_score": F(f"table_score__{score}") for score, _label in SCORES},
        )


def register_score_columns() -> None:
    """Called once, from EngagementConfig.ready()."""
    register(ScoreColumns())
