"""Writes that span members and their activities."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from members.models import Community, Member

from .models import Activity, ActivityKind

# Member ids per UPDATE: stays below SQLite's and PostgreSQL's parameter limits.
BATCH_SIZE = 900


def update_last_seen(community: Community, member_ids: Iterable[int]) -> int:
    """Move each member's `last_seen_at` up to their newest *initiated* activity
    (docs/scoring.md "Last Seen").

    `last_seen_at` becomes the later of its current value and that activity; it never moves
    back, and received activities (a reaction to the member's post) do not count. One UPDATE
    (PostgreSQL, the ids as one array) or one per BATCH_SIZE members (SQLite); returns how many
    members changed.
    """
    changed = 0
    for batch in _id_batches(member_ids):
        # Each member's newest initiated activity by its own index lookup (activity_by_member_
        # time), not a join: a join is planned from statistics, which a table just written by an
        # import lacks, and a nested loop over 100,000 members each way took minutes.
        changed += _execute(
            f"""UPDATE {_MEMBER} SET last_seen_at = newest.at, updated_at = %s
            FROM (SELECT m.id AS member_id,
                         (SELECT MAX(a.occurred_at) FROM {_ACTIVITY} a
                          JOIN {_KIND} k ON k.id = a.kind_id AND k.initiated
                          WHERE a.member_id = m.id) AS at
                  FROM {_MEMBER} m WHERE m.community_id = %s AND {batch.sql("m.id")}) newest
            WHERE {_MEMBER}.id = newest.member_id AND newest.at IS NOT NULL
              AND ({_MEMBER}.last_seen_at IS NULL OR {_MEMBER}.last_seen_at < newest.at)""",
            [_now(), community.pk, *batch.params],
        )
    return changed


_MEMBER = Member._meta.db_table
_ACTIVITY = Activity._meta.db_table
_KIND = ActivityKind._meta.db_table


@dataclass(frozen=True)
class _Batch:
    ids: list[int]
    postgres: bool

    def sql(self, column: str) -> str:
        if self.postgres:
            # Not `= ANY(%s)`: that compares each row with the whole array, which a hundred
            # thousand ids make quadratic; a set of them is hashed or joined instead.
            return f"{column} IN (SELECT UNNEST(%s::bigint[]))"
        return f"{column} IN ({', '.join('%s' for _ in self.ids)})"

    @property
    def params(self) -> list:
        return [self.ids] if self.postgres else self.ids


def _id_batches(member_ids: Iterable[int]) -> Iterator[_Batch]:
    """The ids as one array on PostgreSQL, in IN lists of BATCH_SIZE on SQLite."""
    ids = sorted({int(pk) for pk in member_ids})
    postgres = connection.vendor == "postgresql"
    size = len(ids) if postgres else BATCH_SIZE
    for start in range(0, len(ids), max(size, 1)):
        yield _Batch(ids[start : start + size], postgres)


def _execute(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _now() -> object:
    return connection.ops.adapt_datetimefield_value(timezone.now())
