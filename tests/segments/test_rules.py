"""The rule engine without a database (docs/rules.md): every operator of every field kind."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Q
from hypothesis import given, settings
from hypothesis import strategies as st

from segments.rules import (
    Condition,
    Group,
    Relative,
    RuleError,
    ago,
    describe,
    dump,
    fields_used,
    matches,
    parse,
    segments_used,
    shift_months,
    to_q,
)

AS_OF = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")


def cond(field, op, value=None):
    data = {"field": field, "op": op}
    if value is not None:
        data["value"] = value
    return {"all": [data]}


def check(field, op, value, facts, *, as_of=AS_OF, tz="UTC"):
    rule = parse(cond(field, op, value))
    return matches(rule, facts, as_of=as_of, tz=tz)


# --- Text ---------------------------------------------------------------------------------------

TEXT_CASES = [
    # (op, value, stored, expected)
    ("is", "Acme", "Acme", True),
    ("is", "acme", "ACME", True),
    ("is", "  Acme  ", "acme", True),  # the value is trimmed
    ("is", "Acme", " Acme", False),  # the stored text is compared as stored
    ("is", "Acme", "Acme Inc", False),
    ("is", "Acme", "", False),
    ("is_not", "Acme", "acme", False),
    ("is_not", "Acme", "Globex", True),
    ("is_not", "Acme", "", True),  # empty text matches is_not
    ("contains", "designer", "Senior Product DESIGNER", True),
    ("contains", " designer ", "Product Designer", True),
    ("contains", "designer", "Engineer", False),
    ("contains", "designer", "", False),
    ("not_contains", "designer", "Product Designer", False),
    ("not_contains", "designer", "Engineer", True),
    ("not_contains", "designer", "", True),  # empty text matches not_contains
    ("starts_with", "sen", "Senior Designer", True),
    ("starts_with", "designer", "Senior Designer", False),
    ("starts_with", "sen", "", False),
    ("ends_with", "DESIGNER", "Senior designer", True),
    ("ends_with", "senior", "Senior designer", False),
    ("ends_with", "x", "", False),
    ("is_any_of", ["Austin", " Boston "], "boston", True),
    ("is_any_of", ["Austin", "Boston"], "Austin, TX", False),
    ("is_any_of", ["Austin"], "", False),
    ("is_empty", None, "", True),
    ("is_empty", None, "x", False),
    ("is_empty", None, " ", False),
    ("is_not_empty", None, "", False),
    ("is_not_empty", None, "x", True),
]


@pytest.mark.parametrize(("op", "value", "stored", "expected"), TEXT_CASES)
@pytest.mark.parametrize(
    "field", ["name", "email", "company_name", "job_title", "location", "city", "country", "bio"]
)
def test_text_operators(field, op, value, stored, expected):
    assert check(field, op, value, {field: stored}) is expected


@pytest.mark.parametrize(("op", "value", "stored", "expected"), TEXT_CASES)
def test_attribute_operators(op, value, stored, expected):
    assert check("attributes.team", op, value, {"attributes": {"team": stored}}) is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("is_empty", None, True),
        ("is_not_empty", None, False),
        ("is", "x", False),
        ("is_not", "x", True),
        ("contains", "x", False),
        ("not_contains", "x", True),
    ],
)
@pytest.mark.parametrize("attributes", [{}, {"team": None}, {"other": "x"}, None])
def test_missing_attribute_is_empty_text(attributes, op, value, expected):
    assert check("attributes.team", op, value, {"attributes": attributes}) is expected


def test_missing_text_fact_is_empty():
    assert check("city", "is_empty", None, {}) is True
    assert check("city", "is_not", "Austin", {}) is True


# --- Numbers ------------------------------------------------------------------------------------

NUMBER_CASES = [
    ("eq", 2, Decimal("2.00"), True),
    ("eq", 2, Decimal("2.01"), False),
    ("ne", 2, Decimal("2.00"), False),
    ("ne", 2, Decimal("1.99"), True),
    ("gt", 2, Decimal("2.00"), False),
    ("gt", 2, Decimal("2.01"), True),
    ("gte", 2, Decimal("2.00"), True),
    ("gte", 2, Decimal("1.99"), False),
    ("lt", 1, Decimal("0.99"), True),
    ("lt", 1, Decimal("1.00"), False),
    ("lte", 1, Decimal("1.00"), True),
    ("lte", 1, Decimal("1.01"), False),
    ("between", [1, 2], Decimal("1.00"), True),
    ("between", [1, 2], Decimal("2.00"), True),
    ("between", [1, 2], Decimal("2.01"), False),
    ("between", [1, 2], Decimal("0.99"), False),
    ("gt", "1.5", Decimal("1.51"), True),
    ("gt", 1.5, Decimal("1.50"), False),
    # Members without scores have 0.
    ("lt", 1, None, True),
    ("eq", 0, None, True),
    ("gt", 0, None, False),
    ("ne", 0, None, False),
    ("gte", 0, None, True),
    ("between", [0, 1], None, True),
    ("between", [0.5, 1], None, False),
]


@pytest.mark.parametrize(("op", "value", "stored", "expected"), NUMBER_CASES)
@pytest.mark.parametrize(
    "field", ["frequency_score", "recency_score", "impact_score", "engagement_score"]
)
def test_score_operators(field, op, value, stored, expected):
    assert check(field, op, value, {field: stored}) is expected


@pytest.mark.parametrize(
    ("op", "value", "stored", "expected"),
    [
        ("eq", 3, 3, True),
        ("ne", 3, 3, False),
        ("gt", 3, 4, True),
        ("gte", 3, 3, True),
        ("lt", 3, 3, False),
        ("lte", 3, 3, True),
        ("between", [3, 5], 5, True),
        ("lt", 1, None, True),
    ],
)
def test_active_days(op, value, stored, expected):
    assert check("active_days_90", op, value, {"active_days_90": stored}) is expected


# --- Dates --------------------------------------------------------------------------------------


def at(*args, tz=UTC):
    return datetime(*args, tzinfo=tz)


DATE_CASES = [
    ("before", "2026-06-01", at(2026, 5, 31, 23, 59, 59), True),
    ("before", "2026-06-01", at(2026, 6, 1), False),
    ("after", "2026-06-01", at(2026, 6, 1, 23, 59, 59), False),
    ("after", "2026-06-01", at(2026, 6, 2), True),
    ("on", "2026-06-01", at(2026, 6, 1), True),
    ("on", "2026-06-01", at(2026, 6, 1, 23, 59, 59, 999999), True),
    ("on", "2026-06-01", at(2026, 6, 2), False),
    ("on", "2026-06-01", at(2026, 5, 31, 23, 59, 59), False),
    ("between", ["2026-06-01", "2026-06-03"], at(2026, 6, 1), True),
    ("between", ["2026-06-01", "2026-06-03"], at(2026, 6, 3, 23, 59), True),
    ("between", ["2026-06-01", "2026-06-03"], at(2026, 6, 4), False),
    ("between", ["2026-06-01", "2026-06-03"], at(2026, 5, 31, 23, 59), False),
    ("between", ["2026-06-01", "2026-06-01"], at(2026, 6, 1, 12), True),
    # as_of is 2026-03-31 15:00 UTC
    ("within_last", {"amount": 7, "unit": "days"}, at(2026, 3, 24, 15), True),
    ("within_last", {"amount": 7, "unit": "days"}, at(2026, 3, 24, 14, 59), False),
    ("within_last", {"amount": 7, "unit": "days"}, AS_OF, True),
    ("within_last", {"amount": 7, "unit": "days"}, at(2026, 3, 31, 15, 0, 1), False),
    ("within_last", {"amount": 2, "unit": "weeks"}, at(2026, 3, 17, 15), True),
    ("within_last", {"amount": 2, "unit": "weeks"}, at(2026, 3, 17, 14), False),
    # Mar 31 - 1 month = Feb 28 (2026 is not a leap year)
    ("within_last", {"amount": 1, "unit": "months"}, at(2026, 2, 28, 15), True),
    ("within_last", {"amount": 1, "unit": "months"}, at(2026, 2, 28, 14, 59), False),
    ("more_than_ago", {"amount": 30, "unit": "days"}, at(2026, 3, 1, 14, 59), True),
    ("more_than_ago", {"amount": 30, "unit": "days"}, at(2026, 3, 1, 15), False),
    ("more_than_ago", {"amount": 1, "unit": "months"}, at(2026, 2, 28, 14, 59), True),
    ("more_than_ago", {"amount": 1, "unit": "months"}, at(2026, 2, 28, 15), False),
    ("is_empty", None, None, True),
    ("is_empty", None, at(2026, 1, 1), False),
    ("is_not_empty", None, None, False),
    ("is_not_empty", None, at(2026, 1, 1), True),
]


@pytest.mark.parametrize(("op", "value", "stored", "expected"), DATE_CASES)
@pytest.mark.parametrize("field", ["joined_at", "last_seen_at"])
def test_date_operators(field, op, value, stored, expected):
    assert check(field, op, value, {field: stored}) is expected


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("before", "2099-01-01"),
        ("after", "1999-01-01"),
        ("on", "2026-01-01"),
        ("between", ["1999-01-01", "2099-01-01"]),
        ("within_last", {"amount": 1200, "unit": "months"}),
        ("more_than_ago", {"amount": 1, "unit": "days"}),
    ],
)
def test_empty_date_matches_only_is_empty(op, value):
    assert check("last_seen_at", op, value, {"last_seen_at": None}) is False
    assert check("last_seen_at", op, value, {}) is False


CHICAGO_CASES = [
    # Chicago is UTC-6 in January: the day 2026-01-15 runs from 06:00 UTC to 06:00 UTC.
    ("before", "2026-01-15", at(2026, 1, 15, 5, 59), True),
    ("before", "2026-01-15", at(2026, 1, 15, 6), False),
    ("on", "2026-01-15", at(2026, 1, 15, 6), True),
    ("on", "2026-01-15", at(2026, 1, 16, 5, 59), True),
    ("on", "2026-01-15", at(2026, 1, 16, 6), False),
    ("on", "2026-01-15", at(2026, 1, 15, 5, 59), False),
    ("after", "2026-01-15", at(2026, 1, 16, 5, 59), False),
    ("after", "2026-01-15", at(2026, 1, 16, 6), True),
    # UTC-5 in July
    ("before", "2026-07-01", at(2026, 7, 1, 4, 59), True),
    ("before", "2026-07-01", at(2026, 7, 1, 5), False),
    # 2026-03-08 is the spring-forward day: 23 hours, 06:00 UTC to 05:00 UTC
    ("on", "2026-03-08", at(2026, 3, 9, 4, 59), True),
    ("on", "2026-03-08", at(2026, 3, 9, 5), False),
    ("between", ["2026-03-07", "2026-03-08"], at(2026, 3, 7, 6), True),
    ("between", ["2026-03-07", "2026-03-08"], at(2026, 3, 7, 5, 59), False),
]


@pytest.mark.parametrize(("op", "value", "stored", "expected"), CHICAGO_CASES)
def test_dates_in_the_community_timezone(op, value, stored, expected):
    assert check("joined_at", op, value, {"joined_at": stored}, tz="America/Chicago") is expected


def test_the_timezone_changes_the_answer():
    stored = {"joined_at": at(2026, 1, 15, 3)}  # the evening of Jan 14 in Chicago
    assert check("joined_at", "on", "2026-01-15", stored) is True
    assert check("joined_at", "on", "2026-01-15", stored, tz="America/Chicago") is False


def test_relative_dates_follow_the_local_wall_clock_across_dst():
    # 2026-03-10 12:00 in Chicago (CDT) minus 3 days is 2026-03-07 12:00 CST: 71 hours earlier.
    as_of = datetime(2026, 3, 10, 12, tzinfo=CHICAGO)
    assert ago(as_of, Relative(3, "days"), CHICAGO) == datetime(2026, 3, 7, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2026, 1, 31), 3, date(2026, 4, 30)),
        (date(2026, 1, 31), 12, date(2027, 1, 31)),
        (date(2026, 1, 31), -2, date(2025, 11, 30)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 2, 29), -12, date(2023, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
    ],
)
def test_month_arithmetic(moment, months, expected):
    start = datetime(moment.year, moment.month, moment.day, 9, 30, tzinfo=UTC)
    assert shift_months(start, months) == datetime(
        expected.year, expected.month, expected.day, 9, 30, tzinfo=UTC
    )


def test_within_last_month_in_a_leap_year():
    as_of = datetime(2024, 3, 31, 12, tzinfo=UTC)
    rule = parse(cond("joined_at", "within_last", {"amount": 1, "unit": "months"}))
    assert matches(rule, {"joined_at": datetime(2024, 2, 29, 12, tzinfo=UTC)}, as_of=as_of)
    assert not matches(rule, {"joined_at": datetime(2024, 2, 29, 11, tzinfo=UTC)}, as_of=as_of)


# --- Identities and segments --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "sources", "expected"),
    [
        ("is", "slack", {"slack", "csv"}, True),
        ("is", " Slack ", {"slack"}, True),
        ("is", "slack", {"csv"}, False),
        ("is", "slack", set(), False),
        ("is_not", "slack", {"slack"}, False),
        ("is_not", "slack", {"csv"}, True),
        ("is_not", "slack", set(), True),
    ],
)
def test_source(op, value, sources, expected):
    assert check("source", op, value, {"sources": sources}) is expected


@pytest.mark.parametrize(
    ("op", "segments", "expected"),
    [("in", {3, 4}, True), ("in", {4}, False), ("not_in", {3}, False), ("not_in", set(), True)],
)
def test_segment(op, segments, expected):
    assert check("segment", op, 3, {"segments": segments}) is expected


# --- Groups -------------------------------------------------------------------------------------


def test_empty_all_matches_everyone_and_empty_any_no_one():
    assert matches(parse({"all": []}), {}, as_of=AS_OF)
    assert not matches(parse({"any": []}), {}, as_of=AS_OF)


def test_nested_groups_three_levels():
    rule = parse(
        {
            "all": [
                {"field": "company_name", "op": "is", "value": "Acme"},
                {
                    "any": [
                        {"field": "job_title", "op": "contains", "value": "designer"},
                        {
                            "all": [
                                {"field": "city", "op": "is", "value": "Austin"},
                                {"field": "impact_score", "op": "gt", "value": 2},
                            ]
                        },
                    ]
                },
            ]
        }
    )
    base = {"company_name": "Acme", "job_title": "Engineer", "city": "Austin"}
    assert matches(rule, base | {"impact_score": Decimal("2.5")}, as_of=AS_OF)
    assert not matches(rule, base | {"impact_score": Decimal("2")}, as_of=AS_OF)
    assert matches(rule, base | {"job_title": "UX designer", "city": ""}, as_of=AS_OF)
    assert not matches(
        rule, base | {"company_name": "Globex", "job_title": "Designer"}, as_of=AS_OF
    )
    assert describe(rule) == (
        "Company Name is Acme and "
        "(Job Role contains designer or (City is Austin and Impact Score is greater than 2))"
    )


def test_groups_nest_eight_levels_but_not_nine():
    rule: dict = {"all": []}
    for _ in range(7):
        rule = {"any": [rule]}
    assert parse(rule)
    with pytest.raises(RuleError, match=r"^group 1\.1\.1\.1\.1\.1\.1\.1\.1: groups nest at most 8"):
        parse({"all": [rule]})


# --- Size limits --------------------------------------------------------------------------------


def _is_any_of(count, prefix="v"):
    return {"field": "name", "op": "is_any_of", "value": [f"{prefix}{i}" for i in range(count)]}


def test_a_rule_holds_at_most_100_conditions():
    city = {"field": "city", "op": "is", "value": "Austin"}
    assert len(parse({"any": [city] * 100}).children) == 100
    with pytest.raises(RuleError, match=r"^condition 101 of group 1: .*at most 100 conditions"):
        parse({"any": [city] * 101})
    # Counted across groups, not per group.
    with pytest.raises(RuleError, match=r"^condition 41 of group 1\.2: .*at most 100 conditions"):
        parse({"all": [{"any": [city] * 60}, {"any": [city] * 60}]})


def test_a_rule_holds_at_most_1000_values_in_all():
    two = [_is_any_of(500, "a"), _is_any_of(500, "b")]
    assert parse({"any": two})
    with pytest.raises(RuleError, match=r"^condition 3 of group 1: .*at most 1000 values in all"):
        parse({"any": [*two, {"field": "city", "op": "is", "value": "Austin"}]})
    # The attack that held PostgreSQL: 50 conditions of 500 values each.
    with pytest.raises(RuleError, match=r"^condition 3 of group 1: .*at most 1000 values"):
        parse({"any": [_is_any_of(500, f"c{i}-") for i in range(50)]})


def test_a_rule_holds_at_most_100_groups():
    assert parse({"any": [{"all": []}] * 99})
    with pytest.raises(RuleError, match=r"^group 1\.100: a rule may have at most 100 groups"):
        parse({"any": [{"all": []}] * 100})


def test_a_text_value_holds_at_most_1000_characters():
    assert parse(cond("bio", "contains", "x" * 1000))
    with pytest.raises(RuleError, match=r"the value is longer than 1000 characters"):
        parse(cond("bio", "contains", "x" * 1001))
    with pytest.raises(RuleError, match=r"item 2 is longer than 1000 characters"):
        parse(cond("bio", "is_any_of", ["ok", "x" * 1001]))


def test_is_any_of_drops_values_that_repeat_case_insensitively():
    rule = parse(cond("city", "is_any_of", ["Austin", "AUSTIN", " austin ", "Houston"]))
    assert rule.children[0].value == ("Austin", "Houston")


def test_is_any_of_is_one_in_over_lower_cased_values():
    from members.models import Member

    rule = parse(cond("city", "is_any_of", [f"City {i}" for i in range(500)]))
    sql = str(Member.objects.filter(to_q(rule, as_of=AS_OF)).query)
    assert sql.count(" IN (") == 1
    assert "LOWER(" in sql and "city 499" in sql and "City 499" not in sql


# --- Errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                "all": [
                    {"field": "city", "op": "is", "value": "Austin"},
                    {"field": "impact_score", "op": "greater", "value": 2},
                ]
            },
            "condition 2 of group 1: unknown operator 'greater' for a number field; "
            "use eq, ne, gt, gte, lt, lte or between",
        ),
        (
            {"all": [{"any": [{"field": "city", "op": "is"}]}]},
            "condition 1 of group 1.1: is needs a value",
        ),
        (
            {"all": [{"field": "city", "op": "is_empty", "value": "x"}]},
            "condition 1 of group 1: is_empty takes no value",
        ),
        (
            {"all": [{"field": "city", "op": "is", "value": "   "}]},
            "condition 1 of group 1: the value is empty; use is_empty or is_not_empty for empty "
            "fields",
        ),
        (
            {"all": [{"field": "joined_at", "op": "before", "value": "June 1"}]},
            "condition 1 of group 1: the value must be a date as YYYY-MM-DD, not 'June 1'",
        ),
        (
            {"all": [{"field": "joined_at", "op": "before", "value": "2026-02-30"}]},
            "condition 1 of group 1: the value '2026-02-30' is not a valid date",
        ),
        (
            {"all": [{"field": "impact_score", "op": "gt", "value": True}]},
            "condition 1 of group 1: the value must be a number, not a boolean",
        ),
        (
            {"all": [{"field": "impact_score", "op": "between", "value": [2, 1]}]},
            "condition 1 of group 1: between needs low <= high, got [2, 1]",
        ),
        (
            {"all": [{"field": "joined_at", "op": "within_last", "value": {"amount": 0}}]},
            'condition 1 of group 1: within_last needs {"amount": N, "unit": "days", "weeks" '
            'or "months"}',
        ),
        (
            {
                "all": [
                    {"field": "joined_at", "op": "within_last", "value": {"amount": 3, "unit": "y"}}
                ]
            },
            "condition 1 of group 1: unknown unit 'y'; use days, weeks or months",
        ),
        (
            {"all": [{"field": "city", "op": "is_any_of", "value": []}]},
            "condition 1 of group 1: is_any_of needs a non-empty list of text values",
        ),
        (
            {"all": [{"field": "active_days_90", "op": "gt", "value": 2.5}]},
            "condition 1 of group 1: active_days_90 takes whole numbers",
        ),
        (
            {"all": [{"field": "segment", "op": "in", "value": "mentors"}]},
            "condition 1 of group 1: the value must be a segment id (a positive whole number)",
        ),
        ([], 'the rule: must be a group, {"all": [...]} or {"any": [...]}'),
        (
            {"field": "city", "op": "is", "value": "x"},
            'the rule: must be a group, {"all": [...]} or {"any": [...]}',
        ),
        ({"all": [], "any": []}, 'group 1: a group has exactly one key, "all" or "any"'),
        ({"all": {}}, 'group 1: "all" must be a list, not an object'),
        (
            {"all": [3]},
            'condition 1 of group 1: must be a condition {"field": ..., "op": ..., "value": ...} '
            "or a group, not a number",
        ),
        (
            {"all": [{"field": "city", "op": "is", "value": "x", "extra": 1}]},
            "condition 1 of group 1: unexpected key 'extra'; use field, op and value",
        ),
        (
            {"all": [{"field": "attributes.a-b", "op": "is", "value": "x"}]},
            "condition 1 of group 1: bad attribute name 'attributes.a-b'; after 'attributes.' use "
            "letters, digits and underscores (not only digits)",
        ),
    ],
)
def test_error_messages(data, message):
    with pytest.raises(RuleError) as raised:
        parse(data)
    assert str(raised.value) == message


def test_unknown_field_lists_the_fields():
    with pytest.raises(
        RuleError, match=r"^condition 3 of group 1\.2: unknown field 'salary'; use "
    ):
        parse({"all": [{"all": []}, {"any": [{"all": []}, {"any": []}, {"field": "salary"}]}]})


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), "1e400", "abc", [1], None, {"a": 1}, "0.0000001"]
)
def test_bad_numbers(value):
    with pytest.raises(RuleError):
        parse(
            cond("impact_score", "gt", value)
            if value is not None
            else {"all": [{"field": "impact_score", "op": "gt", "value": None}]}
        )


# --- Round trip, describe, introspection ---------------------------------------------------------

ROUND_TRIP = {
    "any": [
        {"field": "company_name", "op": "is", "value": "Acme"},
        {"field": "city", "op": "is_any_of", "value": ["Austin", "Boston"]},
        {"field": "bio", "op": "is_empty"},
        {"field": "attributes.tshirt", "op": "starts_with", "value": "X"},
        {"field": "impact_score", "op": "gt", "value": 2.5},
        {"field": "frequency_score", "op": "between", "value": [1, 2.25]},
        {"field": "active_days_90", "op": "gte", "value": 10},
        {"field": "joined_at", "op": "within_last", "value": {"amount": 30, "unit": "days"}},
        {"field": "last_seen_at", "op": "between", "value": ["2026-01-01", "2026-02-01"]},
        {"field": "last_seen_at", "op": "before", "value": "2026-06-01"},
        {"all": [{"field": "source", "op": "is", "value": "slack"}]},
        {"all": [{"any": [{"field": "segment", "op": "not_in", "value": 7}]}]},
    ]
}


def test_round_trip():
    rule = parse(ROUND_TRIP)
    assert dump(rule) == ROUND_TRIP
    assert parse(dump(rule)) == rule


def test_parse_normalizes_values():
    rule = parse(
        {
            "all": [
                {"field": "city", "op": "is", "value": "  Austin "},
                {"field": "impact_score", "op": "gt", "value": "2.50"},
                {"field": "joined_at", "op": "on", "value": "2026-01-02"},
            ]
        }
    )
    assert rule == Group(
        "all",
        (
            Condition("city", "is", "Austin"),
            Condition("impact_score", "gt", Decimal("2.5")),
            Condition("joined_at", "on", date(2026, 1, 2)),
        ),
    )
    assert dump(rule)["all"][1]["value"] == 2.5


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (
            {
                "all": [
                    {"field": "company_name", "op": "is", "value": "Acme"},
                    {"field": "job_title", "op": "contains", "value": "designer"},
                ]
            },
            "Company Name is Acme and Job Role contains designer",
        ),
        (
            {
                "any": [
                    {"field": "city", "op": "is_any_of", "value": ["Austin", "Boston", "Lyon"]},
                    {"field": "bio", "op": "not_contains", "value": "bot"},
                    {"field": "email", "op": "is_not_empty"},
                ]
            },
            "City is any of Austin, Boston or Lyon or Bio does not contain bot or Email is not "
            "empty",
        ),
        (
            cond("joined_at", "within_last", {"amount": 30, "unit": "days"}),
            "Joined in the last 30 days",
        ),
        (
            cond("joined_at", "within_last", {"amount": 1, "unit": "months"}),
            "Joined in the last 1 month",
        ),
        (
            cond("last_seen_at", "more_than_ago", {"amount": 2, "unit": "weeks"}),
            "Last Seen more than 2 weeks ago",
        ),
        (cond("last_seen_at", "before", "2026-06-01"), "Last Seen before 2026-06-01"),
        (
            cond("last_seen_at", "between", ["2026-01-01", "2026-02-01"]),
            "Last Seen between 2026-01-01 and 2026-02-01",
        ),
        (cond("impact_score", "gt", 2), "Impact Score is greater than 2"),
        (cond("engagement_score", "between", [1.5, 2]), "Engagement Score is between 1.5 and 2"),
        (cond("active_days_90", "lte", 3), "Active Days (90) is at most 3"),
        (cond("source", "is_not", "slack"), "Source is not slack"),
        (cond("segment", "in", 4), "In segment #4"),
        (cond("attributes.tshirt", "is", "XL"), "tshirt is XL"),
        ({"all": []}, "everyone"),
        ({"any": []}, "no one"),
        ({"all": [{"any": [{"field": "city", "op": "is", "value": "Austin"}]}]}, "City is Austin"),
    ],
)
def test_describe(data, text):
    assert describe(parse(data)) == text


def test_describe_uses_segment_names():
    rule = parse(cond("segment", "not_in", 4))
    assert describe(rule, segment_names={4: "Mentors"}) == "Not in segment Mentors"


def test_fields_and_segments_used():
    rule = parse(ROUND_TRIP)
    assert fields_used(rule) == {
        "company_name",
        "city",
        "bio",
        "attributes.tshirt",
        "impact_score",
        "frequency_score",
        "active_days_90",
        "joined_at",
        "last_seen_at",
        "source",
        "segment",
    }
    assert segments_used(rule) == {7}
    assert segments_used(parse({"all": []})) == set()


def test_to_q_builds_without_a_database():
    q = to_q(parse(ROUND_TRIP), as_of=AS_OF, tz="America/Chicago")
    assert isinstance(q, Q)
    assert q.connector == "OR"


def test_as_of_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        matches(parse({"all": []}), {}, as_of=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone"):
        to_q(parse({"all": []}), as_of=AS_OF, tz="Mars/Olympus")


# --- Arbitrary JSON -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from(
        ["all", "any", "field", "op", "value", "city", "impact_score", "joined_at", "is", "gt"]
    ),
    lambda children: (
        st.lists(children)
        | st.dictionaries(
            st.sampled_from(["all", "any", "field", "op", "value", "amount", "unit"]) | st.text(),
            children,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=500)
@given(json_values)
def test_parse_arbitrary_json_returns_a_group_or_raises_rule_error(data):
    try:
        rule = parse(data)
    except RuleError:
        return
    assert isinstance(rule, Group)
    assert parse(dump(rule)) == rule
    describe(rule)


OPS = {
    "city": ["is", "is_not", "contains", "is_any_of", "is_empty", "bogus"],
    "impact_score": ["gt", "between", "eq", "greater"],
    "joined_at": ["before", "between", "within_last", "is_empty"],
    "source": ["is", "is_not"],
    "segment": ["in", "not_in"],
}
near_values = (
    st.none()
    | st.integers(-3, 5)
    | st.floats(allow_nan=True)
    | st.sampled_from(["", " x ", "2026-01-01", "2026-13-01", "1.5", "abc"])
    | st.lists(st.sampled_from(["2026-01-01", "2026-02-01", 1, 2, "a", None]), max_size=3)
    | st.fixed_dictionaries(
        {
            "amount": st.integers(-1, 3) | st.booleans(),
            "unit": st.sampled_from(["days", "months", "x"]),
        }
    )
)
near_conditions = st.sampled_from(sorted(OPS)).flatmap(
    lambda field: st.fixed_dictionaries(
        {"field": st.just(field), "op": st.sampled_from(OPS[field]), "value": near_values}
    )
)
near_rules = st.recursive(
    near_conditions,
    lambda children: st.dictionaries(
        st.sampled_from(["all", "any"]), st.lists(children), min_size=1
    ),
    max_leaves=10,
)


@settings(max_examples=500)
@given(near_rules)
def test_parse_nearly_valid_rules_returns_a_group_or_raises_rule_error(data):
    try:
        rule = parse(data)
    except RuleError:
        return
    assert parse(dump(rule)) == rule
    assert isinstance(matches(rule, {}, as_of=AS_OF), bool)
    to_q(rule, as_of=AS_OF)
