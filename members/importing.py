"""Import members from a CSV file (DESIGN §8 "Members CSV").

`import_members` streams the file row by row: each row is validated, then written in chunks with
a few set-based queries per chunk, all inside one transaction. Unless `skip_invalid` is set, one
invalid row rolls the whole import back, so a bad file writes nothing. Problems with the file as
a whole (empty, not UTF-8, no usable header) raise `ImportFileError`. Imports into one
community run one after another (members/locks.py).

Columns we do not know become the member's `attributes`, within bounds: a file has at most
MAX_ATTRIBUTE_COLUMNS of them, each named in at most MAX_ATTRIBUTE_KEY_CHARS characters (else the
file is refused), and a cell of one holds at most MAX_ATTRIBUTE_VALUE_CHARS (else its row is
invalid). A file of 400,000 attribute columns once made a 10 MB profile page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from .csv_import import (
    ImportFileError,
    ImportReport,
    list_names,
    numbered_records,
    open_csv,
    parse_datetime,
    quote,
    read_header,
)
from .locks import import_lock
from .models import Community, Identity, Member
from .signals import members_changed

__all__ = ["COLUMNS", "ImportFileError", "ImportReport", "import_members"]

# The accepted columns, in the order the Imports page explains them.
COLUMNS: dict[str, str] = {
    "external_id": "The member's id in the source system; with source, re-imports update them.",
    "source": 'Where the id comes from, e.g. "slack" or "discourse" (default "csv").',
    "name": "Full or display name. Each row needs a name or an email.",
    "email": "Email address; matches an existing member case-insensitively.",
    "company_name": "Company or organisation.",
    "job_title": "Job title.",
    "location": 'Location as free text, e.g. "Austin, TX".',
    "city": "City.",
    "country": "Country.",
    "bio": "A short biography.",
    "joined_at": "When they joined: ISO 8601 date or date-time; no offset means UTC.",
    "last_seen_at": "When they were last active, in the same format as joined_at.",
}
TEXT_FIELDS = ("name", "email", "company_name", "job_title", "location", "city", "country", "bio")
DATE_FIELDS = ("joined_at", "last_seen_at")
DEFAULT_SOURCE = "csv"
CHUNK_SIZE = 1000
# Also flush once the pending rows hold this many characters: a cell may be 128 KiB long, so
# 1,000 rows alone could hold over a gigabyte.
CHUNK_CHARS = 2_000_000
MAX_ATTRIBUTE_COLUMNS = 100
MAX_ATTRIBUTE_KEY_CHARS = 100
MAX_ATTRIBUTE_VALUE_CHARS = 2_000


def import_members(
    *, community: Community, file: IO[bytes], skip_invalid: bool = False
) -> ImportReport:
    """Create or update the community's members from a CSV file opened in binary mode.

    Each row updates the member with the same (source, external_id) identity, else the member
    with the same email (case-insensitive), else creates one. Only the columns present in the
    file are written; any column we do not know lands in `attributes`.
    """
    report = ImportReport()
    with open_csv(file) as reader, transaction.atomic():
        import_lock(community.pk)  # another import of the community finishes first
        header = _read_header(reader)
        writer = _ChunkWriter(community, header, report)
        for row in _valid_rows(reader, header, report):
            writer.add(row)
        writer.flush()
        if report.errors and not skip_invalid:
            transaction.set_rollback(True)
            report.discard_writes()
        else:
            members_changed.send(Member, community=community, member_ids=writer.written_ids)
    report.errors.sort(key=lambda error: error.line)
    return report


# Reading and validating ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    columns: tuple[str, ...]

    @property
    def member_fields(self) -> list[str]:
        """The Member fields this file writes."""
        return [c for c in self.columns if c in TEXT_FIELDS or c in DATE_FIELDS]

    @property
    def attribute_columns(self) -> list[str]:
        """The columns that land in `attributes`."""
        return [c for c in self.columns if c not in COLUMNS]

    @property
    def has_attributes(self) -> bool:
        return bool(self.attribute_columns)


@dataclass
class _Row:
    line: int
    values: dict[str, Any]
    attributes: dict[str, str]
    identity: tuple[str, str] | None

    @property
    def size(self) -> int:
        """Characters of text the row holds."""
        values = (v for v in self.values.values() if isinstance(v, str))
        return sum(map(len, values)) + sum(len(k) + len(v) for k, v in self.attributes.items())

    @property
    def email_key(self) -> str:
        return self.values.get("email", "").lower()

    @property
    def identity_label(self) -> str:
        source, external_id = self.identity or ("", "")
        return f"{source} external_id {quote(external_id)}"

    def apply_to(self, member: Member) -> None:
        for name, value in self.values.items():
            setattr(member, name, value)
        if self.attributes:
            merged = {**member.attributes, **self.attributes}
            # An empty cell removes the attribute.
            member.attributes = {key: value for key, value in merged.items() if value != ""}


def _read_header(reader: Any) -> _Header:
    columns = read_header(reader, COLUMNS)
    header = _Header(columns)
    attribute_columns = header.attribute_columns
    if len(attribute_columns) > MAX_ATTRIBUTE_COLUMNS:
        raise ImportFileError(
            f"The header (line 1) has {len(attribute_columns):,} columns that would become "
            f"attributes; a members file may have at most {MAX_ATTRIBUTE_COLUMNS}. "
            f"Known columns: {', '.join(COLUMNS)}."
        )
    for position, column in enumerate(columns, start=1):
        if column not in COLUMNS and len(column) > MAX_ATTRIBUTE_KEY_CHARS:
            raise ImportFileError(
                f"Column {position} of the header (line 1) is named in {len(column):,} "
                f"characters; an attribute's name may have at most {MAX_ATTRIBUTE_KEY_CHARS}."
            )
    if "name" not in columns and "email" not in columns:
        raise ImportFileError(
            "The first line must be a header naming the columns, with at least a name or an "
            f"email column; found: {list_names(columns)}."
        )
    return header


def _valid_rows(reader: Any, header: _Header, report: ImportReport) -> Iterator[_Row]:
    """Parse each data row; report the invalid ones and yield the rest."""
    seen_identities: dict[tuple[str, str], int] = {}
    seen_emails: dict[str, int] = {}
    for line, cells in numbered_records(reader):
        report.rows_read += 1
        row, problems = _parse_row(cells, line, header)
        if row is not None:
            problems += _duplicate_problems(row, seen_identities, seen_emails)
        if row is None or problems:
            report.add_error(line, "; ".join(problems))
            continue
        yield row


def _parse_row(cells: list[str], line: int, header: _Header) -> tuple[_Row | None, list[str]]:
    if len(cells) != len(header.columns):
        return None, [f"has {len(cells)} cells but the header has {len(header.columns)}"]
    given = dict(zip(header.columns, (cell.strip() for cell in cells), strict=True))
    problems: list[str] = []
    values: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for column, value in given.items():
        if column not in COLUMNS:
            if len(value) > MAX_ATTRIBUTE_VALUE_CHARS:
                problems.append(
                    f"attribute {quote(column)} is longer than "
                    f"{MAX_ATTRIBUTE_VALUE_CHARS:,} characters"
                )
            attributes[column] = value
            continue
        try:
            values[column] = _clean(column, value)
        except ValueError as exc:
            problems.append(str(exc))
    if not given.get("name") and not given.get("email"):
        problems.append("needs a name or an email")
    identity = _identity(values.pop("source", ""), values.pop("external_id", ""), problems)
    return _Row(line, values, attributes, identity), problems


def _clean(column: str, value: str) -> Any:
    if column in DATE_FIELDS:
        return parse_datetime(column, value)
    max_length = _max_length(column)
    if max_length and len(value) > max_length:
        raise ValueError(f"{column} is longer than {max_length} characters")
    if column == "email" and value:
        try:
            validate_email(value)
        except ValidationError:
            raise ValueError(f"email {quote(value)} is not a valid email address") from None
    return value


def _max_length(column: str) -> int | None:
    model = Identity if column in ("source", "external_id") else Member
    return getattr(model._meta.get_field(column), "max_length", None)


def _identity(source: str, external_id: str, problems: list[str]) -> tuple[str, str] | None:
    if not external_id:
        if source:
            problems.append("source is given without an external_id")
        return None
    return (source or DEFAULT_SOURCE, external_id)


def _duplicate_problems(
    row: _Row, seen_identities: dict[tuple[str, str], int], seen_emails: dict[str, int]
) -> list[str]:
    """Remember the row's keys; complain about the ones an earlier row already used."""
    problems = []
    if row.identity:
        earlier = seen_identities.setdefault(row.identity, row.line)
        if earlier != row.line:
            problems.append(f"{row.identity_label} repeats line {earlier}")
    if row.email_key:
        earlier = seen_emails.setdefault(row.email_key, row.line)
        if earlier != row.line:
            problems.append(f"email {quote(row.values['email'])} repeats line {earlier}")
    return problems


