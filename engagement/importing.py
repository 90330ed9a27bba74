"""Import activities from a CSV file (docs/cli.md "Imports", README "Command line").

Two steps, as the members import (members/importing.py), so that the database does the heavy
work in a few statements whatever the file's size:

1. **Stage.** The file is streamed row by row; each row is read through the manager's mapping,
   validated (kind, occurred_at, lengths, member_email, url) and written to a staging table
   (members/staging.py: COPY on PostgreSQL). Invalid rows go to the report with their line and
   reason instead.
2. **Merge**, in one transaction behind the community's import lock (members/locks.py), in a
   fixed number of set-based statements: rows that repeat an earlier row's (source,
   external_id) are invalid; each row's member is found by identity (source,
   member_external_id), else by member_email case-insensitively, and a row whose member is not
   found is invalid; then one `INSERT ... SELECT` adds the activities not stored yet.

Unless `skip_invalid` is set, one invalid row rolls everything back, so a bad file writes
nothing. Activities with an external_id are unique per (community, source, external_id): a row
whose activity is already there is left alone and counted as unchanged, so re-importing a file
changes nothing, also when two imports of it meet: imports into one community run one after
another.

`ActivityWriter` is what the Stack Exchange importer writes with (engagement/stackexchange.py).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from itertools import islice
from operator import itemgetter, or_
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import connection
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.http import MAX_URL_LENGTH

from members.csv_import import (
    ImportFileError,
    list_names,
    numbered_records,
    open_table,
    quote,
    read_header,
)
from members.locks import import_transaction
from members.mapping import (
    IGNORE,
    PREVIEW_ROWS,
    ImportOptions,
    Preview,
    parse_datetime,
    resolve_mapping,
)
from members.models import Community, Identity, Member
from members.reports import ImportReport
from members.staging import StageTable

from .models import Activity, ActivityKind

__all__ = ["COLUMNS", "ActivityRow", "ActivityWriter", "ImportFileError", "import_activities"]

# The accepted columns, in the order an operator would explain them.
COLUMNS: dict[str, str] = {
    "member_external_id": "The member's id in the source system (with source).",
    "source": 'Where the ids come from, e.g. "slack" (default "csv"); the activity\'s source too.',
    "member_email": "The member's email, when there is no member_external_id.",
    "kind": "The slug of one of the community's activity kinds, e.g. message or post.",
    "occurred_at": "When it happened: ISO 8601 date or date-time; no offset means UTC.",
    "external_id": "The activity's id in the source; with source, re-imports skip it.",
    "channel": "Where it happened, e.g. a channel or category name.",
    "title": "A title, e.g. of the post.",
    "url": "A link to it.",
}
# Other names a column may have for each field (compared by members.mapping.normalize).
ALIASES: dict[str, tuple[str, ...]] = {
    "member_external_id": ("member id", "user id", "member external id", "author id"),
    "source": ("platform",),
    "member_email": ("email", "e-mail", "member e-mail", "author email"),
    "kind": ("type", "activity", "activity type", "kind slug"),
    "occurred_at": ("date", "time", "timestamp", "occurred", "created at", "happened at"),
    "external_id": ("external id", "activity id", "id"),
    "channel": ("category", "where"),
    "title": ("subject",),
    "url": ("link", "permalink"),
}
UNKNOWN = "unknown"  # a column that names no field: refused until mapped or ignored
DEFAULT_SOURCE = "csv"
CHUNK_SIZE = 1000  # rows per write of ActivityWriter

_validate_url = URLValidator(schemes=["http", "https"])

_STAGE_COLUMNS = [
    ("line", "int"),
    ("source", "text"),  # the activity's, and the member identity's
    ("member_external_id", "text"),  # NULL when the row names no member_external_id
    ("member_email", "text"),  # as written, for the report
    ("member_email_lower", "text"),  # NULL when the row names no member_email
    ("kind_id", "bigint"),
    ("initiated", "bool"),
    ("occurred_at", "timestamp"),
    ("external_id", "text"),  # "" when none
    ("channel", "text"),
    ("title", "text"),
    ("url", "text"),
    # Filled in by the merge:
    ("action", "text"),  # repeat or unknown: the row is invalid
    ("first_line", "int"),  # the line a repeat repeats
]
_WRITTEN = [name for name, _ in _STAGE_COLUMNS[:-2]]
# The columns the insert copies from the stage.
_INSERTED = ["kind_id", "occurred_at", "source", "external_id", "channel", "title", "url"]

Progress = Callable[[int], object]


def import_activities(
    *,
    community: Community,
    file: IO[bytes],
    skip_invalid: bool = False,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Add the community's activities from a CSV file opened in binary mode.

    `progress(rows_read)` is called as the rows are read; with `dry_run` everything is done and
    counted, then rolled back."""
    options = options or ImportOptions()
    report = ImportReport()
    kinds = {kind.slug: kind for kind in ActivityKind.objects.for_community(community)}
    with open_table(file, file_name="", encoding=options.encoding) as reader:
        parser = _RowParser(_read_header(reader, options), kinds, options)
        with StageTable(_STAGE_COLUMNS, prefix="activity_stage") as stage:
            rows = _staged_rows(reader, parser, report, stage)
            stage.write(rows, _WRITTEN, on_batch=lambda: progress and progress(report.rows_read))
            if stage.postgres:  # a temporary table is never analyzed unless asked
                with connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {stage.name}")
            with import_transaction(
                community, report, skip_invalid=skip_invalid, dry_run=dry_run
            ) as changed:
                # Members with a new initiated activity: their last seen may move.
                changed.update(_Merge(community, stage, report, skip_invalid=skip_invalid).run())
    return report


