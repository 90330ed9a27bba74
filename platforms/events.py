"""Import event attendance from the attendee lists event tools export: a Luma guest CSV, an
Eventbrite attendee report, a Meetup attendee list, or any table like them (README "Importing
event attendance" has the mapping).

A table importer: the manager checks how the columns are read, as for a members file, but each
tool's own export needs no mapping: ALIASES holds each one's column names (the presets), and
the tool is recognised by columns only it writes (`detect_tool`), which names the activities'
source. Each row is one attendee of one event:

- the person is found by email, case-insensitively, or, in a Meetup list, which has no emails,
  by their Meetup identity (the User ID); a person not found becomes a member with the row's
  name. An existing member's name, company and job title are only filled in where empty: an
  event's sign-up form is no better source than the member's own record.
- a registration time gives an `event_registered`, a check-in time an `event_attended`; a tool
  that only says yes or no (Meetup's Attendance, Eventbrite's "Checked In" status) gives an
  attendance dated by the event's date, from the file or from the manager, and none without it
  (the report counts those).
- the event's name, from its column or from the manager for a file of one event (Luma and
  Meetup do not name it), is the activities' title.
- rows of people not attending (declined, not going, cancelled, refunded ...) are skipped, with
  their status in the report.

Two steps, as the members importer (members/importing.py), so that the database does the work:
rows are parsed, validated and staged in a temporary table as the file streams; then, in one
transaction behind the community's import lock, one record per person is merged into the
members (`merge_member_records`, the members file's safe merges), the rows are grouped by event
and person (a repeated row adds nothing: the earliest registration and check-in count), and
the activities are written in chunks (`ActivityWriter`). Their external ids are
`<event>:<person>:<kind>:<time>`, so importing the same list again changes nothing, a later
export of the same event adds only what is new, and two events of the same name (a monthly
meetup) stay apart by their times.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from itertools import islice
from typing import IO, Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.db.models import Model
from django.utils.text import slugify

from engagement.importing import ActivityRow, ActivityWriter
from engagement.models import Activity, ActivityKind
from engagement.tasks import rescore_later
from members.csv_import import (
    MAX_COLUMNS,
    ImportFileError,
    list_names,
    numbered_records,
    open_table,
    quote,
    read_header,
)
from members.importing import MemberRecords, merge_member_records
from members.imports import Importer
from members.locks import import_transaction
from members.mapping import (
    IGNORE,
    PREVIEW_ROWS,
    ImportOptions,
    Preview,
    normalize,
    parse_datetime,
    resolve_mapping,
)
from members.models import Community, Identity, Member
from members.reports import ImportReport
from members.staging import StageTable

SOURCE = "events"  # the activities' source when the file is no known tool's
REGISTERED, ATTENDED = "event_registered", "event_attended"
KINDS = (REGISTERED, ATTENDED)

# The fields a column can feed, in the order the Imports page explains them.
COLUMNS: dict[str, str] = {
    "event": "The event's name, the activities' title. A file of one event (Luma, Meetup) has "
    "none: give the name when you check the file (or --event).",
    "email": "The attendee's email: the member with it in any letter case, else a new member.",
    "user_id": "The attendee's account on the tool when the file has no emails (Meetup's User "
    "ID): the member with that identity, else a new member.",
    "name": "Full name, for a new member (Luma name, Meetup Name).",
    "first_name": "First name; with last_name it makes the name (Eventbrite First Name).",
    "last_name": "Last name.",
    "company_name": "Company, for a member who has none yet.",
    "job_title": "Job title, for a member who has none yet.",
    "status": "Registration status (Luma approval_status, Eventbrite Attendee Status, Meetup "
    "RSVP): declined, not going, cancelled, refunded, deleted ... rows are skipped; checked in "
    "means attended.",
    "registered_at": "When they registered, an event_registered (Luma created_at, Eventbrite "
    "Order Date, Meetup RSVPed on).",
    "checked_in_at": "When they checked in, an event_attended (Luma checked_in_at).",
    "attended": "Yes or no, for a tool that keeps no check-in time (Meetup Attendance): an "
    "event_attended on the event's date.",
    "event_date": "The event's date (Eventbrite Event start date), for attendances without a "
    "time; else the date you give when you check the file.",
    "timezone": "The time zone of times without an offset (Eventbrite Event timezone, e.g. "
    "America/Chicago); else they are UTC.",
}
# Other names a column may have for each field (compared by mapping.normalize): each tool's own.
ALIASES: dict[str, tuple[str, ...]] = {
    "event": ("event name", "event title", "event"),
    "email": ("e-mail", "email address", "attendee email"),
    "user_id": ("user id", "meetup user id", "member id"),
    "name": ("full name", "attendee name", "guest name"),
    "first_name": ("first name", "attendee first name", "given name"),
    "last_name": ("last name", "attendee last name", "surname", "family name"),
    "company_name": ("company", "company name", "organization", "organisation"),
    "job_title": ("job title", "position"),
    "status": (
        "approval status",
        "attendee status",
        "rsvp",
        "rsvp status",
        "registration status",
    ),
    "registered_at": (
        "created at",
        "registered at",
        "registration date",
        "registered on",
        "order date",
        "rsvped on",
        "rsvp date",
    ),
    "checked_in_at": (
        "checked in at",
        "check-in time",
        "check-in date",
        "checked in date",
        "checkin date",
    ),
    "attended": ("attendance", "attended", "checked in", "present"),
    "event_date": ("event date", "event start date", "date of event"),
    "timezone": ("event timezone", "time zone"),
}
# Columns only one tool writes (normalized), to name the activities' source.
TOOLS: tuple[tuple[str, frozenset[str]], ...] = (
    ("luma", frozenset({"qrcodeurl", "approvalstatus"})),
    ("eventbrite", frozenset({"attendeestatus", "eventbritefees", "barcodenumber", "buyeremail"})),
    ("meetup", frozenset({"urlofmemberprofile", "rsvpedon"})),
)
# Statuses (normalized) of people not attending: their rows are skipped.
NOT_ATTENDING = frozenset(
    {
        "declined",  # Luma
        "invited",  # Luma: invited, never registered
        "notgoing",
        "notattending",  # Eventbrite
        "deleted",
        "refunded",
        "refundedcanceled",
        "cancelled",
        "canceled",
        "transferred",
        "no",  # Meetup RSVP
        "rejected",
    }
)
CHECKED_IN = frozenset({"checkedin", "attended"})  # Eventbrite's Attendee Status "Checked In"
YES = frozenset({"y", "yes", "true", "1", "x", "attended", "checkedin", "present"})
NO = frozenset({"", "n", "no", "false", "0", "noshow", "absent", "notattended"})
CHUNK_ROWS = 1_000  # rows read back from the stage at a time
_EVENT_KEY_CHARS = 60

_MEMBER_FIELDS = ("source", "external_id", "name", "email", "company_name", "job_title")
_STAGE_COLUMNS = [
    ("line", "int"),
    ("source", "text"),
    ("user_id", "text"),  # NULL when the row has none
    ("email", "text"),
    ("email_lower", "text"),  # NULL when the row has none
    ("person", "text"),  # the person's key: "email:<email lower>" or "user:<user id>"
    ("name", "text"),
    ("company_name", "text"),
    ("job_title", "text"),
    ("event", "text"),
    ("event_key", "text"),
    ("registered_at", "timestamp"),
    ("attended_at", "timestamp"),
    ("undated", "int"),  # 1: attended, with no time and no event date
    # Filled in by the merge:
    ("first_of_person", "int"),
    ("action", "text"),  # invalid: the person's member record was
]
_WRITTEN = [name for name, _ in _STAGE_COLUMNS[:-2]]
# One row per event and person (what the activities are written from).
_ATTENDANCE_COLUMNS = [
    ("line", "int"),
    ("source", "text"),
    ("user_id", "text"),
    ("email", "text"),
    ("person", "text"),
    ("event", "text"),
    ("event_key", "text"),
    ("registered_at", "timestamp"),
    ("attended_at", "timestamp"),
    ("undated", "int"),
    ("rows", "int"),
]
PREVIEW_FIELDS = (
    "source",
    "event",
    "email",
    "user_id",
    "name",
    "company_name",
    "job_title",
    REGISTERED,
    ATTENDED,
)
NO_DATE = "yes, but no time: give the event's date"

Progress = Callable[[int], object]


def import_events(
    *,
    community: Community,
    file: IO[bytes],
    skip_invalid: bool = False,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import the attendee list in `file` (CSV or XLSX, opened in binary mode) into the
    community's members and activities. With `dry_run` everything is done and counted, then
    rolled back; an invalid row rolls everything back unless `skip_invalid`."""
    options = options or ImportOptions()
    report = ImportReport()
    kinds = _activity_kinds(community)
    with open_table(file, file_name="", encoding=options.encoding) as reader:
        parser = _RowParser(_read_header(reader, options), options)
        if "event" not in parser.header.positions and not parser.event:
            raise ImportFileError(
                "The file has no event column: give the event's name (the Event field when "
                "you check the file, or --event)."
            )
        with (
            StageTable(_STAGE_COLUMNS, prefix="event_stage") as stage,
            StageTable(_ATTENDANCE_COLUMNS, prefix="attendance_stage") as attendance,
        ):
            stage.write(
                _staged_rows(numbered_records(reader), parser, report, stage),
                _WRITTEN,
                on_batch=lambda: progress and progress(report.rows_read),
            )
            stage.index("line")
            stage.index("person")
            with import_transaction(
                community, report, skip_invalid=skip_invalid, dry_run=dry_run
            ) as changed:
                stage.plan_for_bulk(report.rows_read)
                merge = _Merge(community, stage, attendance, kinds, report, parser.not_attending)
                changed.update(merge.run())
    return report


