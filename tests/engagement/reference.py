"""An independent pure-Python implementation of docs/scoring.md, written for the tests.

It imports nothing from engagement.scoring: exact fractions for Frequency and Recency, Python's
Decimal half-up rounding for Impact, so the SQL scorer is checked against a second reading of
the formulas, not against itself.
"""

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

CENT = Decimal("0.01")


def _half_up(value: Fraction) -> Decimal:
    """Round an exact rational half-up to 2 decimals."""
    return Decimal(math.floor(value * 100 + Fraction(1, 2))) / 100


@dataclass(frozen=True)
class Expected:
    active_days_90: int
    last_active_at: datetime | None
    impact_raw: float
    frequency: Decimal
    recency: Decimal
    impact: Decimal
    engagement: Decimal


def expected_score(activities, kinds, as_of) -> Expected:
    """activities: (kind slug, occurred_at); kinds: slug -> (weight, daily_cap, initiated)."""
    in_window = [(s, at) for s, at in activities if as_of - timedelta(days=365) <= at < as_of]
    initiated = [at for s, at in in_window if kinds[s][2]]
    today = as_of.astimezone(UTC).date()

    days = {at.astimezone(UTC).date() for at in initiated}
    d = sum(1 for day in days if (today - day).days <= 90)
    if d == 0:
        f = Fraction(0)
    elif d <= 4:
        f = Fraction(1, 2) + Fraction(d - 1, 6)
    elif d <= 13:
        f = 1 + Fraction(d - 4, 9)
    elif d < 30:
        f = 2 + Fraction(d - 13, 17)
    else:
        f = Fraction(3)

    last = max(initiated, default=None)
    if last is None:
        r = Fraction(0)
    else:
        delta = as_of - last
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        t = Fraction(micros, 86_400_000_000)
        if t <= 7:
            r = Fraction(3)
        elif t <= 30:
            r = 3 - (t - 7) / 23
        elif t <= 90:
            r = 2 - (t - 30) / 60
        elif t <= 180:
            r = 1 - (t - 90) / 90
        else:
            r = Fraction(0)

    per_kind_day = Counter((s, at.astimezone(UTC).date()) for s, at in in_window)
    raw = 0.0
    for (slug, day), count in sorted(per_kind_day.items()):
        weight, cap, _ = kinds[slug]
        raw += min(count, cap) * weight * 0.5 ** ((today - day).days / 90)
    impact = Decimal(min(3.0, math.log10(1 + raw))).quantize(CENT, rounding=ROUND_HALF_UP)

    frequency, recency = _half_up(f), _half_up(r)
    engagement = ((frequency + recency + impact) / 3).quantize(CENT, rounding=ROUND_HALF_UP)
    return Expected(d, last, raw, frequency, recency, impact, engagement)
