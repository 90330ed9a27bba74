"""Engagement scores (docs/scoring.md), computed set-based: one upsert statement per community.

The statement aggregates each member's activities in the window into three numbers (active days
in the last 90, the latest initiated activity, the decayed raw impact), turns them into F, R and
I with CASE expressions, and writes a MemberScore for every member of the community.

Exactness, so that PostgreSQL and SQLite give the same numbers:

- F and R are rational in the inputs (days are counted, `t` is measured in microseconds), so
  they are rounded half-up exactly in integer arithmetic: round(N / D) = (2N + D) div 2D.
- I involves a logarithm; it is computed in double precision (the same libm calls on both
  databases) and rounded half-up at the end: floor(100 I + 0.5).
- E is rounded from the rounded F, R, I, again exactly: round(S / 3) with S in hundredths.

SQLite gets `power` and `log10` as deterministic functions registered on every connection
(engagement/signals.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count
from django.dispatch import Signal
from django.utils import timezone

from members.models import Community

from .models import ACTIVE, INACTIVE, SUPER_USER, HealthSnapshot, MemberScore

WINDOW = timedelta(days=365)
FREQUENCY_DAYS = 90
HALF_LIFE_DAYS = 90
MICROS_PER_DAY = 86_400_000_000

# Sent (sender=Community, community=...) inside the scoring transaction once a community's
# scores were written: segments whose rules read scores refresh after it commits.
scores_changed = Signal()

# Planner settings for the scoring transaction on PostgreSQL. Right after a bulk import the
# tables have no statistics yet; the planner then takes the member table for a few rows and
# nests the per-member aggregate inside a loop over members, re-aggregating every activity
# once per member (minutes instead of seconds). A batch statement over whole tables never
# wants a nested loop, nor JIT compilation, and sorts in memory rather than on disk.
POSTGRES_SETTINGS = (
    "SET LOCAL enable_nestloop = off",
    "SET LOCAL jit = off",
    "SET LOCAL work_mem = '64MB'",
)


def _round_ratio(numerator: str, denominator: str) -> str:
    """SQL for round-half-up of numerator / denominator in integers (both non-negative)."""
    return f"((2 * ({numerator}) + ({denominator})) / (2 * ({denominator})))"


_U = MICROS_PER_DAY
# F in hundredths from d = active days in the last 90.
_FREQUENCY = f"""CASE
    WHEN d = 0 THEN 0
    WHEN d <= 4 THEN {_round_ratio("300 + 100 * (d - 1)", "6")}
    WHEN d <= 13 THEN {_round_ratio("900 + 100 * (d - 4)", "9")}
    WHEN d < 30 THEN {_round_ratio("3400 + 100 * (d - 13)", "17")}
    ELSE 300 END"""
# R in hundredths from t_us = microseconds since the latest initiated activity:
# 3 - (t-7)/23 = (76-t)/23, 2 - (t-30)/60 = (150-t)/60, 1 - (t-90)/90 = (180-t)/90.
_RECENCY = f"""CASE
    WHEN t_us IS NULL THEN 0
    WHEN t_us <= {7 * _U} THEN 300
    WHEN t_us <= {30 * _U} THEN {_round_ratio(f"100 * ({76 * _U} - t_us)", str(23 * _U))}
    WHEN t_us <= {90 * _U} THEN {_round_ratio(f"100 * ({150 * _U} - t_us)", str(60 * _U))}
    WHEN t_us <= {180 * _U} THEN {_round_ratio(f"100 * ({180 * _U} - t_us)", str(90 * _U))}
    ELSE 0 END"""

# Per-vendor fragments: the UTC date of an activity, days between two dates, epoch microseconds.
_DIALECT = {
    "postgresql": {
        "day": "(a.occurred_at AT TIME ZONE 'UTC')::date",
        "age_days": "(%(as_of_date)s::date - x.day)",
        "ratio": "::float8",
        "half": "0.5::float8",
        "least": "least",
        "epoch_us": "round(extract(epoch FROM {}) * 1000000)::bigint",
        "impact": "floor(least(3.0::float8, log(1.0::float8 + raw)) * 100 + 0.5)::bigint",
        "hundredths": "({}::numeric / 100)",
        "true": "true",
    },
    "sqlite": {
        "day": "date(a.occurred_at)",
        "age_days": "CAST(julianday(%(as_of_date)s) - julianday(x.day) AS INTEGER)",
        "ratio": "",
        "half": "0.5",
        "least": "min",
        # Stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC.
        "epoch_us": (
            "(CAST(strftime('%%s', {0}) AS INTEGER) * 1000000 + CAST(substr({0}, 21) AS INTEGER))"
        ),
        "impact": "CAST(min(3.0, log10(1.0 + raw)) * 100 + 0.5 AS INTEGER)",
        "hundredths": "({} / 100.0)",
        "true": "1",
    },
}


def _score_sql(vendor: str) -> str:
    q = _DIALECT[vendor]
    last_us = q["epoch_us"].format("last_active_at")
    # Only the constant fragments above are interpolated; every value is a query parameter.
    return f"""
