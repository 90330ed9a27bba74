"""Keyset paging cursors (members/paging.py): a cursor comes from the address bar, so a forged
one is refused (the table shows its first page) before the database sees its value.

The NUL, huge-decimal and datetime-overflow cases crashed only on PostgreSQL or only on SQLite:
run this module on both.
"""

import base64
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from engagement.models import MemberScore
from members import table
from members.models import Member
from members.paging import (
    MAX_CURSOR_LENGTH,
    MAX_PK,
    BadCursor,
    _sort_column,
    decode_cursor,
    encode_cursor,
)
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def cursor(raw_json: str) -> str:
    """A cursor as the table writes one, around any JSON text."""
    return base64.urlsafe_b64encode(raw_json.encode()).decode().rstrip("=")


def column(name: str) -> models.Field:
    return _sort_column(table.annotate(Member.objects.all()), name)[0]


def list_url(community, **params):
    return f"{reverse('members:list', args=[community.slug])}?{urlencode(params)}"


def at(day: int) -> datetime:
    return datetime(2026, 1, day, tzinfo=UTC)


@pytest.fixture
def three(community):
    """Ann, Bob, Cat: in this order by every column (Cat has no score: last)."""
    ann, bob, _cat = (
        MemberFactory(
            community=community,
            **dict.fromkeys(["name", "company_name", "job_title", "city", "country"], name),
            joined_at=at(day),
            last_seen_at=at(day),
        )
        for name, day in (("Ann", 1), ("Bob", 2), ("Cat", 3))
    )
    for member, score in ((ann, "1.50"), (bob, "2.50")):
        MemberScore.objects.create(
            member=member, community=community, engagement=Decimal(score), as_of=at(4)
        )


BIG_DECIMAL = '[{"dec":"1e999999"},1]'
FORGED = {
    # (sort column, the cursor's JSON)
    "text-on-a-date-column": ("joined_at", '["abc",1]'),  # ?after=WyJhYmMiLDFd
    "nul-in-text": ("name", '["a\\u0000b",1]'),
    "lone-surrogate-in-text": ("name", '["\\ud800",1]'),
    "text-longer-than-the-column": ("name", f'["{"x" * 201}",1]'),
    "ten-thousand-characters": ("name", f'["{"x" * 10_000}",1]'),
    "number-on-a-text-column": ("name", "[5,1]"),
    "boolean-on-a-text-column": ("name", "[true,1]"),
    "null-on-a-column-without-nulls": ("name", "[null,1]"),
    "datetime-on-a-text-column": ("name", '[{"dt":"2026-01-02T00:00:00+00:00"},1]'),
    "huge-decimal": ("engagement_score", BIG_DECIMAL),
    "nan-decimal": ("engagement_score", '[{"dec":"NaN"},1]'),
    "signalling-nan-decimal": ("engagement_score", '[{"dec":"sNaN"},1]'),
    "infinite-decimal": ("engagement_score", '[{"dec":"Infinity"},1]'),
    "minus-infinite-decimal": ("engagement_score", '[{"dec":"-Infinity"},1]'),
    "decimal-beyond-the-score-column": ("engagement_score", '[{"dec":"10.00"},1]'),
    "decimal-with-too-many-places": ("engagement_score", '[{"dec":"1.001"},1]'),
    "decimal-as-a-number": ("engagement_score", '[{"dec":1.5},1]'),
    "text-on-a-score-column": ("engagement_score", '["1.50",1]'),
    "decimal-on-a-date-column": ("joined_at", '[{"dec":"1.5"},1]'),
    "naive-datetime": ("joined_at", '[{"dt":"2026-01-02T00:00:00"},1]'),
    "date-without-time": ("last_seen_at", '[{"dt":"2026-01-02"},1]'),
    "year-1-east-of-utc": ("joined_at", '[{"dt":"0001-01-01T00:00:00+14:00"},1]'),
    "year-9999-west-of-utc": ("joined_at", '[{"dt":"9999-12-31T23:59:59-12:00"},1]'),
    "year-0": ("joined_at", '[{"dt":"0000-01-01T00:00:00+00:00"},1]'),
    "datetime-not-text": ("joined_at", '[{"dt":5},1]'),
    "datetime-with-another-key": ("joined_at", '[{"dt":"2026-01-02T00:00:00+00:00","x":1},1]'),
    "pk-beyond-bigint": ("name", f'["Ann",{2**63}]'),
    "pk-huge": ("name", f'["Ann",{10**30}]'),
    "pk-negative": ("name", '["Ann",-5]'),
    "pk-zero": ("name", '["Ann",0]'),
    "pk-boolean": ("name", '["Ann",true]'),
    "pk-float": ("name", '["Ann",1.5]'),
    "pk-text": ("name", '["Ann","1"]'),
    "three-items": ("name", '["Ann",1,2]'),
    "an-object": ("name", '{"a":1}'),
    "nested-deeper-than-the-decoder-goes": ("name", "[" * 1500),
    "not-json": ("name", "Ann,1"),
}


