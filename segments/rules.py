"""The smart-segment rule engine (docs/rules.md), pure.

Nothing here touches the database, a request or the clock: `as_of` (an aware datetime) and the
community's timezone `tz` are parameters. The module only builds `Q` objects; callers run them.

Rule JSON (also the import/export format)::

    {"all": [{"field": "company_name", "op": "is", "value": "Acme"},
             {"any": [{"field": "job_title", "op": "contains", "value": "designer"}, ...]}]}

API
    parse(data) -> Group          validates; raises RuleError naming the condition and why
    dump(rule) -> dict            JSON-ready; parse(dump(rule)) == rule
    to_q(rule, *, as_of, tz)      a Q on Member
    matches(rule, facts, *, as_of, tz)  the same rule evaluated in Python on one member's facts
    describe(rule)                "Company Name is Acme and Job Role contains designer"
    fields_used(rule), segments_used(rule)

Error paths: the top-level group is "group 1"; the items of a group (conditions and groups alike)
are numbered from 1 in order, and a nested group's number extends its parent's with a dot. So
"condition 2 of group 1" is the second item of the rule and "condition 1 of group 1.3" is the
first item of the group that is the third item of the rule. Problems with the whole input say
"the rule".

Choices in detail (docs/rules.md "Semantics" explains them too; the tests pin them):
- Text values are trimmed; an empty value is rejected for is/is_not/contains/... (use is_empty or
  is_not_empty). Stored text is compared as stored, case-insensitively (SQL iexact/icontains; in
  Python `str.lower`, so SQLite matches only ASCII case-insensitively).
- `attributes.<key>`: a missing key or a JSON null counts as empty text. Keys are letters, digits
  and underscores, not all digits (an all-digit key would be read as a JSON array index). Values
  are expected to be strings; others are compared as their JSON text. Known SQLite-only wart:
  Django's SQLite JSON lookups cannot tell the stored text "null" from a JSON null, so there
  that text counts as empty (PostgreSQL and `matches` treat it as the text "null").
- Number values: int, float, Decimal or a numeric string (not bool, finite, at most 10^12, at
  most 6 decimal places); active_days_90 takes whole numbers only. Members without a score row
  count as 0.
- Relative dates subtract on the community's wall clock: N days/weeks back at the same local
  time, or N calendar months back with the day clamped to the month's end (Mar 31 - 1 month is
  Feb 28 or 29). Amounts are capped at about 100 years.
- Source (identity) values compare case-insensitively; segment values are positive ids.
- {"all": []} matches everyone and {"any": []} matches no one.
- Size: at most MAX_DEPTH levels of groups, MAX_CONDITIONS conditions, MAX_VALUES values in all
  (each is_any_of item counts) and MAX_TEXT characters per text value; `is_any_of` drops values
  that repeat case-insensitively and compiles to one `LOWER(field) IN (...)`.
- Multi-valued relations (identities, memberships) are expressed as subqueries (`pk IN (...)`)
  so conditions never share a join and the Q never duplicates members.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Q
from django.db.models.fields.json import KT
from django.db.models.functions import Lower
from django.db.models.lookups import In

__all__ = [
    "FIELDS",
    "Condition",
    "FieldSpec",
    "Group",
    "Relative",
    "RuleError",
    "describe",
    "dump",
    "fields_used",
    "get_field",
    "matches",
    "parse",
    "segments_used",
    "to_q",
]

# The size of a rule is bounded, so no rule (saved, previewed or imported) makes a query that
# holds the database: the preview of a rule of 50 conditions of 500 values each ran 11 minutes.
MAX_DEPTH = 8  # levels of groups, the top-level group included
MAX_CONDITIONS = 100  # conditions in the whole rule
MAX_LIST = 500  # items of one is_any_of
MAX_VALUES = 1_000  # values in the whole rule: each is_any_of item counts, other conditions 1
MAX_TEXT = 1_000  # characters of one text value
MIN_YEAR, MAX_YEAR = 1000, 9000
MAX_AMOUNT = {"days": 36_600, "weeks": 5_220, "months": 1_200}  # about 100 years
MAX_NUMBER = Decimal(10) ** 12
MAX_DECIMALS = 6


class RuleError(ValueError):
    """A rule that cannot be parsed; the message names the condition and why."""


# --- The field registry -------------------------------------------------------------------------

Kind = Literal["text", "number", "date", "identity", "segment"]

OPERATORS: dict[str, tuple[str, ...]] = {
    "text": (
        "is",
        "is_not",
        "contains",
        "not_contains",
        "starts_with",
        "ends_with",
        "is_any_of",
        "is_empty",
        "is_not_empty",
    ),
    "number": ("eq", "ne", "gt", "gte", "lt", "lte", "between"),
    "date": (
        "before",
        "after",
        "on",
        "between",
        "within_last",
        "more_than_ago",
        "is_empty",
        "is_not_empty",
    ),
    "identity": ("is", "is_not"),
    "segment": ("in", "not_in"),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    path: str  # ORM path from Member
    kind: Kind
    label: str
    integer: bool = False  # number fields: whole numbers only
    null_path: str = ""  # number fields: the relation whose absence means 0

    @property
    def operators(self) -> tuple[str, ...]:
        return OPERATORS[self.kind]


def _fields(*specs: FieldSpec) -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in specs}


FIELDS: dict[str, FieldSpec] = _fields(
    FieldSpec("name", "name", "text", "Name"),
    FieldSpec("email", "email", "text", "Email"),
    FieldSpec("company_name", "company_name", "text", "Company Name"),
    FieldSpec("job_title", "job_title", "text", "Job Role"),
    FieldSpec("location", "location", "text", "Location"),
    FieldSpec("city", "city", "text", "City"),
    FieldSpec("country", "country", "text", "Country"),
    FieldSpec("bio", "bio", "text", "Bio"),
    FieldSpec(
        "frequency_score", "score__frequency", "number", "Frequency Score", null_path="score"
    ),
    FieldSpec("recency_score", "score__recency", "number", "Recency Score", null_path="score"),
    FieldSpec("impact_score", "score__impact", "number", "Impact Score", null_path="score"),
    FieldSpec(
        "engagement_score", "score__engagement", "number", "Engagement Score", null_path="score"
    ),
    FieldSpec(
        "active_days_90",
        "score__active_days_90",
        "number",
        "Active Days (90)",
        integer=True,
        null_path="score",
    ),
    FieldSpec("joined_at", "joined_at", "date", "Joined"),
    FieldSpec("last_seen_at", "last_seen_at", "date", "Last Seen"),
    FieldSpec("source", "identities__source", "identity", "Source"),
    FieldSpec("segment", "memberships__segment_id", "segment", "Segment"),
)

ATTRIBUTE_PREFIX = "attributes."
_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_]*[A-Za-z_][A-Za-z0-9_]*")


def get_field(name: str) -> FieldSpec | None:
    """The whitelisted field called `name` (including `attributes.<key>`), or None."""
    if name in FIELDS:
        return FIELDS[name]
    if name.startswith(ATTRIBUTE_PREFIX):
        key = name[len(ATTRIBUTE_PREFIX) :]
        if _ATTRIBUTE_KEY.fullmatch(key):
            return FieldSpec(name, f"attributes__{key}", "text", key)
    return None


# --- The rule -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relative:
    amount: int
    unit: Literal["days", "weeks", "months"]


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class Group:
    kind: Literal["all", "any"]
    children: tuple[Condition | Group, ...] = ()


Rule = Group


# --- parse --------------------------------------------------------------------------------------


def _or_list(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse(data: object) -> Group:
    """Validate rule JSON and build the rule; raise RuleError for anything else."""
    if not isinstance(data, dict) or not _is_group(data):
        raise RuleError('the rule: must be a group, {"all": [...]} or {"any": [...]}')
    return _parse_group(data, "1", 1, _Size())


def _is_group(data: dict) -> bool:
    return "all" in data or "any" in data


@dataclass
class _Size:
    """What a rule holds so far, counted while it is parsed: input far over a limit stops at
    the limit rather than being read whole."""

    groups: int = 0
    conditions: int = 0
    values: int = 0


def _parse_group(data: dict, number: str, depth: int, size: _Size) -> Group:
    where = f"group {number}"
    if len(data) != 1:
        raise RuleError(f'{where}: a group has exactly one key, "all" or "any"')
    ((kind, items),) = data.items()
    if depth > MAX_DEPTH:
        raise RuleError(f"{where}: groups nest at most {MAX_DEPTH} levels deep")
    if not isinstance(items, list):
        raise RuleError(f'{where}: "{kind}" must be a list, not {_type_name(items)}')
    size.groups += 1
    if size.groups > MAX_CONDITIONS:
        raise RuleError(f"{where}: a rule may have at most {MAX_CONDITIONS} groups")
    children: list[Condition | Group] = []
    for index, item in enumerate(items, start=1):
        if isinstance(item, dict) and _is_group(item):
            children.append(_parse_group(item, f"{number}.{index}", depth + 1, size))
            continue
        where_item = f"condition {index} of {where}"
        size.conditions += 1
        if size.conditions > MAX_CONDITIONS:
            raise RuleError(
                f"{where_item}: a rule may have at most {MAX_CONDITIONS} conditions "
                "(a manual segment holds any list of members)"
            )
        condition = _parse_condition(item, where_item)
        size.values += len(condition.value) if condition.op == "is_any_of" else 1
        if size.values > MAX_VALUES:
            raise RuleError(
                f"{where_item}: a rule may have at most {MAX_VALUES} values in all "
                "(a manual segment holds any list of members)"
            )
        children.append(condition)
    return Group(kind, tuple(children))


def _parse_condition(data: object, where: str) -> Condition:
    if not isinstance(data, dict):
        raise RuleError(
            f'{where}: must be a condition {{"field": ..., "op": ..., "value": ...}} '
            f"or a group, not {_type_name(data)}"
        )
    extra = sorted(str(key) for key in data if key not in ("field", "op", "value"))
    if extra:
        raise RuleError(f"{where}: unexpected key {extra[0]!r}; use field, op and value")
    name, op = data.get("field"), data.get("op")
    if not isinstance(name, str) or not name:
        raise RuleError(f'{where}: "field" must name a field')
    spec = get_field(name)
    if spec is None:
        if name.startswith(ATTRIBUTE_PREFIX):
            raise RuleError(
                f"{where}: bad attribute name {name!r}; after 'attributes.' use letters, digits "
                "and underscores (not only digits)"
            )
        raise RuleError(
            f"{where}: unknown field {name!r}; use {_or_list(FIELDS)} or attributes.<key>"
        )
    if not isinstance(op, str):
        raise RuleError(f'{where}: "op" must name an operator; use {_or_list(spec.operators)}')
    if op not in spec.operators:
        raise RuleError(
            f"{where}: unknown operator {op!r} for a {spec.kind} field; "
            f"use {_or_list(spec.operators)}"
        )
    value = _parse_value(spec, op, data.get("value"), "value" in data, where)
    return Condition(name, op, value)


def _parse_value(spec: FieldSpec, op: str, raw: object, present: bool, where: str) -> Any:
    if op in ("is_empty", "is_not_empty"):
        if raw is not None:
            raise RuleError(f"{where}: {op} takes no value")
        return None
    if not present:
        raise RuleError(f"{where}: {op} needs a value")
    parser = _VALUE_PARSERS[spec.kind]
    return parser(spec, op, raw, where)


def _text(raw: object, where: str, what: str = "the value") -> str:
    if not isinstance(raw, str):
        raise RuleError(f"{where}: {what} must be text, not {_type_name(raw)}")
    text = raw.strip()
    if not text:
        raise RuleError(f"{where}: {what} is empty; use is_empty or is_not_empty for empty fields")
    if "\x00" in text:
        raise RuleError(f"{where}: {what} contains a NUL character")
    if len(text) > MAX_TEXT:
        raise RuleError(f"{where}: {what} is longer than {MAX_TEXT} characters")
    return text


def _parse_text(spec: FieldSpec, op: str, raw: object, where: str) -> Any:
    if op == "is_any_of":
        if not isinstance(raw, list) or not raw:
            raise RuleError(f"{where}: is_any_of needs a non-empty list of text values")
        if len(raw) > MAX_LIST:
            raise RuleError(f"{where}: is_any_of takes at most {MAX_LIST} values")
        items = [_text(item, where, f"item {i}") for i, item in enumerate(raw, start=1)]
        return tuple(_unique_folded(items))
    return _text(raw, where)


def _unique_folded(items: Iterable[str]) -> list[str]:
    """The items in order, without those that repeat an earlier one case-insensitively."""
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.lower() not in seen:
            seen.add(item.lower())
            unique.append(item)
    return unique


def _number(spec: FieldSpec, raw: object, where: str, what: str = "the value") -> Decimal | int:
    problem = f"{where}: {what} must be a number, not {_type_name(raw)}"
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | str):
        raise RuleError(problem)
    try:
        number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw).strip())
    except (InvalidOperation, ValueError) as error:
        raise RuleError(problem) from error
    if not number.is_finite() or abs(number) > MAX_NUMBER:
        raise RuleError(f"{where}: {what} must be a finite number of at most 10^12")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
        raise RuleError(f"{where}: {what} may have at most {MAX_DECIMALS} decimal places")
    if spec.integer:
        if number != number.to_integral_value():
            raise RuleError(f"{where}: {spec.name} takes whole numbers")
        return int(number)
    if number == number.to_integral_value():
        return int(number)
    return number


def _pair(raw: object, where: str, kind: str) -> tuple[object, object]:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise RuleError(f"{where}: between needs a list of two {kind}, [low, high]")
    return raw[0], raw[1]


def _parse_number(spec: FieldSpec, op: str, raw: object, where: str) -> Any:
    if op == "between":
        low, high = _pair(raw, where, "numbers")
        pair = (_number(spec, low, where, "low"), _number(spec, high, where, "high"))
        if pair[0] > pair[1]:
            raise RuleError(f"{where}: between needs low <= high, got [{pair[0]}, {pair[1]}]")
        return pair
    return _number(spec, raw, where)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(raw: object, where: str, what: str = "the value") -> date:
    problem = f"{where}: {what} must be a date as YYYY-MM-DD"
    if not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw.strip()):
        raise RuleError(problem + f", not {raw!r}" if isinstance(raw, str) else problem)
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError as error:
        raise RuleError(f"{where}: {what} {raw!r} is not a valid date") from error
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise RuleError(f"{where}: {what} must be a year between {MIN_YEAR} and {MAX_YEAR}")
    return day


def _parse_date(spec: FieldSpec, op: str, raw: object, where: str) -> Any:
    if op in ("within_last", "more_than_ago"):
        shape = f'{where}: {op} needs {{"amount": N, "unit": "days", "weeks" or "months"}}'
        if not isinstance(raw, dict) or set(raw) != {"amount", "unit"}:
            raise RuleError(shape)
        amount, unit = raw["amount"], raw["unit"]
        if unit not in MAX_AMOUNT:
            raise RuleError(f"{where}: unknown unit {unit!r}; use days, weeks or months")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise RuleError(f"{where}: the amount must be a positive whole number")
        if amount > MAX_AMOUNT[unit]:
            raise RuleError(f"{where}: the amount may be at most {MAX_AMOUNT[unit]} {unit}")
        return Relative(amount, unit)
    if op == "between":
        first, last = _pair(raw, where, "dates")
        pair = (_date(first, where, "the first date"), _date(last, where, "the last date"))
        if pair[0] > pair[1]:
            raise RuleError(f"{where}: between needs the earlier date first")
        return pair
    return _date(raw, where)


def _parse_identity(spec: FieldSpec, op: str, raw: object, where: str) -> Any:
    return _text(raw, where, "the source")


def _parse_segment(spec: FieldSpec, op: str, raw: object, where: str) -> Any:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise RuleError(f"{where}: the value must be a segment id (a positive whole number)")
    return raw


_VALUE_PARSERS: dict[str, Callable[[FieldSpec, str, object, str], Any]] = {
    "text": _parse_text,
    "number": _parse_number,
    "date": _parse_date,
    "identity": _parse_identity,
    "segment": _parse_segment,
}


# --- dump ---------------------------------------------------------------------------------------


def _dump_number(value: Decimal | int) -> int | float | str:
    if isinstance(value, int):
        return value
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def _dump_value(value: Any) -> Any:
    if isinstance(value, Relative):
        return {"amount": value.amount, "unit": value.unit}
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _dump_number(value)
    if isinstance(value, tuple):
        return [_dump_value(item) for item in value]
    return value


def dump(rule: Group | Condition) -> dict:
    """The rule as JSON-ready data; `parse(dump(rule)) == rule`."""
    if isinstance(rule, Group):
        return {rule.kind: [dump(child) for child in rule.children]}
    data: dict[str, Any] = {"field": rule.field, "op": rule.op}
    if rule.value is not None:
        data["value"] = _dump_value(rule.value)
    return data


# --- Time helpers -------------------------------------------------------------------------------


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown timezone {tz!r}") from error


def _check_as_of(as_of: datetime) -> None:
    if not isinstance(as_of, datetime) or as_of.utcoffset() is None:
        raise ValueError("as_of must be an aware datetime")


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of `day` in `zone` (skipped midnights resolve to the first real time)."""
    local = datetime(day.year, day.month, day.day, tzinfo=zone)
    return local.astimezone(ZoneInfo("UTC"))