def preview_events(*, community: Community, file: IO[bytes], options: ImportOptions) -> Preview:
    """The header and the first PREVIEW_ROWS rows as the import would read them; writes
    nothing. Raises ImportFileError as the import would for the header."""
    with open_table(file, file_name="", encoding=options.encoding) as reader:
        parser = _RowParser(_read_header(reader, options), options)
        rows: list[tuple[int, list[str], str]] = []
        for line, cells in islice(numbered_records(reader), PREVIEW_ROWS):
            row, problems, skipped = parser.parse(cells)
            if problems or row is None:
                rows.append((line, [], "; ".join(problems) or f"skipped: {skipped}"))
                continue
            attended = _shown(row.attended_at) or (NO_DATE if row.undated else "")
            values = [
                row.source,
                row.event,
                row.email,
                row.user_id or "",
                row.name,
                row.company_name,
                row.job_title,
                _shown(row.registered_at),
                attended,
            ]
            rows.append((line, values, ""))
    header = parser.header
    return Preview(
        columns=header.columns,
        mapping=dict(header.mapping),
        fields=PREVIEW_FIELDS,
        rows=rows,
    )


def detect_tool(columns: Iterable[str]) -> str:
    """The tool that wrote a file with these columns ("luma", "eventbrite", "meetup"), else
    SOURCE."""
    names = {normalize(column) for column in columns}
    for tool, marks in TOOLS:
        if names & marks:
            return tool
    return SOURCE


