"""What a member's scores mean, in words (docs/scoring.md "Readings"), for the profile.

Small pure functions of a score and the components stored beside it; no database, no clock
(the scores' own `as_of` is the reference instant, so a reading explains its number exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit

SCALE_MAX = Decimal(3)
TIMES = "\N{MULTIPLICATION SIGN}"


def _score(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def frequency_reading(frequency: Decimal, active_days_90: int) -> str:
    """'Frequency 1.60: active on 9 days in the last 90'."""
    if active_days_90 == 0:
        return f"Frequency {_score(frequency)}: not active in the last 90 days"
    return (
        f"Frequency {_score(frequency)}: active on {_plural(active_days_90, 'day')} in the last 90"
    )


def recency_reading(recency: Decimal, last_active_at: datetime | None, as_of: datetime) -> str:
    """'Recency 2.50: last active 18 days ago', counted in whole days back from `as_of`."""
    if last_active_at is None:
        return f"Recency {_score(recency)}: no activity in the last year"
    days = (as_of - last_active_at).days
    if days < 1:
        return f"Recency {_score(recency)}: last active today"
    return f"Recency {_score(recency)}: last active {_plural(days, 'day')} ago"


def impact_reading(impact: Decimal, impact_raw: float) -> str:
    """'Impact 2.09: about 123 weighted contributions this year (each Impact point is \u00d710)'."""
    contributions = int(Decimal(str(impact_raw)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if impact_raw <= 0:
        amount = "no contributions this year"
    elif contributions == 0:
        amount = "less than one weighted contribution this year"
    else:
        amount = f"about {_plural(contributions, 'weighted contribution')} this year"
    return f"Impact {_score(impact)}: {amount} (each Impact point is {TIMES}10)"


def engagement_reading(engagement: Decimal) -> str:
    """'Engagement 2.36: the average of the three'."""
    return f"Engagement {_score(engagement)}: the average of the three"


@dataclass(frozen=True)
class Standing:
    key: str  # for styling: super-user, active, inactive, between
    label: str
    reason: str


def standings(frequency: Decimal, recency: Decimal, impact: Decimal) -> list[Standing]:
    """Where the member counts in Community Health (docs/scoring.md); a super user may also be
    active."""
    found = []
    if impact > 2:
        found.append(Standing("super-user", "Super user", "Impact above 2"))
    if frequency > 1 and recency > 1 and impact > 1:
        found.append(Standing("active", "Active", "Frequency, Recency and Impact all above 1"))
    elif frequency < 1 and recency < 1 and impact < 1:
        found.append(Standing("inactive", "Inactive", "Frequency, Recency and Impact all below 1"))
    else:
        found.append(
            Standing("between", "Neither active nor inactive", "some scores above 1, some not")
        )
    return found


def web_link(url: str) -> str | None:
    """The URL if it is an http(s) link worth rendering as one, else None."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url.strip()
    return None


def meter_value(score: Decimal) -> str:
    """The score clamped to the 0..3 scale, for a <meter>."""
    return _score(min(max(Decimal(score), Decimal(0)), SCALE_MAX))