def shift_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole calendar months, the day clamped to the target month's end."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def ago(as_of: datetime, relative: Relative, zone: ZoneInfo) -> datetime:
    """`as_of` minus the relative amount, on the community's wall clock."""
    local = as_of.astimezone(zone)
    if relative.unit == "months":
        shifted = shift_months(local, -relative.amount)
    else:
        days = relative.amount * (7 if relative.unit == "weeks" else 1)
        shifted = local - timedelta(days=days)  # same tzinfo: wall-clock arithmetic
    return shifted.astimezone(ZoneInfo("UTC"))


def _date_bounds(
    op: str, value: Any, as_of: datetime, zone: ZoneInfo
) -> tuple[datetime | None, bool, datetime | None, bool]:
    """(low, low_inclusive, high, high_inclusive) of a date condition; None is unbounded."""
    if op == "before":
        return None, False, start_of_day(value, zone), False
    if op == "after":
        return start_of_day(value + timedelta(days=1), zone), True, None, False
    if op == "on":
        return start_of_day(value, zone), True, start_of_day(value + timedelta(days=1), zone), False
    if op == "between":
        first, last = value
        low, high = start_of_day(first, zone), start_of_day(last + timedelta(days=1), zone)
        return low, True, high, False
    if op == "within_last":
        return ago(as_of, value, zone), True, as_of, True
    if op == "more_than_ago":
        return None, False, ago(as_of, value, zone), False
    raise AssertionError(op)  # pragma: no cover