def preview_activities(*, community: Community, file: IO[bytes], options: ImportOptions) -> Preview:
    """The header and the first PREVIEW_ROWS rows as the import would store them."""
    kinds = {kind.slug: kind for kind in ActivityKind.objects.for_community(community)}
    with open_table(file, file_name="", encoding=options.encoding) as reader:
        columns = _read_header(reader, options)
        parser = _RowParser(columns, kinds, options)
        fields = [name for name in COLUMNS if name in columns]
        rows = []
        for line, cells in islice(numbered_records(reader), PREVIEW_ROWS):
            values, problems = parser.parse(cells)
            shown = []
            if values is not None:
                source, member_external_id, member_email, kind, occurred_at, *rest = values
                by_name = {
                    "member_external_id": member_external_id,
                    "source": source,
                    "member_email": member_email,
                    "kind": kind.slug,
                    "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
                    **dict(zip(("external_id", "channel", "title", "url"), rest, strict=True)),
                }
                shown = [by_name[name] for name in fields]
            rows.append((line, shown, "; ".join(problems)))
    return Preview(
        columns=reader.columns,
        mapping=_mapping(reader.columns, options),
        fields=tuple(fields),
        rows=rows,
    )


# Reading and validating ---------------------------------------------------------------------


def _mapping(columns: tuple[str, ...], options: ImportOptions) -> dict[str, str]:
    try:
        return resolve_mapping(columns, ALIASES, options.mapping, unknown=UNKNOWN)
    except ValueError as exc:
        raise ImportFileError(f"The mapping does not fit the file: {exc}.") from None


def _read_header(reader: Any, options: ImportOptions) -> tuple[str, ...]:
    """The field each column feeds (IGNORE for the ignored ones)."""
    mapping = _mapping(read_header(reader, ()), options)
    unknown = [column for column, target in mapping.items() if target == UNKNOWN]
    if unknown:
        raise ImportFileError(
            f"The header (line 1) has unknown columns: {list_names(unknown)}. "
            f"Known columns: {', '.join(COLUMNS)}. Map them to a field or ignore them."
        )
    columns = tuple(mapping.values())
    missing = [column for column in ("kind", "occurred_at") if column not in columns]
    if "member_external_id" not in columns and "member_email" not in columns:
        missing.append("member_external_id or member_email")
    if missing:
        raise ImportFileError(
            f"The first line must be a header naming the columns; missing: {', '.join(missing)}."
        )
    return columns


