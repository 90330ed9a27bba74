"""Materialize smart segments (docs/architecture.md "Segments: refresh and triggers"), set-based.

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
restricted to a set of changed members, for every smart segment of the community, with every
rule evaluated over those members in one statement first (one scan of them, not one per rule).

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
from django.dispatch import Signal
from django.utils import timezone

from members.models import Community, Member

from . import graph, rules
from .locks import membership_lock
from .models import Segment, SegmentMembership

logger = logging.getLogger(__name__)

# From this many changed members on, refresh_members evaluates every rule in one statement and
# applies the differences of all segments together; below it, segment by segment.
SCOPE_AT_ONCE = 200

# For each refresh transaction on PostgreSQL: the diff's hash join of a large segment stays in
# memory, and no JIT: compiling the expressions of a rule (or of a hundred rules, in the fast
# path's single statement) costs far more than running them over a million members.
POSTGRES_SETTINGS = ("SET LOCAL work_mem = '64MB'", "SET LOCAL jit = off")

# Sent inside a refresh's transaction right after it wrote ledger rows, with `community_id`,
# `segment_ids`, `after_id` and `up_to_id` (JSON-safe ints): the new rows are exactly
#     MembershipChange.objects.filter(segment_id__in=segment_ids, pk__gt=after_id, pk__lte=up_to_id)
# (a range, not a list: a refresh may write a million rows). Exact because the refresh holds
# those segments' row locks, which every other writer of a segment's ledger holds too (a merge
# waits for the membership lock instead, segments/locks.py): no other row of them is written
# meanwhile, earlier ones are at most `after_id`, later ones above `up_to_id` (both read from
# the id index, so no member is looked at). A receiver records the range in
# the same transaction (webhooks keeps it in its outbox, so a crash after the commit loses
# nothing) and acts once it commits.
ledger_written = Signal()


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

    For a few members each segment is done in its own transaction under its lock. From
    SCOPE_AT_ONCE members on, the work is done at once: one statement evaluates every rule
    that reads no other smart segment over just these members (one scan of them), then one
    transaction locks those segments and applies the difference with their stored rows in a
    few set-based statements (_apply_scope_at_once); the rest (rules reading a smart segment,
    which must see its refresh first, and segments edited in between) follow one by one.
    Leaves `refreshed_at` alone (the rest of each segment was not looked at) and moves the
    stored counts by the difference.
    """
    as_of = _instant(as_of)
    scope = sorted({int(pk) for pk in member_ids})
    results: list[RefreshResult | RefreshError] = []
    if not scope:
        return results
    order = _smart_in_order(community)
    done: dict[int, tuple[int, int]] = {}
    if len(scope) >= SCOPE_AT_ONCE:
        matched = _match_scope(community, order, as_of, scope)
        if matched:
            try:
                done = _apply_scope_at_once(community, matched, scope, as_of)
            finally:
                _drop_matches()
    for segment_id in order:
        if segment_id in done:
            results.append(RefreshResult(segment_id, *done[segment_id]))
            continue
        try:
            with transaction.atomic():
                segment = _lock(segment_id, community.pk)
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