# --- to_q ---------------------------------------------------------------------------------------

_EVERYONE = Q(pk__isnull=False)
_NO_ONE = Q(pk__in=[])

_TEXT_LOOKUP = {
    "is": "iexact",
    "is_not": "iexact",
    "contains": "icontains",
    "not_contains": "icontains",
    "starts_with": "istartswith",
    "ends_with": "iendswith",
}
_NEGATIVE_TEXT = {"is_not": "is", "not_contains": "contains"}


def to_q(rule: Group, *, as_of: datetime, tz: str = "UTC") -> Q:
    """The rule as a Q on Member, for `as_of` in the community's timezone `tz`."""
    _check_as_of(as_of)
    return _group_q(rule, as_of, _zone(tz))


def _group_q(group: Group, as_of: datetime, zone: ZoneInfo) -> Q:
    if not group.children:
        return _EVERYONE if group.kind == "all" else _NO_ONE
    parts = [
        _group_q(child, as_of, zone)
        if isinstance(child, Group)
        else _condition_q(child, as_of, zone)
        for child in group.children
    ]
    result = Q()
    for part in parts:
        result = (result & part) if group.kind == "all" else (result | part)
    return result


def _subquery_q(lookup: dict[str, Any]) -> Q:
    # A doubly negated filter on a multi-valued relation becomes `pk IN (SELECT ...)`, so
    # conditions on the same relation never share one joined row and members never repeat.
    return ~Q(~Q(**lookup))