def _staged_rows(
    reader: Any, parser: _RowParser, report: ImportReport, stage: StageTable
) -> Iterator[tuple]:
    """Each valid row as the staging table's _WRITTEN values; the invalid ones go to the
    report."""
    value = stage.value
    parse = parser.parse
    for line, cells in numbered_records(reader):
        report.rows_read += 1
        values, problems = parse(cells)
        if problems or values is None:
            report.add_error(line, "; ".join(problems))
            continue
        source, member_external_id, member_email, kind, occurred_at, *rest = values
        yield (
            line,
            source,
            member_external_id or None,
            member_email,
            member_email.lower() or None,
            kind.pk,
            kind.initiated,
            value(occurred_at),
            *rest,
        )


# A URL's scheme and host (up to the first / ? or # after "://"): what URLValidator's verdict
# depends on, besides the rest having no whitespace (see _RowParser._valid_url).
_URL_HOST = re.compile(r"[^:/?#]+://[^/?#]*")
_SPACE = re.compile(r"\s")
# Bounds of the validation caches of one import (distinct emails, distinct URL hosts).
_CACHE_ENTRIES = 50_000


class _RowParser:
    """Reads a row's cells as the values the import stores, with the row's problems.

    Validation is the import's per-row cost, so the checks that cost most are remembered:
    whether an email is valid (a file names the same members again and again) and which URL
    hosts were found valid.
    """

    def __init__(
        self, columns: tuple[str, ...], kinds: dict[str, ActivityKind], options: ImportOptions
    ) -> None:
        self.width = len(columns)
        self.kinds = kinds
        self.date_format = options.date_format
        # The cells of COLUMNS, in that order: a missing column reads the empty string after
        # the cells (position `width`).
        position = {column: i for i, column in enumerate(columns) if column != IGNORE}
        self.pick = itemgetter(*(position.get(name, self.width) for name in COLUMNS))
        self.limits = [
            (column, i, limit)
            for i, column in enumerate(columns)
            if column != IGNORE and (limit := _max_length(column))
        ]
        self.emails: dict[str, bool] = {}
        self.url_hosts: set[str] = set()

    def parse(self, cells: list[str]) -> tuple[tuple | None, list[str]]:
        """(source, member_external_id, member_email, kind, occurred_at, external_id, channel,
        title, url) and the problems; no values when there is no kind or occurred_at."""
        if len(cells) != self.width:
            return None, [f"has {len(cells)} cells but the header has {self.width}"]
        given = list(map(str.strip, cells))
        given.append("")
        problems: list[str] = []
        for column, i, limit in self.limits:
            if len(given[i]) > limit:
                problems.append(f"{column} is longer than {limit} characters")
        (
            member_external_id,
            source,
            member_email,
            slug,
            when,
            external_id,
            channel,
            title,
            url,
        ) = self.pick(given)

        kind = self.kinds.get(slug)
        if not slug:
            problems.append("needs a kind")
        elif kind is None:
            problems.append(f"unknown kind {quote(slug)}; known kinds: {', '.join(self.kinds)}")
        occurred_at = None
        try:
            occurred_at = parse_datetime("occurred_at", when, self.date_format)
            if occurred_at is None:
                problems.append("needs an occurred_at")
        except ValueError as exc:
            problems.append(str(exc))

        if not member_external_id and not member_email:
            problems.append("needs a member_external_id or a member_email")
        if member_email and not self._valid_email(member_email):
            problems.append(f"member_email {quote(member_email)} is not a valid email address")
        if url and not self._valid_url(url):
            problems.append(f"url {quote(url)} is not an http or https URL")

        if kind is None or occurred_at is None:
            return None, problems
        source = source or DEFAULT_SOURCE
        values = (
            source,
            member_external_id,
            member_email,
            kind,
            occurred_at,
            external_id,
            channel,
            title,
            url,
        )
        return values, problems

    def _valid_email(self, email: str) -> bool:
        valid = self.emails.get(email)
        if valid is None:
            try:
                validate_email(email)
                valid = True
            except ValidationError:
                valid = False
            if len(self.emails) >= _CACHE_ENTRIES:
                self.emails.clear()
            self.emails[email] = valid
        return valid

    def _valid_url(self, url: str) -> bool:
        """URLValidator's verdict, without its regular expression when the URL's host was valid
        before.

        URLValidator accepts `<scheme>://<host>[:port]` followed by nothing, or by one of / ? #
        and no whitespace; the scheme, the host and port (up to the first / ? # after "://",
        which is also where urlsplit ends the netloc it checks) decide everything else. That
        holds for a URL without "@" (user:password@ may contain ? and #), so only such URLs
        vouch for their host.
        """
        head = _URL_HOST.match(url)
        host = None
        if head is not None and len(url) <= MAX_URL_LENGTH:
            host = head.group()
            if host in self.url_hosts and not _SPACE.search(url, head.end()):
                return True
        try:
            _validate_url(url)
        except ValidationError:
            return False
        if host is not None and "@" not in url:
            if len(self.url_hosts) >= _CACHE_ENTRIES:
                self.url_hosts.clear()
            self.url_hosts.add(host)
        return True


