"""Keyset paging for the community table.

Pages are addressed by a cursor (the sort value and id of the row they start after, or end
before), not by an offset, so page 1,000 costs what page 1 costs. The total is counted up to a
cap, never with an exact COUNT(*) over a million rows on every page.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.core.validators import DecimalValidator
from django.db import connection, models, transaction
from django.db.models import F, Field, Q, QuerySet


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


@dataclass(frozen=True)
class Page:
    rows: list
    next_cursor: str | None
    previous_cursor: str | None
    count: int
    count_capped: bool


# The longest cursor a page writes: a 200-character text value (the longest sortable column,
# tests/members/test_paging.py checks every one) is at most 2,400 bytes of JSON (a character
# outside the BMP is escaped as two \uXXXX), 3,300 in base64. Longer is forged: refused before
# it is decoded.
MAX_CURSOR_LENGTH = 4096
# Ids are BigAutoField: 1 to 2**63 - 1.
MAX_PK = 2**63 - 1


def encode_cursor(value: Any, pk: int) -> str:
    if isinstance(value, datetime):
        value = {"dt": value.isoformat()}
    elif isinstance(value, Decimal):
        value = {"dec": str(value)}
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, column: Field, *, nullable: bool) -> tuple[Any, int]:
    """The (value, id) a cursor holds, if a page sorted by `column` could have written it.

    A cursor comes from the address bar, so anything else is refused with BadCursor: a value
    of another type than the column's, a naive or out-of-range datetime, a decimal the column
    cannot hold (NaN, infinite, too many digits), text with a NUL or longer than the column,
    an id that is not a positive bigint. The database never sees a value it would choke on.
    """
    read = _value_reader(column)
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadCursor(cursor[:100])
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
        if value is not None:
            value = read(value, column)
        elif not nullable:
            raise ValueError("null in a column without nulls")
    except (ValueError, TypeError, KeyError, ArithmeticError, RecursionError) as error:
        # ValueError covers binascii.Error, JSONDecodeError and UnicodeError; RecursionError
        # is JSON nested deeper than the decoder goes.
        raise BadCursor(cursor) from error
    if not isinstance(pk, int) or isinstance(pk, bool) or not 1 <= pk <= MAX_PK:
        raise BadCursor(cursor)
    return value, pk


def _datetime_value(value: Any, column: Field) -> datetime:
    if not isinstance(value, dict) or value.keys() != {"dt"}:
        raise ValueError("not a datetime")
    moment = datetime.fromisoformat(value["dt"])
    if moment.utcoffset() is None:
        raise ValueError("naive datetime")
    # In UTC, as the database compares it: 0001-01-01T00:00+01:00 overflows (OverflowError)
    # here rather than in the database adapter.
    return moment.astimezone(UTC)


def _decimal_value(value: Any, column: Field) -> Decimal:
    if not isinstance(value, dict) or value.keys() != {"dec"} or not isinstance(value["dec"], str):
        raise ValueError("not a decimal")
    number = Decimal(value["dec"])
    try:  # finite, with no more digits than the column holds (numeric(3, 2): below 10)
        DecimalValidator(column.max_digits, column.decimal_places)(number)
    except ValidationError as error:
        raise ValueError(error.messages) from error
    return number


def _text_value(value: Any, column: Field) -> str:
    if not isinstance(value, str):
        raise ValueError("not text")
    if "\x00" in value or (column.max_length and len(value) > column.max_length):
        raise ValueError("text the column cannot hold")
    value.encode()  # a lone surrogate (\ud800 in the JSON) is not text: UnicodeEncodeError
    return value


def _value_reader(column: Field) -> Callable[[Any, Field], Any]:
    """How a cursor's JSON value becomes a value of `column` (ValueError when it cannot)."""
    if isinstance(column, models.DateTimeField):
        return _datetime_value
    if isinstance(column, models.DecimalField):
        return _decimal_value
    if isinstance(column, (models.CharField, models.TextField)):
        return _text_value
    raise ImproperlyConfigured(f"The table cannot page by a {type(column).__name__}.")


def _sort_column(queryset: QuerySet, name: str) -> tuple[Field, bool]:
    """The sort column's field, and whether it can be NULL: a nullable field, or an annotation
    (the engagement scores come through a LEFT JOIN: its output field is the score's own)."""
    try:
        column = queryset.model._meta.get_field(name)
    except FieldDoesNotExist:
        return queryset.query.annotations[name].output_field, True
    return column, bool(column.null)


Run = tuple[Q, list]  # (which rows, their order)