# Reading and validating ---------------------------------------------------------------------


class _Header(NamedTuple):
    columns: tuple[str, ...]
    mapping: dict[str, str]  # column -> field or IGNORE
    positions: dict[str, int]  # field -> the column's position
    source: str


def _read_header(reader: Any, options: ImportOptions) -> _Header:
    columns = read_header(reader, ())
    if len(columns) > MAX_COLUMNS:
        raise ImportFileError(
            f"The header (line 1) has {len(columns):,} columns; a file may have at most "
            f"{MAX_COLUMNS}."
        )
    try:
        mapping = resolve_mapping(columns, ALIASES, options.mapping, unknown=IGNORE)
    except ValueError as exc:
        raise ImportFileError(f"The mapping does not fit the file: {exc}.") from None
    positions = {
        target: position
        for position, target in enumerate(mapping[column] for column in columns)
        if target != IGNORE
    }
    if not positions.keys() & {"email", "user_id"}:
        raise ImportFileError(
            "The first line must be a header naming the columns, with an email column (or a "
            f"Meetup list's User ID) to find each attendee's member; found: {list_names(columns)}."
        )
    if not positions.keys() & {"registered_at", "checked_in_at", "attended", "status"}:
        raise ImportFileError(
            "The file has no registration time, check-in time or attendance column: map one "
            f"of registered_at, checked_in_at, attended; found: {list_names(columns)}."
        )
    return _Header(columns, mapping, positions, detect_tool(columns))


