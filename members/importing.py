"""Import members from a CSV file (README "Importing members").

Two steps, so that the database does the heavy work in a few statements:

1. **Stage.** The file is streamed row by row; each row is read through the manager's mapping
   (members/mapping.py), validated, and written to a staging table (members/staging.py: COPY on
   PostgreSQL). Invalid rows go to the report with their line and reason instead.
2. **Merge**, in one transaction behind the community's import lock (members/locks.py): a few
   set-based statements find each staged row's member (by identity, else by email
   case-insensitively, else by exact name when the row has neither and exactly one member has
   it), report the rows that repeat another, create the new members, update only the members
   whose values change, and attach the new identities. Unless `skip_invalid` is set, one invalid
   row rolls everything back, so a bad file writes nothing.

What a merge writes (the safe-merge policy):
- a column the file does not have, or maps to "ignore", keeps the stored value;
- an empty cell keeps the stored value too, unless the manager chose "empty clears";
- an email that differs from the stored one only in case is not rewritten;
- a date more than a day in the future is an invalid row;
- a row with no external id and no email that no single member's name matches exactly, while
  some members or earlier rows have that name, would create a duplicate: it is skipped and
  reported.
Rows whose member would not change count as unchanged and write nothing.

Columns that are no member field become the member's `attributes`, within bounds: a file has at
most MAX_ATTRIBUTE_COLUMNS of them, each named in at most MAX_ATTRIBUTE_KEY_CHARS characters
(else the file is refused), and a cell of one holds at most MAX_ATTRIBUTE_VALUE_CHARS (else its
row is invalid). A file of 400,000 attribute columns once made a 10 MB profile page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from itertools import islice
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.utils import timezone

from .csv_import import (
    MAX_COLUMNS,
    ImportFileError,
    list_names,
    numbered_records,
    open_table,
    quote,
    read_header,
)
from .locks import import_transaction
from .mapping import (
    ATTRIBUTE,
    CLEAR,
    PREVIEW_ROWS,
    ImportOptions,
    Preview,
    parse_datetime,
    resolve_mapping,
)
from .models import Community, Identity, Member
from .reports import ImportReport
from .staging import StageTable

__all__ = [
    "ALIASES",
    "COLUMNS",
    "ImportFileError",
    "ImportReport",
    "MemberRecords",
    "import_members",
    "merge_member_records",
]

# The fields a column can feed, in the order the Imports page explains them.
COLUMNS: dict[str, str] = {
    "external_id": "The member's id in the source system; with source, re-imports update them.",
    "source": 'Where the id comes from, e.g. "slack" or "discourse" (default "csv").',
    "name": "Full or display name. Each row needs a name or an email.",
    "first_name": "First name; with last_name it makes the name when there is no name column.",
    "last_name": "Last name.",
    "email": "Email address; matches an existing member case-insensitively.",
    "company_name": "Company or organisation.",
    "job_title": "Job title.",
    "location": 'Location as free text, e.g. "Austin, TX".',
    "city": "City.",
    "country": "Country.",
    "bio": "A short biography.",
    "joined_at": "When they joined: ISO 8601, or day-first or month-first as declared.",
    "last_seen_at": "When they were last active, in the same format as joined_at.",
}
# Other names a column may have for each field (compared by mapping.normalize).
ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("external id", "id", "user id", "member id", "uid"),
    "source": ("platform",),
    "name": ("full name", "display name", "member name", "member"),
    "first_name": ("first name", "given name", "forename"),
    "last_name": ("last name", "surname", "family name"),
    "email": ("e-mail", "email address", "e-mail address", "mail"),
    "company_name": ("company", "company name", "organization", "organisation", "employer"),
    "job_title": ("title", "job title", "position", "role", "job role"),
    "location": ("address",),
    "city": ("town",),
    "country": (),
    "bio": ("biography", "about", "about me"),
    "joined_at": (
        "joined",
        "joined at",
        "join date",
        "date joined",
        "created",
        "created at",
        "signed up",
        "signup date",
        "member since",
        "registered",
    ),
    "last_seen_at": ("last seen", "last seen at", "last active", "last activity", "last login"),
}
TEXT_FIELDS = ("name", "email", "company_name", "job_title", "location", "city", "country", "bio")
DATE_FIELDS = ("joined_at", "last_seen_at")
DEFAULT_SOURCE = "csv"
MAX_ATTRIBUTE_COLUMNS = 100
MAX_ATTRIBUTE_KEY_CHARS = 100
MAX_ATTRIBUTE_VALUE_CHARS = 2_000
# A date this far past the import's start is a mistake (a join date in 2030), not a time zone.
FUTURE_SLACK = timedelta(days=1)

_STAGE_COLUMNS = [
    ("line", "int"),
    ("source", "text"),
    ("external_id", "text"),
    *((name, "text") for name in TEXT_FIELDS),
    ("email_lower", "text"),
    *((name, "timestamp") for name in DATE_FIELDS),
    ("attributes", "json"),  # a JSON merge patch: a value sets the key, null removes it
    # Filled in by the merge:
    ("member_id", "bigint"),
    ("known_identity", "bool"),
    ("action", "text"),  # create, update, invalid, skip
]
_WRITTEN = [name for name, _ in _STAGE_COLUMNS[:-3]]

Progress = Callable[[int], object]


def import_members(
    *,
    community: Community,
    file: IO[bytes],
    skip_invalid: bool = False,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Create or update the community's members from a CSV file opened in binary mode.

    `progress(rows_read)` is called as the rows are read. With `dry_run` everything is done
    and counted, then rolled back: the report says what an import would do with the valid rows
    (it writes nothing at all while any row is invalid, unless `skip_invalid`).
    """
    options = options or ImportOptions()
    report = ImportReport()
    with open_table(file, file_name="", encoding=options.encoding) as reader:
        header = _read_header(reader, options)
        with StageTable(_STAGE_COLUMNS) as stage:
            rows = _staged_rows(numbered_records(reader), header, options, report, stage)
            stage.write(rows, _WRITTEN, on_batch=lambda: progress and progress(report.rows_read))
            stage.index("line")
            with import_transaction(
                community, report, skip_invalid=skip_invalid, dry_run=dry_run
            ) as changed:
                stage.plan_for_bulk(report.rows_read)
                changed.update(_Merge(community, header, options, stage, report).run())
    return report