WITH daily AS (
    SELECT a.member_id, a.kind_id, {q["day"]} AS day,
           COUNT(*) AS n, MAX(a.occurred_at) AS last_at
    FROM engagement_activity a
    WHERE a.community_id = %(community_id)s
      AND a.occurred_at >= %(window_start)s AND a.occurred_at < %(as_of)s
    GROUP BY a.member_id, a.kind_id, {q["day"]}
),
per_member AS (
    SELECT x.member_id,
           COUNT(DISTINCT CASE WHEN k.initiated AND x.day >= %(recent_start)s
                          THEN x.day END) AS d,
           MAX(CASE WHEN k.initiated THEN x.last_at END) AS last_active_at,
           SUM({q["least"]}(x.n, k.daily_cap) * k.weight
               * power({q["half"]}, {q["age_days"]}{q["ratio"]} / {HALF_LIFE_DAYS}.0)) AS raw
    FROM daily x JOIN engagement_activitykind k ON k.id = x.kind_id
    GROUP BY x.member_id
),
components AS (
    SELECT m.id AS member_id, COALESCE(p.d, 0) AS d, p.last_active_at,
           COALESCE(p.raw, 0.0) AS raw,
           %(as_of_us)s - {last_us} AS t_us
    FROM members_member m LEFT JOIN per_member p ON p.member_id = m.id
    WHERE m.community_id = %(community_id)s
),
hundredths AS (
    SELECT member_id, d, last_active_at, raw,
           {_FREQUENCY} AS f, {_RECENCY} AS r, {q["impact"]} AS i
    FROM components
)
INSERT INTO engagement_memberscore (
    member_id, community_id, frequency, recency, impact, engagement,
    active_days_90, last_active_at, impact_raw, as_of)
SELECT member_id, %(community_id)s,
       {q["hundredths"].format("f")}, {q["hundredths"].format("r")},
       {q["hundredths"].format("i")},
       {q["hundredths"].format(_round_ratio("f + r + i", "3"))},
       d, last_active_at, raw, %(as_of)s
FROM hundredths
WHERE {q["true"]}
ON CONFLICT (member_id) DO UPDATE SET
    community_id = excluded.community_id,
    frequency = excluded.frequency,
    recency = excluded.recency,
    impact = excluded.impact,
    engagement = excluded.engagement,
    active_days_90 = excluded.active_days_90,
    last_active_at = excluded.last_active_at,
    impact_raw = excluded.impact_raw,
    as_of = excluded.as_of
"""  # noqa: S608


def _epoch_micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def score_community(community: Community, *, as_of: datetime | None = None) -> int:
    """Score every member of `community` as of `as_of` (default now); return how many."""
    as_of = timezone.now() if as_of is None else as_of
    if timezone.is_naive(as_of):
        raise ValueError("as_of must be timezone-aware")
    as_of = as_of.astimezone(UTC)
    as_of_date = as_of.date()
    ops = connection.ops
    params: dict[str, Any] = {
        "community_id": community.pk,
        "as_of": ops.adapt_datetimefield_value(as_of),
        "window_start": ops.adapt_datetimefield_value(as_of - WINDOW),
        "as_of_us": _epoch_micros(as_of),
        "as_of_date": as_of_date.isoformat(),
        "recent_start": (as_of_date - timedelta(days=FREQUENCY_DAYS)).isoformat(),
    }
    if connection.vendor == "postgresql":
        params["as_of_date"] = as_of_date
        params["recent_start"] = as_of_date - timedelta(days=FREQUENCY_DAYS)
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for setting in POSTGRES_SETTINGS:
                    cursor.execute(setting)
            cursor.execute(_score_sql(connection.vendor), params)
        # The week's Community Health, from the scores just written
        # (docs/scoring.md "Community Health").
        HealthSnapshot.objects.record(community, as_of=as_of)
        # A rescore that waited for the broker is done once scores as of after it are written.
        Community.objects.filter(pk=community.pk, rescore_waiting_since__lte=as_of).update(
            rescore_waiting_since=None
        )
        scores_changed.send(Community, community=community)
    return MemberScore.objects.filter(community=community, as_of=as_of).count()


def community_health(community: Community) -> dict[str, int]:
    """Counts of super users, active and inactive members among the community's scores."""
    return MemberScore.objects.filter(community=community).aggregate(
        scored=Count("pk"),
        super_users=Count("pk", filter=SUPER_USER),
        active=Count("pk", filter=ACTIVE),
        inactive=Count("pk", filter=INACTIVE),
    )