class _Row(NamedTuple):
    source: str
    user_id: str | None
    email: str
    person: str
    name: str
    company_name: str
    job_title: str
    event: str
    event_key: str
    registered_at: datetime | None
    attended_at: datetime | None
    undated: bool


def _max_length(model: type[Model], name: str) -> int:
    return getattr(model._meta.get_field(name), "max_length", None) or 10**9


_MAX_LENGTHS = {
    "email": _max_length(Member, "email"),
    "name": _max_length(Member, "name"),
    "company_name": _max_length(Member, "company_name"),
    "job_title": _max_length(Member, "job_title"),
    "user_id": _max_length(Identity, "external_id"),
    "event": _max_length(Activity, "title"),
}


class _RowParser:
    """Reads a row's cells as the attendance the import stages, with the row's problems."""

    def __init__(self, header: _Header, options: ImportOptions) -> None:
        self.header = header
        self.width = len(header.columns)
        self.date_format = options.date_format
        self.event = options.event.strip()
        self.event_date: datetime | None = None
        if options.event_date.strip():
            try:
                self.event_date = parse_datetime(
                    "the event date", options.event_date.strip(), self.date_format
                )
            except ValueError as exc:
                raise ImportFileError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
        self.not_attending: Counter[str] = Counter()  # rows skipped, by status as written

    def parse(self, cells: list[str]) -> tuple[_Row | None, list[str], str]:
        """The row, its problems, and why it is skipped ("" when it is not)."""
        if len(cells) != self.width:
            return None, [f"has {len(cells)} cells but the header has {self.width}"], ""
        given = {
            field: cells[position].strip() for field, position in self.header.positions.items()
        }
        status = given.get("status", "")
        if normalize(status) in NOT_ATTENDING:
            self.not_attending[status.lower()] += 1
            return None, [], f"status {quote(status)}: not attending"
        problems: list[str] = []
        for name, limit in _MAX_LENGTHS.items():
            if len(given.get(name, "")) > limit:
                problems.append(f"{name} is longer than {limit} characters")
        email = given.get("email", "")
        user_id = given.get("user_id", "")
        if self.header.source == "meetup" and user_id[:5].lower() == "user ":
            user_id = user_id[5:].strip()  # Meetup writes "user 12537919"
        if not email and not user_id:
            problems.append(
                "needs an email"
                + (" or a user_id" if "user_id" in self.header.positions else "")
                + " to find the attendee's member"
            )
        if email and not self._valid_email(email):
            problems.append(f"email {quote(email)} is not a valid email address")
        name = given.get("name") or f"{given.get('first_name', '')} {given.get('last_name', '')}"
        event = given.get("event") or self.event
        if not event:
            problems.append("needs an event: its cell is empty, and no event name was given")
        zone = self._zone(given.get("timezone", ""), problems)
        registered_at = self._moment("registered_at", given, zone, problems)
        checked_in_at = self._moment("checked_in_at", given, zone, problems)
        event_date = self._moment("event_date", given, zone, problems) or self.event_date
        attended = normalize(status) in CHECKED_IN
        answer = given.get("attended", "")
        if normalize(answer) in YES:
            attended = True
        elif normalize(answer) not in NO:
            problems.append(f"attended {quote(answer)} is neither yes nor no")
        if problems:
            return None, problems, ""
        attended_at = checked_in_at or (event_date if attended else None)
        undated = attended and attended_at is None
        if registered_at is None and attended_at is None and not undated:
            return None, [], "no registration time and no attendance: nothing to import"
        return (
            _Row(
                source=self.header.source,
                user_id=user_id or None,
                email=email,
                person=f"email:{email.lower()}" if email else f"user:{user_id}",
                name=name.strip(),
                company_name=given.get("company_name", ""),
                job_title=given.get("job_title", ""),
                event=event,
                event_key=_event_key(event),
                registered_at=registered_at,
                attended_at=attended_at,
                undated=undated,
            ),
            [],
            "",
        )

    def _moment(
        self, name: str, given: dict[str, str], zone: ZoneInfo | None, problems: list[str]
    ) -> datetime | None:
        value = given.get(name, "")
        try:
            moment = parse_datetime(name, value, self.date_format)
        except ValueError as exc:
            problems.append(str(exc))
            return None
        if moment is not None and zone is not None and not _has_offset(value):
            # A wall-clock time of the event's place.
            moment = moment.replace(tzinfo=zone).astimezone(UTC)
        return moment

    @staticmethod
    def _zone(name: str, problems: list[str]) -> ZoneInfo | None:
        if not name:
            return None
        zone = _time_zone(name)
        if zone is None:
            problems.append(f"timezone {quote(name)} is not a time zone such as Europe/Paris")
        return zone

    @staticmethod
    def _valid_email(email: str) -> bool:
        try:
            validate_email(email)
        except ValidationError:
            return False
        return True


