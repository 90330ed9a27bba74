"""Materialize smart segments (DESIGN §6 "Refresh"), set-based.

One refresh of one segment is one transaction that holds the segment's row lock (so one
refresh per segment at a time; a manual edit of the segment waits for it too):

1. the rule becomes SQL (rules.to_q at `as_of` in the community's timezone);
2. the difference between that set and the stored membership goes into a temporary table
   `segment_diff` (member_id, entering): on PostgreSQL with one FULL JOIN that evaluates the
   rule once, elsewhere with two anti-joins;
3. if the difference is empty nothing else is written; otherwise joiners are inserted and
   leavers deleted (only `via = rule` rows: a smart segment never removes what was added by
   other means) and the ledger gets one MembershipChange per joiner and leaver, each with one
   INSERT ... SELECT or DELETE statement;
4. the segment stores its count, `refreshed_at = as_of` and clears its error.

No member is ever looped over in Python. `refresh_members` is the fast path: the same steps
restricted to a set of changed members, for every smart segment of the community.

A refresh that fails records the reason on the segment (refresh_error) and raises; the Celery
task retries it with backoff.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.utils import timezone

from members.models import Community, Member

from . import graph, rules
from .models import Segment, SegmentMembership

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    segment_id: int
    entered: int = 0
    left: int = 0
    skipped: bool = False  # another refresh had already covered the request

    @property
    def changed(self) -> bool:
        return bool(self.entered or self.left)


class RefreshError(Exception):
    """A segment could not be refreshed; the reason is also stored on the segment.

    `retryable`: the database failed (a lost connection, a lock timeout), so trying again
    later may work; an invalid rule will not fix itself.
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def refresh_segment(
    segment_id: int,
    *,
    as_of: datetime | None = None,
    unless_refreshed_since: datetime | None = None,
) -> RefreshResult:
    """Bring one smart segment's membership up to date with its rule at `as_of` (default now).

    With `unless_refreshed_since`, a segment whose last full refresh evaluated at or after that
    instant is left alone: concurrent requests for the same refresh coalesce into one.
    """
    as_of = _instant(as_of)
    try:
        with transaction.atomic():
            segment = _lock(segment_id)
            if segment is None:
                return RefreshResult(segment_id, skipped=True)
            if (
                unless_refreshed_since is not None
                and segment.refreshed_at is not None
                and segment.refreshed_at >= unless_refreshed_since
            ):
                return RefreshResult(segment_id, skipped=True)
            entered, left = _apply_rule(segment, as_of, scope=None)
            Segment.objects.filter(pk=segment.pk).update(
                member_count=SegmentMembership.objects.filter(segment=segment.pk).count(),
                refreshed_at=as_of,
                refresh_error="",
            )
            return RefreshResult(segment_id, entered, left)
    except (rules.RuleError, DatabaseError) as error:
        raise _failed(segment_id, error, checked_at=as_of) from error


def refresh_community(
    community: Community, *, as_of: datetime | None = None
) -> list[RefreshResult | RefreshError]:
    """Refresh every smart segment of the community, referenced segments first.

    Each segment is its own transaction; a failing segment is reported in the list (and on
    the segment) and the others still refresh.
    """
    as_of = _instant(as_of)
    results: list[RefreshResult | RefreshError] = []
    for segment_id in _smart_in_order(community):
        try:
            results.append(refresh_segment(segment_id, as_of=as_of))
        except RefreshError as error:
            results.append(error)
    return results


def refresh_members(
    community: Community, member_ids: Iterable[int], *, as_of: datetime | None = None
) -> list[RefreshResult | RefreshError]:
    """The fast path: re-evaluate only `member_ids` against every smart segment of `community`.

    Leaves `refreshed_at` alone (the rest of each segment was not looked at) and moves the
    stored counts by the difference.
    """
    as_of = _instant(as_of)
    scope = sorted({int(pk) for pk in member_ids})
    results: list[RefreshResult | RefreshError] = []
    if not scope:
        return results
    for segment_id in _smart_in_order(community):
        try:
            with transaction.atomic():
                segment = _lock(segment_id)
                if segment is None:
                    continue
                entered, left = _apply_rule(segment, as_of, scope=scope)
                if entered or left:
                    Segment.objects.filter(pk=segment.pk).update(
                        member_count=F("member_count") + entered - left
                    )
                results.append(RefreshResult(segment_id, entered, left))
        except (rules.RuleError, DatabaseError) as error:
            results.append(_failed(segment_id, error))
    return results


# --- Steps --------------------------------------------------------------------------------------


def _instant(as_of: datetime | None) -> datetime:
    as_of = timezone.now() if as_of is None else as_of
    if timezone.is_naive(as_of):
        raise ValueError("as_of must be timezone-aware")
    return as_of


def _smart_in_order(community: Community) -> list[int]:
    full = graph.dependency_graph(community)
    order, stuck = graph.refresh_order(full)
    smart = set(Segment.objects.for_community(community).smart().values_list("pk", flat=True))
    for segment_id in stuck:
        if segment_id in smart:
            _record_error(segment_id, "The rule refers to itself through other segments.")
    return [segment_id for segment_id in order if segment_id in smart]


def _lock(segment_id: int) -> Segment | None:
    """The smart segment, its row locked until the transaction ends; None if it is gone."""
    return (
        Segment.objects.select_for_update(of=("self",))
        .select_related("community")
        .filter(pk=segment_id, kind="smart")
        .first()
    )