def _runs(sort: Sort, nullable: bool, cursor: tuple[Any, int] | None, *, backwards: bool) -> list:
    """The rows to read, as runs read one after the other, nearest to the cursor first.

    The forward order is the rows with a value, by (value, id) in the sort's direction, then
    the rows without one (nulls last), by id. Each run is a plain range over one index,
    `(community, column, id)`: within the values run `column >= v` bounds the scan, so a
    page deep in a million rows costs what the first page costs, and the nulls run is read
    only when the values run ran out (never on most pages of a big table).
    """
    descending = sort.descending != backwards  # the direction rows are read in
    field = sort.field
    beyond, at_or_beyond = ("lt", "lte") if descending else ("gt", "gte")

    def ordered(*names: str) -> list:
        return [F(name).desc() if descending else F(name).asc() for name in names]

    values: Run = (Q(**{f"{field}__isnull": False}) if nullable else Q(), ordered(field, "id"))
    nulls: Run = (Q(**{f"{field}__isnull": True}), ordered("id"))
    if cursor is None:
        return [values, nulls] if nullable else [values]
    value, pk = cursor
    if value is None:
        after_nulls: Run = (nulls[0] & Q(**{f"id__{beyond}": pk}), nulls[1])
        return [after_nulls, values] if backwards else [after_nulls]
    past = (
        values[0]
        & Q(**{f"{field}__{at_or_beyond}": value})  # bounds the index range scan
        & (Q(**{f"{field}__{beyond}": value}) | Q(**{field: value, f"id__{beyond}": pk}))
    )
    runs: list[Run] = [(past, values[1])]
    if nullable and not backwards:
        runs.append(nulls)
    return runs


def _read(queryset: QuerySet, runs: list, limit: int, *, known_total: int | None) -> list:
    rows: list = []
    for condition, ordering in runs:
        if known_total is not None and len(rows) >= known_total:
            break  # every matching row is read: the other runs are empty
        rows += list(queryset.filter(condition).order_by(*ordering)[: limit - len(rows)])
        if len(rows) >= limit:
            break
    return rows


def count_capped(queryset: QuerySet, cap: int | None) -> tuple[int, bool]:
    """How many rows match, counting at most `cap` + 1 of them (all of them: `cap` None)."""
    if cap is None:
        return queryset.order_by().count(), False
    found = queryset.order_by().values("id")[: cap + 1].count()
    return min(found, cap), found > cap


# How the table reads a page on PostgreSQL (SET LOCAL, in the page's own transaction): without
# parallel workers. A page and its capped count are a few milliseconds of one core; for a pill
# and a filter at a million members PostgreSQL planned them in parallel, which costs two more
# processes and the time to start them (18 ms in three processes rather than about 10 in one),
# and under concurrent requests those processes take the cores other requests are waiting for.
PAGE_SETTINGS = ("SET LOCAL max_parallel_workers_per_gather = 0",)


@contextmanager
def _page_settings() -> Iterator[None]:
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in PAGE_SETTINGS:
            cursor.execute(setting)
        yield


def paginate(
    queryset: QuerySet,
    sort: Sort,
    *,
    after: str | None = None,
    before: str | None = None,
    size: int,
    count_cap: int | None,
    known_count: int | None = None,
) -> Page:
    """One page of `queryset` in `sort` order, starting after or ending before a cursor.

    `count_cap`: count at most this many rows (None: all of them). `known_count`: how many
    rows the queryset has, when the caller knows it (a segment's stored count): then it is
    not counted again.
    """
    column, nullable = _sort_column(queryset, sort.field)
    # The cursor is read before any query: a forged one (BadCursor) costs the database nothing.
    cursor = decode_cursor(before or after, column, nullable=nullable) if before or after else None
    with _page_settings():
        if known_count is None:
            count, capped = count_capped(queryset, count_cap)
        elif count_cap is None:
            count, capped = known_count, False
        else:
            count, capped = min(known_count, count_cap), known_count > count_cap
        if before:
            runs = _runs(sort, nullable, cursor, backwards=True)
            chunk = _read(queryset, runs, size + 1, known_total=None)
            has_more_before = len(chunk) > size
            rows = chunk[:size][::-1]
            has_more_after = True
        else:
            runs = _runs(sort, nullable, cursor, backwards=False)
            # On the first page the count tells when every row has been read.
            known = count if cursor is None and not capped else None
            chunk = _read(queryset, runs, size + 1, known_total=known)
            rows = chunk[:size]
            has_more_after = len(chunk) > size
            has_more_before = bool(after)

    def cursor_of(row: Any) -> str:
        return encode_cursor(getattr(row, sort.field), row.pk)

    return Page(
        rows=rows,
        next_cursor=cursor_of(rows[-1]) if rows and has_more_after else None,
        previous_cursor=cursor_of(rows[0]) if rows and has_more_before else None,
        count=count,
        count_capped=capped,
    )
