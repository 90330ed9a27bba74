"""`{% member_engagement member %}`: the member's scores, their readings and recent activity.

The profile lives in `members`, which must not import `engagement` (docs/architecture.md), so this
app provides the part of the page that shows its data. Two queries, whatever the member's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings

from members.models import Member

from .. import readings
from ..models import Activity, MemberScore

register = template.Library()

RECENT_ACTIVITY_LIMIT = 15


@dataclass(frozen=True)
class ScoreCard:
    key: str
    label: str
    value: Decimal
    meter: str
    reading: str  # "Frequency 1.60: active on 9 days in the last 90"

    @property
    def explanation(self) -> str:
        """The reading without the leading "Label 1.60: ", shown under the big number."""
        return self.reading.split(": ", 1)[1]


def score_cards(score: MemberScore) -> list[ScoreCard]:
    def card(key: str, label: str, value: Decimal, reading: str) -> ScoreCard:
        return ScoreCard(key, label, value, readings.meter_value(value), reading)

    return [
        card(
            "engagement",
            "Engagement",
            score.engagement,
            readings.engagement_reading(score.engagement),
        ),
        card(
            "frequency",
            "Frequency",
            score.frequency,
            readings.frequency_reading(score.frequency, score.active_days_90),
        ),
        card(
            "recency",
            "Recency",
            score.recency,
            readings.recency_reading(score.recency, score.last_active_at, score.as_of),
        ),
        card(
            "impact",
            "Impact",
            score.impact,
            readings.impact_reading(score.impact, score.impact_raw),
        ),
    ]


@register.inclusion_tag("engagement/member_engagement.html")
def member_engagement(member: Member) -> dict[str, Any]:
    score = MemberScore.objects.filter(
        member_id=member.pk, community_id=member.community_id
    ).first()
    activities = list(
        Activity.objects.filter(member_id=member.pk, community_id=member.community_id)
        .select_related("kind")
        .order_by("-occurred_at", "-id")[:RECENT_ACTIVITY_LIMIT]
    )
    return {
        "member": member,
        "score": score,
        "cards": score_cards(score) if score else [],
        "standings": readings.standings(score.frequency, score.recency, score.impact)
        if score
        else [],
        "activities": [(activity, readings.web_link(activity.url)) for activity in activities],
        "limit": RECENT_ACTIVITY_LIMIT,
        "scoring_minutes": settings.SCORING_INTERVAL_MINUTES,
    }