@pytest.mark.parametrize("direction", ["after", "before"])
@pytest.mark.parametrize(("sort", "raw"), FORGED.values(), ids=FORGED.keys())
def test_a_forged_cursor_shows_the_first_page(alice_client, community, three, direction, sort, raw):
    response = alice_client.get(list_url(community, sort=sort, **{direction: cursor(raw)}))
    assert response.status_code == 200
    page = response.context["page"]
    assert [m.name for m in page.rows] == ["Ann", "Bob", "Cat"]
    # The first page has nothing before it (a page read after a cursor would have a link
    # back), and here nothing after it (one read before a cursor would link forward).
    assert (page.previous_cursor, page.next_cursor) == (None, None)


def test_a_forged_cursor_is_refused_before_the_database_is_asked(alice_client, community, three):
    """The first page is read once: the forged cursor did not cost a count and a read first."""
    forged = cursor(FORGED["huge-decimal"][1])
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(list_url(community, sort="engagement_score", after=forged))
    assert [m.name for m in response.context["page"].rows] == ["Ann", "Bob", "Cat"]
    member_reads = [q["sql"] for q in queries if 'FROM "members_member"' in q["sql"]]
    assert sum("COUNT(" in sql for sql in member_reads) == 1, member_reads


@pytest.mark.parametrize(
    "text", ["%%%garbage", "ÿÿÿ", "x" * (MAX_CURSOR_LENGTH + 1), cursor('["Ann",1]')[:-4]]
)
def test_a_cursor_that_is_not_base64_json_shows_the_first_page(
    alice_client, community, three, text
):
    response = alice_client.get(list_url(community, sort="name", after=text))
    assert response.status_code == 200
    assert [m.name for m in response.context["page"].rows] == ["Ann", "Bob", "Cat"]
    assert response.context["page"].previous_cursor is None


def test_a_cursor_longer_than_the_bound_is_refused_before_it_is_decoded():
    fits = cursor(f'["{"x" * 200}",1]')
    assert decode_cursor(fits, column("name"), nullable=False) == ("x" * 200, 1)
    padded = fits + "=" * (MAX_CURSOR_LENGTH - len(fits) + 1)  # decodes the same, but too long
    with pytest.raises(BadCursor):
        decode_cursor(padded, column("name"), nullable=False)


@pytest.mark.parametrize("key", [c.key for c in table.columns()])
def test_the_cursors_of_every_column_page_forward_and_back(
    alice_client, community, three, settings, key
):
    """Real cursors pass the checks: page 2 of 3 follows page 1, and leads back to it."""
    settings.MEMBERS_PAGE_SIZE = 1
    first = alice_client.get(list_url(community, sort=key)).context["page"]
    second = alice_client.get(list_url(community, sort=key, after=first.next_cursor))
    page = second.context["page"]
    assert [m.name for m in page.rows] == ["Bob"]
    back = alice_client.get(list_url(community, sort=key, before=page.previous_cursor))
    assert [m.name for m in back.context["page"].rows] == ["Ann"]
    # Cat has no score: past the scored members, a cursor holds the NULL.
    third = alice_client.get(list_url(community, sort=key, after=page.next_cursor))
    assert [m.name for m in third.context["page"].rows] == ["Cat"]


@pytest.mark.parametrize("key", [c.key for c in table.columns()])
def test_the_longest_value_of_every_column_fits_in_a_cursor(key):
    """MAX_CURSOR_LENGTH holds the longest cursor any sortable column writes (text made of
    characters JSON escapes as two \\uXXXX), so a real cursor is never refused as too long."""
    field = column(key)
    if isinstance(field, models.DateTimeField):
        longest = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    elif isinstance(field, models.DecimalField):
        longest = -Decimal("9" * field.max_digits).scaleb(-field.decimal_places)
    else:
        longest = "\U0001f600" * field.max_length
    written = encode_cursor(longest, MAX_PK)
    assert len(written) <= MAX_CURSOR_LENGTH
    assert decode_cursor(written, field, nullable=True) == (longest, MAX_PK)


def test_cursor_round_trip():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    joined, name, score = column("joined_at"), column("name"), column("engagement_score")
    assert decode_cursor(encode_cursor(when, 7), joined, nullable=True) == (when, 7)
    assert decode_cursor(encode_cursor("O'Brien", 8), name, nullable=False) == ("O'Brien", 8)
    assert decode_cursor(encode_cursor(None, 9), joined, nullable=True) == (None, 9)
    assert decode_cursor(encode_cursor(Decimal("1.25"), 10), score, nullable=True) == (
        Decimal("1.25"),
        10,
    )


def test_datetimes_at_the_ends_of_the_calendar_are_read_in_utc():
    joined = column("joined_at")
    tokyo = timezone(timedelta(hours=9))
    for moment in (
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, 9, tzinfo=tokyo),  # 0001-01-01T00:00Z
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ):
        value, _pk = decode_cursor(encode_cursor(moment, 1), joined, nullable=True)
        assert value == moment
        assert value.utcoffset() == timedelta(0)
    with pytest.raises(BadCursor):  # 0000-12-31T15:00Z: before year 1
        decode_cursor(encode_cursor(datetime(1, 1, 1, tzinfo=tokyo), 1), joined, nullable=True)


def test_a_column_paging_does_not_know_is_a_programming_error():
    with pytest.raises(ImproperlyConfigured):
        decode_cursor(cursor('[{"a":1},1]'), Member._meta.get_field("attributes"), nullable=False)