def _text_empty_q(spec: FieldSpec) -> Q:
    if spec.path.startswith("attributes__"):
        key = spec.path[len("attributes__") :]
        return (
            ~Q(attributes__has_key=key)
            | Q(**{f"{spec.path}__exact": None})
            | Q(**{f"{spec.path}__exact": ""})
        )
    return Q(**{f"{spec.path}__exact": ""})


def _not_json_null(spec: FieldSpec, q: Q) -> Q:
    # SQLite reads a JSON null attribute as the text 'null'; it is empty text here.
    if spec.path.startswith("attributes__"):
        return q & ~Q(**{f"{spec.path}__exact": None})
    return q


def _condition_q(cond: Condition, as_of: datetime, zone: ZoneInfo) -> Q:
    spec = get_field(cond.field)
    if spec is None:  # only a hand-built Condition can get here
        raise ValueError(f"unknown field {cond.field!r}")
    op, value = cond.op, cond.value
    if spec.kind == "text":
        if op == "is_empty":
            return _text_empty_q(spec)
        if op == "is_not_empty":
            return ~_text_empty_q(spec)
        if op == "is_any_of":
            # One IN over the lower-cased values (matches() compares with str.lower too).
            column = Lower(KT(spec.path) if spec.path.startswith("attributes__") else spec.path)
            return _not_json_null(spec, Q(In(column, sorted({item.lower() for item in value}))))
        positive = _not_json_null(spec, Q(**{f"{spec.path}__{_TEXT_LOOKUP[op]}": value}))
        if op in _NEGATIVE_TEXT:
            # Missing attribute keys are NULL in SQL, and NOT NULL is not true: add them back.
            if spec.path.startswith("attributes__"):
                return ~positive | _text_empty_q(spec)
            return ~positive
        return positive
    if spec.kind == "number":
        path = spec.path
        if op == "between":
            low, high = value
            q = Q(**{f"{path}__gte": low, f"{path}__lte": high})
        elif op == "ne":
            q = Q(**{f"{path}__lt": value}) | Q(**{f"{path}__gt": value})
        else:
            lookup = "exact" if op == "eq" else op
            q = Q(**{f"{path}__{lookup}": value})
        if _compare_number(Decimal(0), op, value):  # no score row counts as 0
            q |= Q(**{f"{spec.null_path}__isnull": True})
        return q
    if spec.kind == "date":
        if op == "is_empty":
            return Q(**{f"{spec.path}__isnull": True})
        if op == "is_not_empty":
            return Q(**{f"{spec.path}__isnull": False})
        low, low_inclusive, high, high_inclusive = _date_bounds(op, value, as_of, zone)
        lookups: dict[str, datetime] = {}
        if low is not None:
            lookups[f"{spec.path}__{'gte' if low_inclusive else 'gt'}"] = low
        if high is not None:
            lookups[f"{spec.path}__{'lte' if high_inclusive else 'lt'}"] = high
        return Q(**lookups)
    if spec.kind == "identity":
        has = {f"{spec.path}__iexact": value}
        return _subquery_q(has) if op == "is" else ~Q(**has)
    if spec.kind == "segment":
        member_of = {spec.path: value}
        return _subquery_q(member_of) if op == "in" else ~Q(**member_of)
    raise AssertionError(spec.kind)  # pragma: no cover