# Writing ------------------------------------------------------------------------------------


class _ChunkWriter:
    """Collects valid rows and upserts them CHUNK_SIZE at a time."""

    def __init__(self, community: Community, header: _Header, report: ImportReport) -> None:
        self.community = community
        self.report = report
        self.update_fields = [*header.member_fields, "updated_at"]
        if header.has_attributes:
            self.update_fields.append("attributes")
        self.pending: list[_Row] = []
        self.pending_chars = 0
        # Existing members this import has updated, with the line that did it.
        self.claimed: dict[int, int] = {}
        self.written_ids: list[int] = []  # Members this import created or updated.

    def add(self, row: _Row) -> None:
        self.pending.append(row)
        self.pending_chars += row.size
        if len(self.pending) >= CHUNK_SIZE or self.pending_chars >= CHUNK_CHARS:
            self.flush()

    def flush(self) -> None:
        rows, self.pending, self.pending_chars = self.pending, [], 0
        if not rows:
            return
        by_identity, by_email = _existing_members(self.community, rows)
        created: list[Member] = []
        updated: list[Member] = []
        identities: list[Identity] = []
        for row in rows:
            member = self._match(row, by_identity, by_email)
            if member is None:
                continue
            row.apply_to(member)
            (updated if member.pk else created).append(member)
            if row.identity and row.identity not in by_identity:
                source, external_id = row.identity
                identities.append(
                    Identity(
                        community=self.community,
                        member=member,
                        source=source,
                        external_id=external_id,
                    )
                )
        now = timezone.now()
        for member in updated:
            member.updated_at = now  # bulk_update does not apply auto_now.
        Member.objects.bulk_create(created)
        Member.objects.bulk_update(updated, self.update_fields)
        Identity.objects.bulk_create(identities)
        self.report.created += len(created)
        self.report.updated += len(updated)
        self.written_ids += [member.pk for member in created + updated]

    def _match(
        self, row: _Row, by_identity: dict[tuple[str, str], Member], by_email: dict[str, Member]
    ) -> Member | None:
        """The member this row writes to (unsaved if new), or None after reporting why not."""
        member = by_identity.get(row.identity) if row.identity else None
        holder = by_email.get(row.email_key) if row.email_key else None
        if member is None:
            member = holder
        elif holder is not None and holder.pk != member.pk:
            self.report.add_error(
                row.line,
                f"email {quote(row.values['email'])} belongs to another member than "
                f"{row.identity_label}",
            )
            return None
        if member is None:
            return Member(community=self.community)
        earlier = self.claimed.setdefault(member.pk, row.line)
        if earlier != row.line:
            self.report.add_error(row.line, f"matches the same member as line {earlier}")
            return None
        return member


