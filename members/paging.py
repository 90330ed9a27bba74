"""Keyset paging for the community table.

Pages are addressed by a cursor (the sort value and id of the row they start after, or end
before), not by an offset, so page 1,000 costs what page 1 costs. The total is counted up to a
cap, never with an exact COUNT(*) over a million rows on every page.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, QuerySet


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool = False

    @classmethod
    def parse(cls, text: str, allowed: tuple[str, ...], default: str) -> Sort:
        field = text.removeprefix("-")
        if field not in allowed:
            return cls.parse(default, allowed, default)
        return cls(field, text.startswith("-"))

    @property
    def param(self) -> str:
        return f"-{self.field}" if self.descending else self.field

    def ordering(self, *, reverse: bool = False) -> list:
        """Nulls go last in the forward direction, whichever way the column is sorted."""
        descending = self.descending != reverse
        nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
        column, tiebreak = F(self.field), F("id")
        if descending:
            return [column.desc(**nulls), tiebreak.desc()]
        return [column.asc(**nulls), tiebreak.asc()]


@dataclass(frozen=True)
class Page:
    rows: list
    next_cursor: str | None
    previous_cursor: str | None
    count: int
    count_capped: bool


def encode_cursor(value: Any, pk: int) -> str:
    if isinstance(value, datetime):
        value = {"dt": value.isoformat()}
    elif isinstance(value, Decimal):
        value = {"dec": str(value)}
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["dt"]) if "dt" in value else Decimal(value["dec"])
        if not isinstance(pk, int) or not (
            value is None or isinstance(value, (str, datetime, Decimal))
        ):
            raise BadCursor(cursor)
    except (ValueError, TypeError, KeyError, ArithmeticError) as error:
        raise BadCursor(cursor) from error
    return value, pk


def _after(sort: Sort, value: Any, pk: int) -> Q:
    """Rows that come after (value, pk) in the forward order (nulls last)."""
    beyond = "lt" if sort.descending else "gt"
    if value is None:
        return Q(**{f"{sort.field}__isnull": True, f"id__{beyond}": pk})
    return (
        Q(**{f"{sort.field}__{beyond}": value})
        | Q(**{sort.field: value, f"id__{beyond}": pk})
        | Q(**{f"{sort.field}__isnull": True})
    )


def _before(sort: Sort, value: Any, pk: int) -> Q:
    """Rows that come before (value, pk) in the forward order (nulls last)."""
    short = "gt" if sort.descending else "lt"
    if value is None:
        return Q(**{f"{sort.field}__isnull": False}) | Q(
            **{f"{sort.field}__isnull": True, f"id__{short}": pk}
        )
    return Q(**{f"{sort.field}__{short}": value}) | Q(**{sort.field: value, f"id__{short}": pk})


def count_capped(queryset: QuerySet, cap: int) -> tuple[int, bool]:
    """How many rows match, counting at most `cap` + 1 of them."""
    found = queryset.order_by().values("id")[: cap + 1].count()
    return min(found, cap), found > cap


def paginate(
    queryset: QuerySet,
    sort: Sort,
    *,
    after: str | None = None,
    before: str | None = None,
    size: int,
    count_cap: int,
) -> Page:
    """One page of `queryset` in `sort` order, starting after or ending before a cursor."""
    if before:
        value, pk = decode_cursor(before)
        chunk = list(
            queryset.filter(_before(sort, value, pk)).order_by(*sort.ordering(reverse=True))[
                : size + 1
            ]
        )
        has_more_before = len(chunk) > size
        rows = chunk[:size][::-1]
        has_more_after = True
    else:
        if after:
            value, pk = decode_cursor(after)
            queryset_page = queryset.filter(_after(sort, value, pk))
        else:
            queryset_page = queryset
        chunk = list(queryset_page.order_by(*sort.ordering())[: size + 1])
        rows = chunk[:size]
        has_more_after = len(chunk) > size
        has_more_before = bool(after)
    count, capped = count_capped(queryset, count_cap)

    def cursor_of(row: Any) -> str:
        return encode_cursor(getattr(row, sort.field), row.pk)

    return Page(
        rows=rows,
        next_cursor=cursor_of(rows[-1]) if rows and has_more_after else None,
        previous_cursor=cursor_of(rows[0]) if rows and has_more_before else None,
        count=count,
        count_capped=capped,
    )