# --- matches ------------------------------------------------------------------------------------


def matches(rule: Group, facts: Mapping[str, Any], *, as_of: datetime, tz: str = "UTC") -> bool:
    """Whether one member, described by `facts`, matches the rule at `as_of`.

    facts: the member's values by field name ("company_name", "joined_at", "frequency_score"...;
    missing text is "", a missing score is 0, a missing date is None), plus "attributes" (dict),
    "sources" (set of identity sources) and "segments" (set of segment ids).
    """
    _check_as_of(as_of)
    return _group_matches(rule, facts, as_of, _zone(tz))


def _group_matches(group: Group, facts: Mapping[str, Any], as_of: datetime, zone: ZoneInfo) -> bool:
    results = (
        _group_matches(child, facts, as_of, zone)
        if isinstance(child, Group)
        else _condition_matches(child, facts, as_of, zone)
        for child in group.children
    )
    return all(results) if group.kind == "all" else any(results)


def _text_fact(spec: FieldSpec, facts: Mapping[str, Any]) -> str:
    if spec.name.startswith(ATTRIBUTE_PREFIX):
        attributes = facts.get("attributes")
        raw = (
            attributes.get(spec.name[len(ATTRIBUTE_PREFIX) :])
            if isinstance(attributes, Mapping)
            else None
        )
    else:
        raw = facts.get(spec.name)
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return raw if isinstance(raw, str) else str(raw)