def preview_members(*, community: Community, file: IO[bytes], options: ImportOptions) -> Preview:
    """The header and the first PREVIEW_ROWS rows as the import would store them; writes
    nothing. Raises ImportFileError as the import would for the header."""
    with open_table(file, file_name="", encoding=options.encoding) as reader:
        header = _read_header(reader, options)
        fields = [*header.member_fields]
        if "external_id" in header.fields:
            fields[:0] = ["source", "external_id"]
        attribute_columns = [
            c for c, t in zip(header.columns, header.targets, strict=True) if t == ATTRIBUTE
        ]
        latest = timezone.now() + FUTURE_SLACK
        rows = []
        for line, cells in islice(numbered_records(reader), PREVIEW_ROWS):
            values, problems = _parse_row(cells, header, options, latest)
            shown = []
            if values:
                stored = dict(zip(_VALUE_NAMES, values, strict=True))
                patch = json.loads(stored["attributes"] or "{}")
                for name in fields:
                    shown.append(_shown(stored[name]))
                shown += [_shown(patch.get(column)) for column in attribute_columns]
            rows.append((line, shown, "; ".join(problems)))
    return Preview(
        columns=header.columns,
        mapping=dict(zip(header.columns, header.targets, strict=True)),
        fields=(*fields, *(f"attributes.{column}" for column in attribute_columns)),
        rows=rows,
    )


