"""Chart geometry for the Engagement page: pure functions from numbers to shapes.

The templates draw these as inline SVG (no JavaScript, no inline styles: coordinates are SVG
presentation attributes, colours come from CSS classes). Every shape carries the words a screen
reader or a tooltip needs, and every chart a one-sentence summary for its aria-label.
Coordinates are in the chart's own viewBox units and rounded to 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


def _r(value: float) -> float:
    return round(value, 1)


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the bucket, e.g. "0.5-1" (with an en dash)
    count: int
    title: str  # "0.5-1: 12 members (40%)"
    center: float  # x of the bar's middle, for its labels
    value_y: float  # baseline of the count above the bar


@dataclass(frozen=True)
class Histogram:
    width: int
    height: int
    baseline: float
    label_y: float
    bars: tuple[Bar, ...]
    summary: str


def histogram(
    counts: Sequence[int],
    labels: Sequence[str],
    *,
    name: str,
    width: int = 260,
    height: int = 150,
) -> Histogram:
    """Vertical bars, one per bucket, scaled to the largest count (an empty chart stays flat)."""
    if len(counts) != len(labels):
        raise ValueError("one label per count")
    top, bottom, side = 18.0, 22.0, 4.0
    baseline = height - bottom
    plot_height = baseline - top
    slot = (width - 2 * side) / max(len(counts), 1)
    gap = slot * 0.18
    largest = max(counts, default=0)
    total = sum(counts)
    bars = []
    for index, (count, label) in enumerate(zip(counts, labels, strict=True)):
        bar_height = plot_height * count / largest if largest else 0.0
        if count and bar_height < 1.5:
            bar_height = 1.5  # a non-empty bucket stays visible
        x = side + index * slot + gap / 2
        share = f" ({count / total:.0%})" if total else ""
        bars.append(
            Bar(
                x=_r(x),
                y=_r(baseline - bar_height),
                width=_r(slot - gap),
                height=_r(bar_height),
                label=label,
                count=count,
                title=f"{label}: {_plural(count, 'member')}{share}",
                center=_r(x + (slot - gap) / 2),
                value_y=_r(baseline - bar_height - 5),
            )
        )
    summary = f"{name} distribution of {_plural(total, 'member')}: " + ", ".join(
        f"{bar.label}: {bar.count:,}" for bar in bars
    )
    return Histogram(
        width=width,
        height=height,
        baseline=_r(baseline),
        label_y=_r(height - 6),
        bars=tuple(bars),
        summary=summary + ".",
    )


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str  # "Week of Mar 2, 2026: Active 25%"


@dataclass(frozen=True)
class Line:
    key: str  # for the CSS class
    name: str
    points: tuple[Point, ...]
    path: str  # SVG path data through the points
    latest: str  # the last value, for the legend ("25%")


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    lines: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    summary: str


def _week_label(week: date) -> str:
    return f"{week:%b} {week.day}"


def trend(
    weeks: Sequence[date],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    width: int = 720,
    height: int = 240,
    max_x_labels: int = 8,
) -> TrendChart:
    """Lines of shares (0 to 1) over weeks; `series` holds (key, name, one share per week)."""
    left, right, top, bottom = 44.0, width - 16.0, 14.0, height - 28.0
    span = max(len(weeks) - 1, 1)

    def x_at(index: int) -> float:
        return _r(left + (right - left) * index / span)

    def y_at(share: float) -> float:
        return _r(bottom - (bottom - top) * min(max(share, 0.0), 1.0))

    lines = []
    for key, name, shares in series:
        if len(shares) != len(weeks):
            raise ValueError("one share per week")
        points = tuple(
            Point(
                x=x_at(i),
                y=y_at(share),
                title=f"Week of {_week_label(week)}, {week.year}: {name} {share:.0%}",
            )
            for i, (week, share) in enumerate(zip(weeks, shares, strict=True))
        )
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{point.x} {point.y}" for i, point in enumerate(points)
        )
        latest = f"{shares[-1]:.0%}" if shares else ""
        lines.append(Line(key=key, name=name, points=points, path=path, latest=latest))
    step = max(1, -(-len(weeks) // max_x_labels))  # ceil: at most max_x_labels labels
    shown = list(range(len(weeks) - 1, -1, -step))[::-1]  # always label the latest week
    x_ticks = tuple(Tick(x_at(i), _week_label(weeks[i])) for i in shown)
    y_ticks = tuple(Tick(y_at(q / 4), f"{q * 25}%") for q in range(5))
    if weeks:
        summary = (
            f"Weekly shares of members from {_week_label(weeks[0])}, {weeks[0].year} "
            f"to {_week_label(weeks[-1])}, {weeks[-1].year}. Latest: "
            + ", ".join(f"{line.name} {line.latest}" for line in lines)
            + "."
        )
    else:
        summary = "No weeks yet."
    return TrendChart(
        width=width,
        height=height,
        left=left,
        right=_r(right),
        top=top,
        bottom=_r(bottom),
        lines=tuple(lines),
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        summary=summary,
    )