def _compare_number(fact: Decimal, op: str, value: Any) -> bool:
    if op == "between":
        low, high = value
        return low <= fact <= high
    return {
        "eq": fact == value,
        "ne": fact != value,
        "gt": fact > value,
        "gte": fact >= value,
        "lt": fact < value,
        "lte": fact <= value,
    }[op]


def _condition_matches(
    cond: Condition, facts: Mapping[str, Any], as_of: datetime, zone: ZoneInfo
) -> bool:
    spec = get_field(cond.field)
    if spec is None:
        raise ValueError(f"unknown field {cond.field!r}")
    op, value = cond.op, cond.value
    if spec.kind == "text":
        text = _text_fact(spec, facts)
        folded = text.lower()
        if op == "is_empty":
            return text == ""
        if op == "is_not_empty":
            return text != ""
        if op == "is_any_of":
            return any(folded == item.lower() for item in value)
        needle = value.lower()
        return {
            "is": folded == needle,
            "is_not": folded != needle,
            "contains": needle in folded,
            "not_contains": needle not in folded,
            "starts_with": folded.startswith(needle),
            "ends_with": folded.endswith(needle),
        }[op]
    if spec.kind == "number":
        raw = facts.get(spec.name)
        if isinstance(raw, float):
            raw = repr(raw)
        number = Decimal(0) if raw is None else Decimal(raw)
        return _compare_number(number, op, value)
    if spec.kind == "date":
        moment = facts.get(spec.name)
        if op == "is_empty":
            return moment is None
        if op == "is_not_empty":
            return moment is not None
        if moment is None:
            return False
        if moment.utcoffset() is None:
            raise ValueError(f"{spec.name} must be an aware datetime")
        low, low_inclusive, high, high_inclusive = _date_bounds(op, value, as_of, zone)
        if low is not None and (moment < low or (moment == low and not low_inclusive)):
            return False
        return not (high is not None and (moment > high or (moment == high and not high_inclusive)))
    if spec.kind == "identity":
        sources = {source.lower() for source in facts.get("sources", ())}
        has = value.lower() in sources
        return has if op == "is" else not has
    if spec.kind == "segment":
        member_of = value in facts.get("segments", ())
        return member_of if op == "in" else not member_of
    raise AssertionError(spec.kind)  # pragma: no cover