def _max_length(column: str) -> int | None:
    if column == "member_external_id":
        return getattr(Identity._meta.get_field("external_id"), "max_length", None)
    if column in ("source", "external_id", "channel", "title", "url"):
        return getattr(Activity._meta.get_field(column), "max_length", None)
    return None


# Merging ------------------------------------------------------------------------------------


class _Merge:
    """The set-based statements that merge the staged rows into the community's activities.

    Each row's member and its stored activity are found by a lookup per row through a unique
    index: Identity's (community, source, external_id), Member's (community, LOWER(email)) and
    Activity's (community, source, external_id). Such a plan costs the same whatever the
    statistics say. Joins were planned from them, and a community whose members or activities
    were just written looks empty to them (autovacuum analyzes a big table late): PostgreSQL
    then compared every staged row with every stored activity, 10^10 comparisons for a
    re-import of 100,000 rows. For the same reason the lookups do not show the planner which
    community they are for (_ANY_COMMUNITY): to statistics that see one row of the community,
    the index on community_id alone is as cheap as the unique one, and it chose it, to scan the
    community's 100,000 activities once per staged row. Planned for any community, the unique
    index (one row) is far cheaper than one community's share of the table.

    Two of the indexes are partial, so the lookups carry their conditions, `NOT (email = '')`
    and `NOT (external_id = '')`: neither database uses a partial index for a query that does
    not imply its condition, and SQLite needs it written as the index writes it
    (`external_id <> ''` does not do).
    """

    def __init__(
        self, community: Community, stage: StageTable, report: ImportReport, *, skip_invalid: bool
    ) -> None:
        self.community = community
        self.stage = stage.name
        self.postgres = stage.postgres
        self.report = report
        self.skip_invalid = skip_invalid
        self.staged = report.rows_read - report.invalid  # the rows the stage holds
        self.now = timezone.now()

    def run(self) -> set[int]:
        """Merge the staged rows; the ids of the members who got a new initiated activity."""
        invalid = self._report_repeats() + self._report_unknown_members()
        if self.report.errors and not self.skip_invalid:
            return set()  # rolled back: nothing to write
        created, initiated = self._insert()
        self.report.created += created
        self.report.unchanged += self.staged - invalid - created
        return initiated

    def _report_repeats(self) -> int:
        """Rows that repeat an earlier row's (source, external_id) are invalid."""
        s = self.stage
        found = self._rows(
            f"UPDATE {s} SET action = 'repeat', first_line = repeated.first FROM ("
            f"SELECT line, MIN(line) OVER (PARTITION BY source, external_id) AS first "
            f"FROM {s} WHERE external_id <> '') repeated "
            f"WHERE {s}.line = repeated.line AND repeated.line <> repeated.first "
            f"RETURNING {s}.line, {s}.first_line, {s}.source, {s}.external_id",
            [],
        )
        for line, first, source, external_id in found:
            self.report.add_error(
                line, f"{source} external_id {quote(external_id)} repeats line {first}"
            )
        return len(found)

    def _report_unknown_members(self) -> int:
        s = self.stage
        member, params = self._member
        found = self._rows(
            f"UPDATE {s} SET action = 'unknown' WHERE action IS NULL AND {member} IS NULL "
            f"RETURNING line, source, member_external_id, member_email",
            params,
        )
        for line, source, member_external_id, member_email in found:
            label = (
                f"{source} member_external_id {quote(member_external_id)}"
                if member_external_id
                else f"member_email {quote(member_email)}"
            )
            self.report.add_error(line, f"unknown member: no {label}")
        return len(found)

    def _insert(self) -> tuple[int, set[int]]:
        """Add the activities not stored yet: how many, and the members who got an initiated
        one. (Every row left has a member: _report_unknown_members marked the others.)"""
        s, community = self.stage, self.community.pk
        member, member_params = self._member
        fresh = (
            f"FROM {s} WHERE {s}.action IS NULL AND ({s}.external_id = '' OR ("
            f"SELECT 1 FROM {_table(Activity)} a WHERE a.community_id = {_ANY_COMMUNITY} "
            f"AND NOT (a.external_id = '') AND a.source = {s}.source "
            f"AND a.external_id = {s}.external_id) IS NULL)"
        )
        staged = ", ".join(f"{s}.{name}" for name in _INSERTED)
        insert = (
            f"INSERT INTO {_table(Activity)} (community_id, member_id, "
            f"{', '.join(_INSERTED)}, created_at) "
            f"SELECT %s, {member}, {staged}, %s {fresh} ORDER BY {s}.line"
        )
        params = [community, *member_params, self._now, community]
        if self.postgres:
            # One pass: what was inserted, counted by member.
            counts = self._rows(
                f"WITH added AS ({insert} RETURNING member_id, kind_id) "
                f"SELECT added.member_id, COUNT(*), BOOL_OR(k.initiated) FROM added "
                f"JOIN {_table(ActivityKind)} k ON k.id = added.kind_id GROUP BY added.member_id",
                params,
            )
            created = sum(count for _, count, _ in counts)
            return created, {member_id for member_id, _, initiated in counts if initiated}
        # SQLite has no INSERT in WITH: the members first, then the insert.
        initiated = self._rows(
            f"SELECT DISTINCT {member} {fresh} AND {s}.initiated", [*member_params, community]
        )
        with connection.cursor() as cursor:
            cursor.execute(insert, params)
            created = cursor.rowcount
        return created, {member_id for (member_id,) in initiated}

    # Helpers.

    @property
    def _member(self) -> tuple[str, list]:
        """SQL for a staged row's member, by identity, else by email; and its parameters."""
        s, community = self.stage, self.community.pk
        # On SQLite a TEXT column compared with LOWER(...) would apply its affinity to the
        # comparison, and the expression index would not serve; unary + drops the affinity.
        email = ("" if self.postgres else "+") + f"{s}.member_email_lower"
        sql = (
            f"COALESCE((SELECT i.member_id FROM {_table(Identity)} i "
            f"WHERE i.community_id = {_ANY_COMMUNITY} AND i.source = {s}.source "
            f"AND i.external_id = {s}.member_external_id), "
            f"(SELECT m.id FROM {_table(Member)} m WHERE m.community_id = {_ANY_COMMUNITY} "
            f"AND NOT (m.email = '') AND LOWER(m.email) = {email}))"
        )
        return sql, [community, community]

    @property
    def _now(self) -> object:
        return self.now if self.postgres else str(self.now.replace(tzinfo=None))

    def _rows(self, sql: str, params: list) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