@lru_cache(maxsize=256)
def _time_zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _has_offset(value: str) -> bool:
    """Whether an ISO 8601 date-time names its offset (a numeric date never does)."""
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _event_key(event: str) -> str:
    """The event's part of its activities' external ids: its name as a slug, so that "Launch
    Night" and "launch night!" are one event."""
    slug = slugify(event, allow_unicode=True)[:_EVENT_KEY_CHARS].strip("-")
    return slug or "event-" + hashlib.sha256(event.encode()).hexdigest()[:16]


def _external_id(event_key: str, person: str, kind: str, moment: datetime) -> str:
    """`<event>:<email or user-<id>>:<registered|attended>:<UTC time>`, within the field's
    length (a long email is hashed)."""
    who = person.split(":", 1)[1] if person.startswith("email:") else f"user-{person[5:]}"
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    external_id = f"{event_key}:{who}:{kind}:{stamp}"
    if len(external_id) > _EXTERNAL_ID_MAX:
        digest = hashlib.sha256(who.encode()).hexdigest()[:40]
        external_id = f"{event_key}:sha256-{digest}:{kind}:{stamp}"
    return external_id


_EXTERNAL_ID_MAX = _max_length(Activity, "external_id")


def _staged_rows(
    records: Iterable[tuple[int, list[str]]],
    parser: _RowParser,
    report: ImportReport,
    stage: StageTable,
) -> Iterator[tuple]:
    """Each attendance row as the stage's values; invalid and skipped rows go to the report."""
    for line, cells in records:
        report.rows_read += 1
        row, problems, skipped = parser.parse(cells)
        if problems:
            report.add_error(line, "; ".join(problems))
            continue
        if row is None:
            report.add_skip(line, skipped)
            continue
        yield (
            line,
            row.source,
            row.user_id,
            row.email,
            row.email.lower() or None,
            row.person,
            row.name,
            row.company_name,
            row.job_title,
            row.event,
            row.event_key,
            stage.value(row.registered_at),
            stage.value(row.attended_at),
            int(row.undated),
        )


def _shown(moment: datetime | None) -> str:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else ""


def _activity_kinds(community: Community) -> dict[str, ActivityKind]:
    kinds = {
        kind.slug: kind
        for kind in ActivityKind.objects.for_community(community).filter(slug__in=KINDS)
    }
    if absent := [slug for slug in KINDS if slug not in kinds]:
        raise ImportFileError(
            f"The community has no activity kind {', '.join(absent)}; add it on the Activity "
            "kinds page first."
        )
    return kinds


# Merging ------------------------------------------------------------------------------------