def _failed(
    segment_id: int, error: Exception, *, checked_at: datetime | None = None
) -> RefreshError:
    """Record why the refresh failed. A failure that will not go away by itself (an invalid
    rule, a refused statement) also counts as checked at `checked_at`, so the sweep tries it
    again after the community's interval rather than every minute."""
    retryable = isinstance(error, OperationalError | InterfaceError)
    if isinstance(error, rules.RuleError):
        message = f"The rule is not valid: {error}"
    else:
        logger.exception("Refreshing segment %s failed", segment_id)
        message = (
            f"The database failed during the refresh ({type(error).__name__}); "
            "it will be tried again."
            if retryable
            else f"The database refused the refresh ({type(error).__name__}); "
            "the server log has the details."
        )
    _record_error(segment_id, message, checked_at=None if retryable else checked_at)
    return RefreshError(f"segment {segment_id}: {message}", retryable=retryable)


def _record_error(segment_id: int, message: str, *, checked_at: datetime | None = None) -> None:
    changes: dict[str, Any] = {"refresh_error": message}
    if checked_at is not None:
        changes["refreshed_at"] = checked_at
    try:
        Segment.objects.filter(pk=segment_id).update(**changes)
    except DatabaseError:  # the database is down: the log has it
        logger.exception("Could not record the refresh error of segment %s", segment_id)


def _compiled(queryset) -> tuple[str, tuple[Any, ...]]:
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql, tuple(params)


def _scope_sql(scope: Sequence[int]) -> tuple[str, list[Any]]:
    """SQL for "one of these member ids", one parameter however many ids."""
    if connection.vendor == "postgresql":
        return "SELECT unnest(%s::bigint[])", [list(scope)]
    return "SELECT value FROM json_each(%s)", [json.dumps(list(scope))]


def _apply_rule(segment: Segment, as_of: datetime, scope: Sequence[int] | None) -> tuple[int, int]:
    """Steps 1-3 of the module docstring; returns (entered, left)."""
    q = rules.to_q(segment.parsed_rule(), as_of=as_of, tz=segment.community.timezone)
    matching = Member.objects.filter(community_id=segment.community_id).filter(q)
    current_filter = "c.segment_id = %s"
    current_params: list[Any] = [segment.pk]
    if scope is not None:
        scope_sql, scope_params = _scope_sql(scope)
        matching = matching.filter(pk__in=RawSQL(scope_sql, scope_params))  # noqa: S611
        current_filter += f" AND c.member_id IN ({scope_sql})"
        current_params += scope_params
    rule_sql, rule_params = _compiled(matching.order_by().values("id"))

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS segment_diff")
        cursor.execute(
            "CREATE TEMPORARY TABLE segment_diff "
            "(member_id bigint PRIMARY KEY, entering boolean NOT NULL)"
        )
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""INSERT INTO segment_diff (member_id, entering)
                SELECT coalesce(m.id, c.member_id), m.id IS NOT NULL
                FROM ({rule_sql}) m
                FULL JOIN (SELECT c.member_id, c.via FROM segments_segmentmembership c
                           WHERE {current_filter}) c ON c.member_id = m.id
                WHERE c.member_id IS NULL OR (m.id IS NULL AND c.via = 'rule')""",  # noqa: S608
                [*rule_params, *current_params],
            )
        else:
            cursor.execute(
                f"""INSERT INTO segment_diff (member_id, entering)
                SELECT m.id, 1 FROM ({rule_sql}) m
                WHERE NOT EXISTS (SELECT 1 FROM segments_segmentmembership c
                                  WHERE c.segment_id = %s AND c.member_id = m.id)""",  # noqa: S608
                [*rule_params, segment.pk],
            )
            cursor.execute(
                f"""INSERT INTO segment_diff (member_id, entering)
                SELECT c.member_id, 0 FROM segments_segmentmembership c
                WHERE {current_filter} AND c.via = 'rule'
                  AND c.member_id NOT IN ({rule_sql})""",  # noqa: S608
                [*current_params, *rule_params],
            )
        cursor.execute(
            "SELECT COUNT(CASE WHEN entering THEN 1 END), COUNT(CASE WHEN NOT entering THEN 1 END)"
            " FROM segment_diff"
        )
        entered, left = cursor.fetchone()
        if entered or left:
            _write_diff(cursor, segment, as_of)
        cursor.execute("DROP TABLE segment_diff")
    return entered, left


def _write_diff(cursor, segment: Segment, as_of: datetime) -> None:
    at = connection.ops.adapt_datetimefield_value(as_of)
    cursor.execute(
        """INSERT INTO segments_segmentmembership
               (community_id, segment_id, member_id, added_at, via, added_by_id)
           SELECT %s, %s, member_id, %s, 'rule', NULL FROM segment_diff WHERE entering""",
        [segment.community_id, segment.pk, at],
    )
    cursor.execute(
        """DELETE FROM segments_segmentmembership
           WHERE segment_id = %s AND via = 'rule'
             AND member_id IN (SELECT member_id FROM segment_diff WHERE NOT entering)""",
        [segment.pk],
    )
    cursor.execute(
        """INSERT INTO segments_membershipchange
               (community_id, segment_id, member_id, change, at, via, by_id, rule_version)
           SELECT %s, %s, member_id, CASE WHEN entering THEN 'entered' ELSE 'left' END,
                  %s, 'rule', NULL, %s
           FROM segment_diff""",
        [segment.community_id, segment.pk, at, segment.rule_version],
    )