# The community's id as a parameter the planner does not see: `(SELECT %s)` is computed once,
# at execution (PostgreSQL's InitPlan), so the plan is made for a community of average size.
_ANY_COMMUNITY = "(SELECT %s)"


def _table(model: type) -> str:
    return model._meta.db_table


# Writing row by row, for the Stack Exchange importer ----------------------------------------


@dataclass
class ActivityRow:
    """One activity to write, with the member it belongs to by identity or by email."""

    line: int
    kind: ActivityKind
    occurred_at: datetime
    source: str
    member_identity: tuple[str, str] | None = None
    member_email: str = ""
    external_id: str = ""
    channel: str = ""
    title: str = ""
    url: str = ""

    @property
    def member_label(self) -> str:
        if self.member_identity:
            source, external_id = self.member_identity
            return f"{source} member_external_id {quote(external_id)}"
        return f"member_email {quote(self.member_email)}"


class ActivityWriter:
    """Collects valid rows and writes them CHUNK_SIZE at a time, in a few queries per chunk.

    A row whose member is not found is reported as a row error (or handed to
    `on_unknown_member`); a row whose (source, external_id) is already stored, or was written
    by an earlier row, counts as unchanged.
    """

    def __init__(
        self,
        community: Community,
        report: ImportReport,
        chunk_size: int | None = None,
        *,
        on_unknown_member: Callable[[ActivityRow], object] | None = None,
    ) -> None:
        self.community = community
        self.report = report
        self.chunk_size = chunk_size or CHUNK_SIZE
        # What a row whose member is not found becomes: a row error, unless this says else.
        self.on_unknown_member = on_unknown_member
        self.pending: list[ActivityRow] = []
        self.member_ids: set[int] = set()  # members with a new activity
        self.created_by_kind: Counter[str] = Counter()

    def add(self, row: ActivityRow) -> None:
        self.pending.append(row)
        if len(self.pending) >= self.chunk_size:
            self.flush()

    def flush(self) -> None:
        rows, self.pending = self.pending, []
        if not rows:
            return
        by_identity, by_email = _existing_members(self.community, rows)
        stored = self._stored_external_ids(rows)  # grows with the chunk's own: a repeat is
        activities = []  # unchanged, as it would be in the next chunk
        written: list[ActivityRow] = []
        for row in rows:
            member_id = by_identity.get(row.member_identity) if row.member_identity else None
            if member_id is None and row.member_email:
                member_id = by_email.get(row.member_email.lower())
            if member_id is None:
                if self.on_unknown_member is not None:
                    self.on_unknown_member(row)
                else:
                    self.report.add_error(row.line, f"unknown member: no {row.member_label}")
                continue
            if row.external_id:
                if (row.source, row.external_id) in stored:
                    self.report.unchanged += 1
                    continue
                stored.add((row.source, row.external_id))
            written.append(row)
            activities.append(
                Activity(
                    community=self.community,
                    member_id=member_id,
                    kind=row.kind,
                    occurred_at=row.occurred_at,
                    source=row.source,
                    external_id=row.external_id,
                    channel=row.channel,
                    title=row.title,
                    url=row.url,
                )
            )
            self.member_ids.add(member_id)
        Activity.objects.bulk_create(activities)
        self.report.created += len(activities)
        self.created_by_kind.update(row.kind.slug for row in written)

    def _stored_external_ids(self, rows: Iterable[ActivityRow]) -> set[tuple[str, str]]:
        """The chunk's (source, external_id) pairs already stored. `external_id <> ''` is the
        condition of the partial unique index on (community, source, external_id): without it
        the database cannot use that index (an IN list of a thousand ids does not prove it)."""
        matching = _by_source((row.source, row.external_id) for row in rows if row.external_id)
        if matching is None:
            return set()
        stored = Activity.objects.for_community(self.community).exclude(external_id="")
        return set(stored.filter(matching).values_list("source", "external_id"))