class _Merge:
    """Merges the staged rows: the people into the members, then one registration and one
    attendance per event and person into the activities."""

    def __init__(
        self,
        community: Community,
        stage: StageTable,
        attendance: StageTable,
        kinds: dict[str, ActivityKind],
        report: ImportReport,
        not_attending: Counter[str],
    ) -> None:
        self.not_attending = not_attending  # skipped rows by status
        self.community = community
        self.stage = stage.name
        self.attendance = attendance
        self.postgres = stage.postgres
        self.kinds = kinds
        self.report = report

    def run(self) -> set[int]:
        """Merge; the ids of the members created or updated or with a new activity."""
        members = ImportReport()
        self._execute(
            f"UPDATE {self.stage} SET first_of_person = 1 WHERE line IN "  # noqa: S608 (our names; values are parameters)
            f"(SELECT MIN(line) FROM {self.stage} GROUP BY person)",
            [],
        )
        merged = merge_member_records(
            community=self.community,
            records=MemberRecords(_MEMBER_FIELDS, (), self._people()),
            report=members,
        )
        members.merge_errors()
        self.report.errors.extend(members.errors)
        for skip in members.skips:
            self.report.add_skip(skip.line, skip.message)
        # A person whose member could not be merged has no activity either.
        self._exclude([entry.line for entry in (*members.errors, *members.skips)])
        activities = ImportReport()
        writer = ActivityWriter(self.community, activities)
        repeated = undated = 0
        for row in self._attendances():
            line, source, user_id, email, person, event, event_key, registered, attended = row[:9]
            undated += bool(row[9]) and attended is None
            repeated += row[10] - 1
            for kind, moment in ((REGISTERED, registered), (ATTENDED, attended)):
                if moment is None:
                    continue
                moment = self._moment(moment)
                writer.add(
                    ActivityRow(
                        line=line,
                        kind=self.kinds[kind],
                        occurred_at=moment,
                        source=source,
                        member_identity=(source, user_id) if user_id else None,
                        member_email=email,
                        external_id=_external_id(event_key, person, kind.split("_")[1], moment),
                        title=event,
                    )
                )
        writer.flush()
        self.report.errors.extend(activities.errors)
        self.report.created += members.created + activities.created
        self.report.updated += members.updated
        self.report.unchanged += members.unchanged + activities.unchanged
        self.report.details = self._details(members, activities, writer, repeated, undated)
        return set(merged) | writer.member_ids

    def _people(self) -> Iterator[tuple[int, list[str]]]:
        """One member record per person (their first row), CHUNK_ROWS at a time: an existing
        member's name, company and job title are only written where they are empty (else the
        record repeats the stored value, which changes nothing)."""
        s = self.stage
        # On SQLite unary + drops the TEXT affinity so that the LOWER(email) index serves.
        email = ("" if self.postgres else "+") + f"{s}.email_lower"
        keep = {
            name: f"CASE WHEN m.id IS NULL OR m.{name} = '' THEN {s}.{name} ELSE m.{name} END"
            for name in ("name", "company_name", "job_title")
        }
        sql = (
            f"SELECT {s}.line, CASE WHEN {s}.user_id IS NULL THEN '' ELSE {s}.source END, "  # noqa: S608 (our names; values are parameters)
            f"COALESCE({s}.user_id, ''), {keep['name']}, {s}.email, {keep['company_name']}, "
            f"{keep['job_title']} FROM {s} LEFT JOIN {_table(Member)} m ON m.id = COALESCE("
            f"(SELECT i.member_id FROM {_table(Identity)} i WHERE i.community_id = (SELECT %s) "
            f"AND i.source = {s}.source AND i.external_id = {s}.user_id), "
            f"(SELECT x.id FROM {_table(Member)} x WHERE x.community_id = (SELECT %s) "
            f"AND NOT (x.email = '') AND LOWER(x.email) = {email})) "
            f"WHERE {s}.first_of_person = 1 AND {s}.line > %s ORDER BY {s}.line LIMIT {CHUNK_ROWS}"
        )
        for row in self._paged(sql, [self.community.pk, self.community.pk]):
            yield row[0], list(row[1:])

    def _attendances(self) -> Iterator[tuple]:
        """One row per event and person, CHUNK_ROWS at a time: its first line, the earliest
        registration and attendance, whether an attendance had no date, how many rows."""
        s, a = self.stage, self.attendance.name
        self._execute(
            f"INSERT INTO {a} (line, source, user_id, email, person, event, event_key, "  # noqa: S608 (our names; values are parameters)
            f"registered_at, attended_at, undated, rows) SELECT MIN(line), MIN(source), "
            f"MIN(user_id), MIN(email), person, MIN(event), event_key, MIN(registered_at), "
            f"MIN(attended_at), MAX(undated), COUNT(*) FROM {s} WHERE action IS NULL "
            f"GROUP BY event_key, person",
            [],
        )
        self.attendance.index("line")
        sql = (
            f"SELECT line, source, user_id, email, person, event, event_key, registered_at, "  # noqa: S608 (our names; values are parameters)
            f"attended_at, undated, rows FROM {a} WHERE line > %s ORDER BY line LIMIT {CHUNK_ROWS}"
        )
        yield from self._paged(sql, [])

    def _paged(self, sql: str, params: list) -> Iterator[tuple]:
        """The rows of `sql` (which takes the last line read as its last parameter and returns
        rows in line order, line first), a page at a time: memory stays flat, and the cursor is
        closed before the caller writes."""
        last = 0
        while True:
            with connection.cursor() as cursor:
                cursor.execute(sql, [*params, last])
                page = cursor.fetchall()
            if not page:
                return
            yield from page
            last = page[-1][0]

    def _exclude(self, lines: list[int]) -> None:
        for start in range(0, len(lines), 500):
            chunk = lines[start : start + 500]
            marks = ", ".join("%s" for _ in chunk)
            self._execute(
                f"UPDATE {self.stage} SET action = 'invalid' WHERE person IN "  # noqa: S608 (our names; values are parameters)
                f"(SELECT person FROM {self.stage} WHERE line IN ({marks}))",
                chunk,
            )

    def _moment(self, value: Any) -> datetime:
        """A timestamp read back from the stage: aware on PostgreSQL, naive UTC text on SQLite."""
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def _details(
        self,
        members: ImportReport,
        activities: ImportReport,
        writer: ActivityWriter,
        repeated: int,
        undated: int,
    ) -> list[tuple[str, int]]:
        details = [
            ("Members created", members.created),
            ("Members updated", members.updated),
            ("Members unchanged", members.unchanged),
            *((f"Activities created: {slug}", writer.created_by_kind[slug]) for slug in KINDS),
            ("Activities already imported", activities.unchanged),
            *(
                (f'Skipped, status "{status}"', n)
                for status, n in sorted(self.not_attending.items())
            ),
        ]
        if repeated:
            details.append(("Rows repeating an attendee of the same event", repeated))
        if undated:
            details.append(("Attended, not imported: no check-in time and no event date", undated))
        return details

    def _execute(self, sql: str, params: list) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _table(model: type[Model]) -> str:
    return model._meta.db_table


IMPORTER = Importer(
    slug="events",
    noun="attendees",
    run=import_events,
    preview=preview_events,
    columns=COLUMNS,
    aliases=ALIASES,
    unknown=IGNORE,
    matching=(
        "Upload an attendee list as the tool exports it: Luma (the event's Guests tab, "
        "Download as CSV), Eventbrite (Reporting, Attendee summary, Export as CSV) or Meetup "
        "(the event's Attendees, Download, CSV); its columns are read without any mapping. "
        "Each attendee is the member with that email in any letter case (on Meetup, which "
        "shares no emails, the member with that Meetup User ID), else a new member with their "
        "name; an existing member's name, company and job title are only filled in where "
        "empty. A registration becomes event_registered, a check-in event_attended, titled by "
        "the event's name; declined, not going, cancelled and refunded rows are skipped. "
        "Importing the same list again adds nothing. Scores are updated after the import."
    ),
    command="import_events",
    after_import=rescore_later,
    label="Event attendance",
)
