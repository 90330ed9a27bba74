"""What an import reads from a file: which column feeds which field, how dates are written, what
an empty cell means (README "Imports").

A file's columns are matched to an importer's fields by name and common aliases ("E-mail",
"Organization", "Job Title", "Created At" ...) with `suggest_mapping`; the manager may change any
of them, or ignore a column, before anything is written. `ImportOptions` carries those choices to
the importer, from the Imports page and from the commands (`--map`, `--date-format`, `--blank`).

Dates: ISO 8601 needs no declaration. `01/12/2026` is the 1st of December to a European and
January 12th to an American, so a date written with slashes, dots or dashes before the year is
read only when the manager said which comes first; it is never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .csv_import import ENCODINGS, quote

# What a column may be mapped to besides an importer's fields.
IGNORE = "ignore"
ATTRIBUTE = "attribute"  # kept as an extra attribute, under the column's own name

ISO, DAY_FIRST, MONTH_FIRST = "iso", "day_first", "month_first"
DATE_FORMATS: dict[str, str] = {
    ISO: "ISO 8601 only (2026-12-01)",
    DAY_FIRST: "Day first (01/12/2026 is 1 December)",
    MONTH_FIRST: "Month first (12/01/2026 is 1 December)",
}
KEEP, CLEAR = "keep", "clear"
BLANKS: dict[str, str] = {
    KEEP: "An empty cell keeps the stored value",
    CLEAR: "An empty cell clears the stored value",
}


@dataclass(frozen=True)
class ImportOptions:
    """The manager's choices for one import. `mapping` maps a column, as the header writes it,
    to a field name, IGNORE or ATTRIBUTE; columns it leaves out get `suggest_mapping`'s match."""

    mapping: Mapping[str, str] = field(default_factory=dict)
    date_format: str = ISO
    blank: str = KEEP
    encoding: str = "utf-8"
    # For a file of event attendees without an event column (platforms/events.py): the
    # event's name, and its date for attendances that have no time of their own.
    event: str = ""
    event_date: str = ""

    def __post_init__(self) -> None:
        if self.date_format not in DATE_FORMATS:
            raise ValueError(f"unknown date format {self.date_format!r}")
        if self.blank not in BLANKS:
            raise ValueError(f"unknown blank policy {self.blank!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}")

    def as_json(self) -> dict:
        data = {
            "mapping": dict(self.mapping),
            "date_format": self.date_format,
            "blank": self.blank,
            "encoding": self.encoding,
        }
        for name in ("event", "event_date"):  # written when given, so other jobs' stay as they were
            if value := getattr(self, name):
                data[name] = value
        return data

    @classmethod
    def from_json(cls, data: Mapping) -> ImportOptions:
        return cls(
            mapping=dict(data.get("mapping") or {}),
            date_format=data.get("date_format") or ISO,
            blank=data.get("blank") or KEEP,
            encoding=data.get("encoding") or "utf-8",
            event=data.get("event") or "",
            event_date=data.get("event_date") or "",
        )


@dataclass(frozen=True)
class Preview:
    """The start of a file as an import would read it, for the manager to check the mapping."""

    columns: tuple[str, ...]
    mapping: dict[str, str]  # column -> field, IGNORE or ATTRIBUTE
    fields: tuple[str, ...]  # what the rows show, in order
    rows: list[tuple[int, list[str], str]]  # (line, values of `fields`, problems or "")


PREVIEW_ROWS = 10


def normalize(column: str) -> str:
    """A column name as aliases are compared: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]+", "", column.casefold())


def suggest_mapping(
    columns: Iterable[str], aliases: Mapping[str, Iterable[str]], *, unknown: str
) -> dict[str, str]:
    """Each column's field: the field it names or an alias of it names (by `normalize`), else
    `unknown`. A field is given to the first column that names it; a later one gets `unknown`."""
    by_alias = {
        normalize(alias): target for target, names in aliases.items() for alias in (target, *names)
    }
    taken: set[str] = set()
    suggested = {}
    for column in columns:
        target = by_alias.get(normalize(column))
        if target is None or target in taken:
            suggested[column] = unknown
        else:
            suggested[column] = target
            taken.add(target)
    return suggested


def resolve_mapping(
    columns: Iterable[str],
    aliases: Mapping[str, Iterable[str]],
    chosen: Mapping[str, str],
    *,
    unknown: str,
) -> dict[str, str]:
    """The mapping an import uses: the manager's choices over the suggestions.

    Raises ValueError naming the column when a choice is not a field, or two columns feed one.
    """
    columns = list(columns)
    mapping = suggest_mapping(columns, aliases, unknown=unknown)
    allowed = {*aliases, IGNORE, unknown}
    for column, target in chosen.items():
        if column not in mapping:
            raise ValueError(f'the file has no column "{column[:60]}" to map')
        if target not in allowed:
            raise ValueError(f'column "{column[:60]}" cannot be mapped to "{target[:60]}"')
        mapping[column] = target
    fed: dict[str, str] = {}
    for column, target in mapping.items():
        if target in (IGNORE, ATTRIBUTE, unknown):
            continue
        if target in fed:
            raise ValueError(
                f'columns "{fed[target][:60]}" and "{column[:60]}" are both mapped to {target}'
            )
        fed[target] = column
    return mapping


_NUMERIC_DATE = re.compile(
    r"(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-](?P<year>\d{4}|\d{2})"
    r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
)


def parse_datetime(column: str, value: str, date_format: str = ISO) -> datetime | None:
    """An ISO 8601 date or date-time, or with a declared format a day-first or month-first
    date (`01/12/2026`, `1.12.2026 14:30`); no offset means UTC. Empty means unknown.

    Raises ValueError with a message naming the column and the value.
    """
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)  # A date alone gives midnight.
    except (ValueError, OverflowError):
        moment = _numeric_date(column, value, date_format)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{column} {quote(value)} is out of range") from None


def _numeric_date(column: str, value: str, date_format: str) -> datetime:
    match = _NUMERIC_DATE.fullmatch(value)
    if match is None:
        raise ValueError(f"{column} {quote(value)} is not an ISO 8601 date or date-time")
    if date_format == ISO:
        raise ValueError(
            f"{column} {quote(value)} is not ISO 8601: choose day first or month first for "
            "this file's dates"
        )
    a, b = int(match["a"]), int(match["b"])
    day, month = (a, b) if date_format == DAY_FIRST else (b, a)
    year = int(match["year"])
    if len(match["year"]) == 2:
        year += 2000  # "11/29/24", as Eventbrite's reports and Excel write a recent date
    try:
        return datetime(  # noqa: DTZ001 (the caller sets UTC)
            year,
            month,
            day,
            int(match["hour"] or 0),
            int(match["minute"] or 0),
            int(match["second"] or 0),
        )
    except ValueError:
        order = "day/month" if date_format == DAY_FIRST else "month/day"
        raise ValueError(f"{column} {quote(value)} is not a date read as {order}") from None