def _by_source(pairs: Iterable[tuple[str, str]]) -> Q | None:
    """`Q(source=…, external_id__in=…) | …` for (source, external_id) pairs, or None if none."""
    ids_by_source: dict[str, list[str]] = defaultdict(list)
    for source, external_id in pairs:
        ids_by_source[source].append(external_id)
    if not ids_by_source:
        return None
    return reduce(or_, (Q(source=s, external_id__in=ids) for s, ids in ids_by_source.items()))


def _existing_members(
    community: Community, rows: Iterable[ActivityRow]
) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """Member ids by identity and by lower-cased email for the chunk, in at most two queries."""
    rows = list(rows)
    by_identity: dict[tuple[str, str], int] = {}
    matching = _by_source(row.member_identity for row in rows if row.member_identity)
    if matching is not None:
        identities = Identity.objects.filter(community=community).filter(matching)
        by_identity = {
            (source, external_id): member_id
            for source, external_id, member_id in identities.values_list(
                "source", "external_id", "member_id"
            )
        }
    emails = {row.member_email.lower() for row in rows if row.member_email}
    by_email: dict[str, int] = {}
    if emails:
        found = (
            Member.objects.for_community(community)
            .exclude(email="")
            .annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails)
            .values_list("email_lower", "pk")
        )
        by_email = dict(found)
    return by_identity, by_email