def _existing_members(
    community: Community, rows: Iterable[_Row]
) -> tuple[dict[tuple[str, str], Member], dict[str, Member]]:
    """The chunk's existing members by identity and by lower-cased email, in two queries."""
    ids_by_source: dict[str, list[str]] = defaultdict(list)
    emails = set()
    for row in rows:
        if row.identity:
            ids_by_source[row.identity[0]].append(row.identity[1])
        if row.email_key:
            emails.add(row.email_key)
    member_ids: dict[tuple[str, str], int] = {}
    if ids_by_source:
        matching = reduce(
            or_, (Q(source=s, external_id__in=ids) for s, ids in ids_by_source.items())
        )
        identities = Identity.objects.filter(community=community).filter(matching)
        member_ids = {
            (source, external_id): member_id
            for source, external_id, member_id in identities.values_list(
                "source", "external_id", "member_id"
            )
        }
    if not member_ids and not emails:
        return {}, {}
    found = (
        Member.objects.for_community(community)
        .annotate(email_lower=Lower("email"))
        .filter(Q(pk__in=member_ids.values()) | Q(email_lower__in=emails))
    )
    members: dict[int, Member] = {}
    by_email: dict[str, Member] = {}
    for member in found:
        members[member.pk] = member
        if member.email:
            by_email[member.email_lower] = member
    by_identity = {key: members[pk] for key, pk in member_ids.items()}
    return by_identity, by_email