# --- describe -----------------------------------------------------------------------------------

_TEXT_PHRASES = {
    "is": "is",
    "is_not": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "ends_with": "ends with",
}
_NUMBER_PHRASES = {
    "eq": "is",
    "ne": "is not",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
}


def _amount(relative: Relative) -> str:
    unit = relative.unit[:-1] if relative.amount == 1 else relative.unit
    return f"{relative.amount} {unit}"


def _number_text(value: Decimal | int) -> str:
    return str(value) if isinstance(value, int) else format(value, "f")


def describe(rule: Group, *, segment_names: Mapping[int, str] | None = None) -> str:
    """The rule in words: "Company Name is Acme and (Job Role contains ux or City is Austin)"."""
    return _describe_group(rule, segment_names or {}, top=True)


def _describe_group(group: Group, names: Mapping[int, str], *, top: bool) -> str:
    if not group.children:
        return "everyone" if group.kind == "all" else "no one"
    parts = [
        _describe_group(child, names, top=False)
        if isinstance(child, Group)
        else _describe_condition(child, names)
        for child in group.children
    ]
    text = (" and " if group.kind == "all" else " or ").join(parts)
    return text if top or len(parts) == 1 else f"({text})"


def _describe_condition(cond: Condition, names: Mapping[int, str]) -> str:
    spec = get_field(cond.field)
    label = spec.label if spec else cond.field
    op, value = cond.op, cond.value
    if op == "is_empty":
        return f"{label} is empty"
    if op == "is_not_empty":
        return f"{label} is not empty"
    if spec is None:
        return f"{label} {op} {value}"
    if spec.kind == "text":
        if op == "is_any_of":
            return f"{label} is any of {_or_list(value)}"
        return f"{label} {_TEXT_PHRASES[op]} {value}"
    if spec.kind == "number":
        if op == "between":
            return f"{label} is between {_number_text(value[0])} and {_number_text(value[1])}"
        return f"{label} {_NUMBER_PHRASES[op]} {_number_text(value)}"
    if spec.kind == "date":
        if op == "between":
            return f"{label} between {value[0].isoformat()} and {value[1].isoformat()}"
        if op == "within_last":
            return f"{label} in the last {_amount(value)}"
        if op == "more_than_ago":
            return f"{label} more than {_amount(value)} ago"
        return f"{label} {op} {value.isoformat()}"
    if spec.kind == "identity":
        return f"{label} {'is' if op == 'is' else 'is not'} {value}"
    name = names.get(value, f"#{value}")
    return f"{'In' if op == 'in' else 'Not in'} segment {name}"


# --- Introspection ------------------------------------------------------------------------------


def _conditions(rule: Group) -> Iterable[Condition]:
    for child in rule.children:
        if isinstance(child, Group):
            yield from _conditions(child)
        else:
            yield child


def fields_used(rule: Group) -> set[str]:
    """The names of the fields the rule reads (attributes as "attributes.<key>")."""
    return {cond.field for cond in _conditions(rule)}


def segments_used(rule: Group) -> set[int]:
    """The ids of the segments the rule refers to (for refresh order and cycle checks)."""
    return {cond.value for cond in _conditions(rule) if cond.field == "segment"}
