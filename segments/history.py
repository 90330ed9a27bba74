"""A segment's history as a small chart: members who entered and left, day by day
(README "What it does")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import Change, MembershipChange, Segment

DAYS = 30
WIDTH, HEIGHT = 600, 120
MIDDLE = HEIGHT / 2


@dataclass(frozen=True)
class Day:
    day: date
    entered: int
    left: int
    x: float
    entered_height: float
    left_height: float

    @property
    def entered_y(self) -> float:
        return round(MIDDLE - self.entered_height, 1)

    @property
    def title(self) -> str:
        return f"{self.day:%b %-d}: {self.entered} entered, {self.left} left"


@dataclass(frozen=True)
class HistoryChart:
    days: list[Day]
    width: int
    height: int
    middle: float
    bar_width: float
    entered: int
    left: int
    first: date
    last: date

    @property
    def summary(self) -> str:
        return (
            f"In the last {DAYS} days {self.entered} members entered and {self.left} left "
            f"({self.first:%b %-d} to {self.last:%b %-d})."
        )


def chart(segment: Segment, *, now: datetime | None = None) -> HistoryChart:
    """Entries above the middle line, exits below, one bar pair per day of the last DAYS days,
    in the current (the community's) timezone. One query."""
    now = now or timezone.now()
    last = timezone.localtime(now).date()
    first = last - timedelta(days=DAYS - 1)
    counts = {
        row["day"]: row
        for row in MembershipChange.objects.filter(
            segment=segment, at__gte=now - timedelta(days=DAYS + 1)
        )
        .annotate(day=TruncDate("at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            entered=Count("pk", filter=Q(change=Change.ENTERED)),
            left=Count("pk", filter=Q(change=Change.LEFT)),
        )
    }
    peak = max([1, *(max(r["entered"], r["left"]) for r in counts.values())])
    step = WIDTH / DAYS
    scale = (MIDDLE - 4) / peak
    days = []
    for index in range(DAYS):
        day = first + timedelta(days=index)
        row = counts.get(day, {"entered": 0, "left": 0})
        days.append(
            Day(
                day=day,
                entered=row["entered"],
                left=row["left"],
                x=round(index * step + 1, 1),
                entered_height=round(row["entered"] * scale, 1),
                left_height=round(row["left"] * scale, 1),
            )
        )
    return HistoryChart(
        days=days,
        width=WIDTH,
        height=HEIGHT,
        middle=MIDDLE,
        bar_width=round(step - 2, 1),
        entered=sum(d.entered for d in days),
        left=sum(d.left for d in days),
        first=first,
        last=last,
    )