def _shown(value: object) -> str:
    """A staged value as the preview shows it: None is a cell that keeps the stored value."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


@dataclass(frozen=True)
class MemberRecords:
    """Members that an importer of another format (a platform's export) read, as rows of text
    cells: `fields` name the member fields of the cells, in order (COLUMNS, with "source" and
    "external_id" for an identity), then one cell per name of `attributes` (kept in
    Member.attributes under that name). Dates are ISO 8601. An empty cell keeps the stored
    value, as in a members file."""

    fields: Sequence[str]
    attributes: Sequence[str]
    rows: Iterable[tuple[int, list[str]]]  # (line, cells): line numbers the report's entries


def merge_member_records(
    *, community: Community, records: MemberRecords, report: ImportReport
) -> list[int]:
    """Validate and merge `records` into the community's members exactly as a members file's
    rows are (the safe-merge policy above); the ids of the members created or updated.

    Runs in the caller's transaction, which must hold the community's import lock; the caller
    sends members_changed once its import is complete, and rolls back when it should."""
    if unknown := [name for name in records.fields if name not in COLUMNS]:
        raise ValueError(f"not member fields: {', '.join(unknown)}")
    header = _Header(
        (*records.fields, *records.attributes),
        (*records.fields, *(ATTRIBUTE for _ in records.attributes)),
    )
    options = ImportOptions()
    with StageTable(_STAGE_COLUMNS) as stage:
        stage.write(_staged_rows(records.rows, header, options, report, stage), _WRITTEN)
        stage.index("line")
        stage.plan_for_bulk(report.rows_read)
        return _Merge(community, header, options, stage, report).run()


# Reading and validating ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    columns: tuple[str, ...]
    targets: tuple[str, ...]  # what each column feeds: a field, IGNORE or ATTRIBUTE

    @cached_property
    def field_cells(self) -> tuple[tuple[int, str], ...]:
        """(position, field) of the columns that feed a field."""
        return tuple((i, t) for i, t in enumerate(self.targets) if t in COLUMNS)

    @cached_property
    def attribute_cells(self) -> tuple[tuple[int, str], ...]:
        """(position, column) of the columns kept as attributes."""
        return tuple((i, self.columns[i]) for i, t in enumerate(self.targets) if t == ATTRIBUTE)

    @property
    def fields(self) -> set[str]:
        return {target for target in self.targets if target in COLUMNS}

    @property
    def member_fields(self) -> list[str]:
        """The Member fields this file writes."""
        names = self.fields | ({"name"} if self.fields & {"first_name", "last_name"} else set())
        return [name for name in (*TEXT_FIELDS, *DATE_FIELDS) if name in names]

    @property
    def has_attributes(self) -> bool:
        return ATTRIBUTE in self.targets


def _read_header(reader: Any, options: ImportOptions) -> _Header:
    columns = read_header(reader, ())
    try:
        mapping = resolve_mapping(columns, ALIASES, options.mapping, unknown=ATTRIBUTE)
    except ValueError as exc:
        raise ImportFileError(f"The mapping does not fit the file: {exc}.") from None
    header = _Header(columns, tuple(mapping[column] for column in columns))
    attribute_columns = [c for c, t in zip(columns, header.targets, strict=True) if t == ATTRIBUTE]
    if len(attribute_columns) > MAX_ATTRIBUTE_COLUMNS:
        raise ImportFileError(
            f"The header (line 1) has {len(attribute_columns):,} columns that would become "
            f"attributes; a members file may have at most {MAX_ATTRIBUTE_COLUMNS}. "
            f"Known columns: {', '.join(COLUMNS)}."
        )
    for position, (column, target) in enumerate(zip(columns, header.targets, strict=True), 1):
        if target == ATTRIBUTE and len(column) > MAX_ATTRIBUTE_KEY_CHARS:
            raise ImportFileError(
                f"Column {position} of the header (line 1) is named in {len(column):,} "
                f"characters; an attribute's name may have at most {MAX_ATTRIBUTE_KEY_CHARS}."
            )
    if len(columns) > MAX_COLUMNS:  # ignored ones too: the mapping form shows each
        raise ImportFileError(
            f"The header (line 1) has {len(columns):,} columns; a file may have at most "
            f"{MAX_COLUMNS}."
        )
    if not header.fields & {"name", "first_name", "last_name", "email"}:
        raise ImportFileError(
            "The first line must be a header naming the columns, with at least a name or an "
            f"email column; found: {list_names(columns)}."
        )
    return header


def _staged_rows(
    records: Iterable[tuple[int, list[str]]],
    header: _Header,
    options: ImportOptions,
    report: ImportReport,
    stage: StageTable,
) -> Iterator[tuple]:
    """Each valid (line, cells) record as the staging table's values; the invalid ones go to
    the report."""
    latest = timezone.now() + FUTURE_SLACK
    for line, cells in records:
        report.rows_read += 1
        values, problems = _parse_row(cells, header, options, latest)
        if problems:
            report.add_error(line, "; ".join(problems))
            continue
        yield (
            line,
            *values[:-3],
            *(stage.value(moment) for moment in values[-3:-1]),
            values[-1],
        )


_VALUE_NAMES = ("source", "external_id", *TEXT_FIELDS, "email_lower", *DATE_FIELDS, "attributes")


def _parse_row(
    cells: list[str], header: _Header, options: ImportOptions, latest: datetime
) -> tuple[tuple, list[str]]:
    """The values of _VALUE_NAMES and the row's problems. The hot loop of an import: kept to
    plain dict and list work per cell."""
    if len(cells) != len(header.columns):
        return (), [f"has {len(cells)} cells but the header has {len(header.columns)}"]
    problems: list[str] = []
    clear = options.blank == CLEAR
    given = {target: cells[index].strip() for index, target in header.field_cells}
    attributes: dict[str, str | None] = {}
    for index, column in header.attribute_cells:
        value = cells[index].strip()
        if value:
            if len(value) > MAX_ATTRIBUTE_VALUE_CHARS:
                problems.append(
                    f"attribute {quote(column)} is longer than "
                    f"{MAX_ATTRIBUTE_VALUE_CHARS:,} characters"
                )
            attributes[column] = value
        elif clear:
            attributes[column] = None  # the merge patch removes it
    if not given.get("name") and (given.get("first_name") or given.get("last_name")):
        given["name"] = f"{given.get('first_name', '')} {given.get('last_name', '')}".strip()
    email = given.get("email", "")
    if not email and not given.get("name"):
        problems.append("needs a name or an email")

    texts: list[str | None] = []
    for name in TEXT_FIELDS:
        value = given.get(name)
        if not value:
            # None keeps the stored value (a new member gets ""); "" clears it.
            texts.append("" if clear and value is not None else None)
            continue
        if len(value) > _MAX_LENGTHS[name]:
            problems.append(f"{name} is longer than {_MAX_LENGTHS[name]} characters")
        texts.append(value)
    if email and not _valid_email(email):
        problems.append(f"email {quote(email)} is not a valid email address")
    dates: list[datetime | None] = []
    for name in DATE_FIELDS:
        try:
            moment = parse_datetime(name, given.get(name, ""), options.date_format)
        except ValueError as exc:
            problems.append(str(exc))
            moment = None
        if moment is not None and moment > latest:
            problems.append(f"{name} {quote(given[name])} is in the future")
        dates.append(moment)
    source, external_id = given.get("source", ""), given.get("external_id", "")
    if source and len(source) > _MAX_LENGTHS["source"]:
        problems.append(f"source is longer than {_MAX_LENGTHS['source']} characters")
    if len(external_id) > _MAX_LENGTHS["external_id"]:
        problems.append(f"external_id is longer than {_MAX_LENGTHS['external_id']} characters")
    if source and not external_id:
        problems.append("source is given without an external_id")
    return (
        source or DEFAULT_SOURCE if external_id else None,
        external_id or None,
        *texts,
        email.lower() or None,
        *dates,
        _encode_json(attributes) if attributes else None,
    ), problems


_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# The common shape of an address, all of which Django's validator accepts: checked first, as
# Django's validator costs more than the rest of a row; anything else is asked of it.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def _valid_email(email: str) -> bool:
    if len(email) <= 254 and _PLAIN_EMAIL.fullmatch(email):
        return True
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


_MAX_LENGTHS: dict[str, int] = {
    **{name: Member._meta.get_field(name).max_length or 10**9 for name in TEXT_FIELDS},
    "source": Identity._meta.get_field("source").max_length or 0,
    "external_id": Identity._meta.get_field("external_id").max_length or 0,
}


# Merging ------------------------------------------------------------------------------------


class _Merge:
    """The set-based statements that merge the staged rows into the community's members."""

    def __init__(
        self,
        community: Community,
        header: _Header,
        options: ImportOptions,
        stage: StageTable,
        report: ImportReport,
    ) -> None:
        self.community = community
        self.header = header
        self.options = options
        self.stage = stage.name
        self.postgres = stage.postgres
        self.report = report
        self.now = timezone.now()

    def run(self) -> list[int]:
        """Merge; the ids of the members created or updated."""
        self._report_repeats()
        self._match()
        self._report_claims()
        created = self._create()
        updated = self._update()
        identified = self._add_identities()
        self._count(created, updated | identified)
        return sorted(created | updated | identified)

    # Each row's member.

    def _match(self) -> None:
        s, community = self.stage, self.community.pk
        self._execute(
            f"UPDATE {s} SET member_id = i.member_id, known_identity = TRUE "
            f"FROM {_table(Identity)} i WHERE i.community_id = %s "
            f"AND i.source = {s}.source AND i.external_id = {s}.external_id",
            [community],
        )
        # The email's holder: the same member, a conflict, or (no identity) the row's member.
        # `email <> ''` lets the partial unique index on (community, lower(email)) serve.
        self._rows(
            f"SELECT {s}.line, {s}.email, {s}.source, {s}.external_id FROM {s} "
            f"JOIN {_table(Member)} m ON m.community_id = %s AND m.email <> '' "
            f"AND LOWER(m.email) = {s}.email_lower "
            f"WHERE {s}.member_id IS NOT NULL AND m.id <> {s}.member_id",
            [community],
            lambda line, email, source, external_id: (
                f"email {quote(email)} belongs to another member than {source} "
                f"external_id {quote(external_id)}"
            ),
        )
        self._execute(
            f"UPDATE {s} SET member_id = m.id FROM {_table(Member)} m "
            f"WHERE {s}.member_id IS NULL AND {s}.action IS NULL AND m.community_id = %s "
            f"AND m.email <> '' AND LOWER(m.email) = {s}.email_lower",
            [community],
        )
        # Neither id nor email: the member of that exact name, when exactly one has it.
        self._execute(
            f"UPDATE {s} SET member_id = named.id FROM ("
            f"SELECT m.name, MIN(m.id) AS id, COUNT(*) AS holders FROM {_table(Member)} m "
            f"WHERE m.community_id = %s AND m.name IN (SELECT name FROM {s} "
            f"WHERE external_id IS NULL AND email_lower IS NULL) GROUP BY m.name) named "
            f"WHERE {s}.member_id IS NULL AND {s}.action IS NULL AND {s}.external_id IS NULL "
            f"AND {s}.email_lower IS NULL AND named.name = {s}.name AND named.holders = 1",
            [community],
        )
        self._skip(
            f"SELECT {s}.line, {s}.name, named.holders FROM {s} JOIN ("
            f"SELECT m.name, COUNT(*) AS holders FROM {_table(Member)} m "
            f"WHERE m.community_id = %s AND m.name IN (SELECT name FROM {s} "
            f"WHERE external_id IS NULL AND email_lower IS NULL) GROUP BY m.name) named "
            f"ON named.name = {s}.name WHERE {s}.member_id IS NULL AND {s}.action IS NULL "
            f"AND {s}.external_id IS NULL AND {s}.email_lower IS NULL AND named.holders > 1",
            [community],
            lambda line, name, holders: (
                f"would create a duplicate: {holders} members are called {quote(name)}; "
                "give the row an email or an external_id"
            ),
        )

    def _report_repeats(self) -> None:
        """Rows that repeat an earlier row's identity or email are invalid."""
        s = self.stage
        for key, label in (
            ("source, external_id", "{source} external_id {external_id}"),
            ("email_lower", "email {email}"),
        ):
            self._rows(
                f"SELECT line, first, email, source, external_id FROM ("
                f"SELECT line, email, source, external_id, "
                f"MIN(line) OVER (PARTITION BY {key}) AS first FROM {s} "
                f"WHERE {key.split(',')[-1].strip()} IS NOT NULL) repeated WHERE line <> first",
                [],
                lambda line, first, email, source, external_id, label=label: (
                    label.format(
                        source=source,
                        external_id=quote(external_id or ""),
                        email=quote(email or ""),
                    )
                    + f" repeats line {first}"
                ),
            )

    def _report_claims(self) -> None:
        """A row that reaches the member an earlier row updates is invalid; a names-only row
        that repeats an earlier names-only row's new member would duplicate it."""
        s = self.stage
        self._rows(
            f"SELECT line, first FROM (SELECT line, "
            f"MIN(line) OVER (PARTITION BY member_id) AS first FROM {s} "
            f"WHERE member_id IS NOT NULL AND action IS NULL) claimed WHERE line <> first",
            [],
            lambda line, first: f"matches the same member as line {first}",
        )
        self._skip(
            f"SELECT line, first FROM (SELECT line, action, "
            f"MIN(line) OVER (PARTITION BY name) AS first FROM {s} "
            f"WHERE member_id IS NULL AND external_id IS NULL AND email_lower IS NULL "
            f"AND action IS NULL) repeated WHERE line <> first",
            [],
            lambda line, first: f"would create a duplicate of the member on line {first}",
        )

    # Writing.

    def _create(self) -> set[int]:
        s, community = self.stage, self.community.pk
        if self.postgres:
            self._execute(
                f"UPDATE {s} SET member_id = fresh.id, action = 'create' FROM ("
                f"SELECT line, NEXTVAL(PG_GET_SERIAL_SEQUENCE('{_table(Member)}', 'id')) AS id "
                f"FROM (SELECT line FROM {s} WHERE member_id IS NULL AND action IS NULL "
                f"ORDER BY line) new) fresh WHERE {s}.line = fresh.line",
                [],
            )
        else:
            self._execute(
                f"UPDATE {s} SET member_id = fresh.base + fresh.n, action = 'create' FROM ("
                f"SELECT line, ROW_NUMBER() OVER (ORDER BY line) AS n, MAX("
                f"COALESCE((SELECT MAX(id) FROM {_table(Member)}), 0), "
                f"COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{_table(Member)}'), 0)"
                f") AS base FROM {s} WHERE member_id IS NULL AND action IS NULL) fresh "
                f"WHERE {s}.line = fresh.line",
                [],
            )
        texts = ", ".join(f"COALESCE({name}, '')" for name in TEXT_FIELDS)
        attributes = (
            "JSONB_STRIP_NULLS(COALESCE(attributes, '{}'::jsonb))"
            if self.postgres
            else "JSON_PATCH('{}', COALESCE(attributes, '{}'))"
        )
        return self._ids(
            f"INSERT INTO {_table(Member)} (id, community_id, {', '.join(TEXT_FIELDS)}, "
            f"{', '.join(DATE_FIELDS)}, avatar_url, attributes, created_at, updated_at) "
            f"SELECT member_id, %s, {texts}, {', '.join(DATE_FIELDS)}, '', {attributes}, %s, %s "
            f"FROM {s} WHERE action = 'create' ORDER BY line RETURNING id",
            [community, self._now, self._now],
        )

    def _update(self) -> set[int]:
        """Update the matched members whose values change; the ids of those."""
        s = self.stage
        assignments = {name: self._new_value(name) for name in self.header.member_fields}
        if self.header.has_attributes:
            assignments["attributes"] = (
                f"JSONB_STRIP_NULLS(m.attributes || COALESCE({s}.attributes, '{{}}'::jsonb))"
                if self.postgres
                else f"JSON_PATCH(m.attributes, COALESCE({s}.attributes, '{{}}'))"
            )
        self._execute(
            f"UPDATE {s} SET action = 'update' WHERE action IS NULL AND member_id IS NOT NULL", []
        )
        if not assignments:
            return set()
        old = {name: f"m.{name}" for name in assignments}
        if not self.postgres and "attributes" in old:
            old["attributes"] = "JSON(m.attributes)"  # as JSON_PATCH writes it
        distinct = "IS DISTINCT FROM" if self.postgres else "IS NOT"
        changed = " OR ".join(f"{old[name]} {distinct} {new}" for name, new in assignments.items())
        sets = ", ".join(f"{name} = {new}" for name, new in assignments.items())
        return self._ids(
            f"UPDATE {_table(Member)} AS m SET {sets}, updated_at = %s FROM {s} "
            f"WHERE {s}.action = 'update' AND m.id = {s}.member_id AND ({changed}) "
            "RETURNING id",
            [self._now],
        )

    def _new_value(self, name: str) -> str:
        """SQL for a field's value after the merge, from the row ({stage}) and the member (m)."""
        s = self.stage
        staged = f"{s}.{name}"
        if name == "email":
            # The same address in other letter case: leave it as stored.
            return (
                f"CASE WHEN {s}.email IS NULL THEN m.email "
                f"WHEN LOWER(m.email) = {s}.email_lower THEN m.email ELSE {s}.email END"
            )
        if self.options.blank == CLEAR and name in DATE_FIELDS:
            return staged
        return f"COALESCE({staged}, m.{name})"

    def _add_identities(self) -> set[int]:
        s = self.stage
        return self._ids(
            f"INSERT INTO {_table(Identity)} (community_id, member_id, source, external_id, "
            f"created_at) SELECT %s, member_id, source, external_id, %s FROM {s} "
            f"WHERE action IN ('create', 'update') AND external_id IS NOT NULL "
            f"AND known_identity IS NULL ORDER BY line RETURNING member_id",
            [self.community.pk, self._now],
        )

    def _count(self, created: set[int], updated: set[int]) -> None:
        matched = self._scalar(f"SELECT COUNT(*) FROM {self.stage} WHERE action = 'update'")
        self.report.created += len(created)
        changed = len(updated - created)
        self.report.updated += changed
        self.report.unchanged += matched - changed

    # Helpers.

    @property
    def _now(self) -> object:
        return self.now if self.postgres else str(self.now.replace(tzinfo=None))

    def _execute(self, sql: str, params: list) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    def _scalar(self, sql: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]

    def _ids(self, sql: str, params: list) -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {row[0] for row in cursor.fetchall()}

    def _rows(self, sql: str, params: list, message: Callable[..., str]) -> None:
        """Report the rows `sql` selects (line first) as invalid, with `message(*row)`."""
        self._mark(sql, params, message, action="invalid", add=self.report.add_error)

    def _skip(self, sql: str, params: list, message: Callable[..., str]) -> None:
        """Skip the rows `sql` selects (line first): reported, not written, not invalid."""
        self._mark(sql, params, message, action="skip", add=self.report.add_skip)

    def _mark(self, sql, params, message, *, action: str, add: Callable[[int, str], None]) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        for row in found:
            add(row[0], message(*row))
        if found:
            lines = [row[0] for row in found]
            for start in range(0, len(lines), 500):
                chunk = lines[start : start + 500]
                marks = ", ".join("%s" for _ in chunk)
                self._execute(
                    f"UPDATE {self.stage} SET action = %s WHERE line IN ({marks}) "
                    "AND (action IS NULL OR action <> 'invalid')",
                    [action, *chunk],
                )


def _table(model: type) -> str:
    return model._meta.db_table