def _lock(segment_id: int, community_id: int | None = None) -> Segment | None:
    """The smart segment, its row locked until the transaction ends (after its community's
    membership lock, segments/locks.py); None if it is gone. Callers that know the segment's
    community pass it, saving the query that looks it up."""
    if community_id is None:
        community_id = (
            Segment.objects.filter(pk=segment_id).values_list("community_id", flat=True).first()
        )
        if community_id is None:
            return None
    membership_lock(community_id)
    return (
        Segment.objects.select_for_update(of=("self",))
        .select_related("community")
        .filter(pk=segment_id, community_id=community_id, kind="smart")
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
    if _postgres():
        return "SELECT unnest(%s::bigint[])", [list(scope)]
    return "SELECT value FROM json_each(%s)", [json.dumps(list(scope))]


def _rule_query(segment: Segment, as_of: datetime, scope: Sequence[int] | None):
    """The members of the segment's community matching its rule (within `scope`), as ids."""
    q = rules.to_q(segment.parsed_rule(), as_of=as_of, tz=segment.community.timezone)
    matching = Member.objects.filter(community_id=segment.community_id).filter(q)
    if scope is not None:
        scope_sql, scope_params = _scope_sql(scope)
        matching = matching.filter(pk__in=RawSQL(scope_sql, scope_params))  # noqa: S611
    return matching.order_by().values("id")


def _apply_rule(segment: Segment, as_of: datetime, scope: Sequence[int] | None) -> tuple[int, int]:
    """Steps 1-3 of the module docstring; returns (entered, left)."""
    current_filter = "c.segment_id = %s"
    current_params: list[Any] = [segment.pk]
    if scope is not None:
        # On PostgreSQL an index probe per changed member within the segment's (segment,
        # member) range, rather than reading the whole segment to keep a few of its rows.
        in_scope, scope_params = _any_sql("c.member_id", scope)
        current_filter += f" AND {in_scope}"
        current_params += scope_params
    rule_sql, rule_params = _compiled(_rule_query(segment, as_of, scope))

    with connection.cursor() as cursor:
        if _postgres():
            for setting in POSTGRES_SETTINGS:
                cursor.execute(setting)
        cursor.execute("DROP TABLE IF EXISTS segment_diff")
        cursor.execute(
            "CREATE TEMPORARY TABLE segment_diff "
            "(member_id bigint PRIMARY KEY, entering boolean NOT NULL)"
        )
        if _postgres():
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
    after_id = _last_change_id(cursor)
    cursor.execute(
        """INSERT INTO segments_membershipchange
               (community_id, segment_id, member_id, change, at, via, by_id, rule_version)
           SELECT %s, %s, member_id, CASE WHEN entering THEN 'entered' ELSE 'left' END,
                  %s, 'rule', NULL, %s
           FROM segment_diff""",
        [segment.community_id, segment.pk, at, segment.rule_version],
    )
    _announce(cursor, segment.community_id, [segment.pk], after_id)


def _last_change_id(cursor) -> int:
    """The highest ledger id written so far (the primary key's index answers it at once)."""
    cursor.execute("SELECT COALESCE(MAX(id), 0) FROM segments_membershipchange")
    return int(cursor.fetchone()[0])


def _announce(cursor, community_id: int, segment_ids: Sequence[int], after_id: int) -> None:
    """Send ledger_written for the rows just written to these segments' ledger."""
    ledger_written.send(
        sender=Segment,
        community_id=community_id,
        segment_ids=sorted(segment_ids),
        after_id=after_id,
        up_to_id=_last_change_id(cursor),
    )


# --- The fast path's single scan ----------------------------------------------------------------

# The tables a rule's SQL reads, each keyed by member: the fast path shadows them with CTEs of
# the same name restricted to the changed members (a CTE's name hides the table's in the
# statement; inside its own definition the name still means the table).
_SHADOWED = (
    ("members_member", "SELECT * FROM members_member WHERE community_id = %s AND id IN ({scope})"),
    (
        "engagement_memberscore",
        "SELECT * FROM engagement_memberscore WHERE member_id IN (SELECT id FROM members_member)",
    ),
    (
        "members_identity",
        "SELECT * FROM members_identity WHERE member_id IN (SELECT id FROM members_member)",
    ),
    (
        "segments_segmentmembership",
        "SELECT * FROM segments_segmentmembership "
        "WHERE member_id IN (SELECT id FROM members_member)",
    ),
)


def _match_scope(
    community: Community, order: Sequence[int], as_of: datetime, scope: Sequence[int]
) -> dict[int, int]:
    """Evaluate, in one statement, every smart rule that reads no smart segment over the
    `scope` members, into the temporary table segment_match (segment_id, member_id).

    Returns {segment id: rule_version evaluated}; empty when nothing was evaluated (then
    every segment evaluates its own rule, as before). A rule that reads another smart segment
    must wait for that segment's refresh in the same pass, so it is left out.
    """
    smart = set(order)
    branches: list[tuple[int, int, str, tuple[Any, ...]]] = []
    for segment in Segment.objects.filter(pk__in=order).select_related("community"):
        try:
            rule = segment.parsed_rule()
            if rules.segments_used(rule) & smart:
                continue
            sql, rule_params = _compiled(
                _rule_query(segment, as_of, None if _postgres() else scope)
            )
        except (rules.RuleError, ValueError):
            continue  # its own refresh reports it
        branches.append((segment.pk, segment.rule_version, sql, rule_params))
    if not branches:
        return {}
    union = " UNION ALL ".join(
        f"SELECT {pk}, id FROM ({sql}) r{pk}"  # noqa: S608 (pk: an int from the database)
        for pk, _v, sql, _p in branches
    )
    params: list[Any] = [p for _pk, _v, _sql, branch in branches for p in branch]
    if _postgres():
        scope_sql, scope_params = _scope_sql(scope)
        ctes = ", ".join(
            f"{name} AS MATERIALIZED ({body.format(scope=scope_sql)})" for name, body in _SHADOWED
        )
        statement = f"INSERT INTO segment_match (segment_id, member_id) WITH {ctes} {union}"
        params = [community.pk, *scope_params, *params]
    else:
        statement = f"INSERT INTO segment_match (segment_id, member_id) {union}"
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if _postgres():
                # The shadowing CTEs have no statistics: the planner guesses a row or two
                # and would nest loops over them; hash joins keep every rule linear.
                for setting in (*POSTGRES_SETTINGS, "SET LOCAL enable_nestloop = off"):
                    cursor.execute(setting)
            cursor.execute("DROP TABLE IF EXISTS segment_match")
            cursor.execute(
                "CREATE TEMPORARY TABLE segment_match (segment_id bigint NOT NULL, "
                "member_id bigint NOT NULL, PRIMARY KEY (segment_id, member_id))"
            )
            cursor.execute(statement, params)
            if _postgres():
                cursor.execute("ANALYZE segment_match")
    except DatabaseError:
        logger.exception("Evaluating the rules for changed members in one scan failed")
        return {}
    return {pk: version for pk, version, _sql, _params in branches}


def _drop_matches() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS segment_match")
    except DatabaseError:  # the connection is gone, and the temporary table with it
        logger.warning("Could not drop the temporary table segment_match", exc_info=True)


def _any_sql(column: str, values: Sequence[int]) -> tuple[str, list[Any]]:
    """SQL for "`column` is one of these ids", one parameter however many ids; on PostgreSQL
    `= ANY(array)`, which an index on the column answers with one probe per id."""
    if _postgres():
        return f"{column} = ANY(%s::bigint[])", [list(values)]
    in_json = f"{column} IN (SELECT value FROM json_each(%s))"  # noqa: S608 (a column name)
    return in_json, [json.dumps(list(values))]


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _apply_scope_at_once(
    community: Community, matched: dict[int, int], scope: Sequence[int], as_of: datetime
) -> dict[int, tuple[int, int]]:
    """Apply segment_match to the stored rows of the `scope` members, for every segment whose
    rule was evaluated there, in one transaction holding their locks (taken in id order).

    Returns {segment id: (entered, left)} for the segments done; a segment edited since its
    rule was evaluated, or gone, is left out (the caller refreshes it alone). On a database
    error nothing is written and nothing is returned: the caller does each segment alone.
    """
    at = connection.ops.adapt_datetimefield_value(as_of)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            membership_lock(community.pk)
            locked = (
                Segment.objects.select_for_update(of=("self",))
                .filter(pk__in=list(matched), community=community, kind="smart")
                .order_by("pk")
                .values_list("pk", "rule_version")
            )
            batch = [pk for pk, version in locked if matched[pk] == version]
            if not batch:
                return {}
            if _postgres():
                for setting in POSTGRES_SETTINGS:
                    cursor.execute(setting)
            in_batch, batch_params = _any_sql("segment_id", batch)
            in_scope, scope_params = _any_sql("c.member_id", scope)
            current = (
                "SELECT c.segment_id, c.member_id, c.via FROM segments_segmentmembership c "  # noqa: S608
                f"WHERE {in_scope} AND c.{in_batch}"
            )
            cursor.execute("DROP TABLE IF EXISTS segment_scope_diff")
            cursor.execute(
                "CREATE TEMPORARY TABLE segment_scope_diff (segment_id bigint NOT NULL, "
                "member_id bigint NOT NULL, entering boolean NOT NULL, "
                "PRIMARY KEY (segment_id, member_id))"
            )
            cursor.execute(
                f"""INSERT INTO segment_scope_diff (segment_id, member_id, entering)
                SELECT m.segment_id, m.member_id, %s FROM segment_match m
                WHERE m.{in_batch} AND NOT EXISTS (
                    SELECT 1 FROM ({current}) c
                    WHERE c.segment_id = m.segment_id AND c.member_id = m.member_id)
                  -- matched before the lock: a member deleted since then does not enter
                  AND EXISTS (SELECT 1 FROM members_member mm WHERE mm.id = m.member_id)
                UNION ALL
                SELECT c.segment_id, c.member_id, %s FROM ({current}) c
                WHERE c.via = 'rule' AND NOT EXISTS (
                    SELECT 1 FROM segment_match m
                    WHERE m.segment_id = c.segment_id AND m.member_id = c.member_id)""",  # noqa: S608
                [
                    True, *batch_params, *scope_params, *batch_params,
                    False, *scope_params, *batch_params,
                ],
            )  # fmt: skip
            if _postgres():
                cursor.execute("ANALYZE segment_scope_diff")  # its size guides the writes
            cursor.execute(
                "SELECT segment_id, COUNT(CASE WHEN entering THEN 1 END), "
                "COUNT(CASE WHEN NOT entering THEN 1 END) FROM segment_scope_diff "
                "GROUP BY segment_id"
            )
            counts = {pk: (entered, left) for pk, entered, left in cursor.fetchall()}
            if counts:
                _write_scope_diff(cursor, community, at, sorted(counts))
                for pk, (entered, left) in counts.items():
                    Segment.objects.filter(pk=pk).update(
                        member_count=F("member_count") + entered - left
                    )
            cursor.execute("DROP TABLE segment_scope_diff")
    except DatabaseError:
        logger.exception("Applying the changed members to every segment at once failed")
        return {}
    return {pk: counts.get(pk, (0, 0)) for pk in batch}


def _write_scope_diff(cursor, community: Community, at: Any, segment_ids: Sequence[int]) -> None:
    cursor.execute(
        """INSERT INTO segments_segmentmembership
               (community_id, segment_id, member_id, added_at, via, added_by_id)
           SELECT %s, segment_id, member_id, %s, 'rule', NULL
           FROM segment_scope_diff WHERE entering""",
        [community.pk, at],
    )
    cursor.execute(
        """DELETE FROM segments_segmentmembership
           WHERE via = 'rule' AND (segment_id, member_id) IN (
               SELECT segment_id, member_id FROM segment_scope_diff WHERE NOT entering)"""
    )
    after_id = _last_change_id(cursor)
    cursor.execute(
        """INSERT INTO segments_membershipchange
               (community_id, segment_id, member_id, change, at, via, by_id, rule_version)
           SELECT %s, d.segment_id, d.member_id,
                  CASE WHEN d.entering THEN 'entered' ELSE 'left' END, %s, 'rule', NULL,
                  s.rule_version
           FROM segment_scope_diff d JOIN segments_segment s ON s.id = d.segment_id""",
        [community.pk, at],
    )
    _announce(cursor, community.pk, segment_ids, after_id)
