"""Import activities from a CSV file (DESIGN §8 "Activities CSV").

Same behaviour as the members import: the file is streamed, rows are validated and written in
chunks with a few set-based queries per chunk, inside one transaction; unless `skip_invalid` is
set, one invalid row (an unknown member or kind among them) rolls everything back. Activities
with an external_id are unique per (community, source, external_id): a row whose activity is
already there is left alone and counted as unchanged, so re-importing a file changes nothing,
also when two imports of it meet: imports into one community run one after another
(members/locks.py).

`ActivityWriter` is also what the Stack Exchange importer writes with.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import or_
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower

from members.csv_import import (
    ImportFileError,
    ImportReport,
    list_names,
    numbered_records,
    open_csv,
    parse_datetime,
    quote,
    read_header,
)
from members.locks import import_lock
from members.models import Community, Identity, Member
from members.signals import members_changed

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
DEFAULT_SOURCE = "csv"
CHUNK_SIZE = 1000

_validate_url = URLValidator(schemes=["http", "https"])


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


def import_activities(
    *, community: Community, file: IO[bytes], skip_invalid: bool = False
) -> ImportReport:
    """Add the community's activities from a CSV file opened in binary mode."""
    report = ImportReport()
    kinds = {kind.slug: kind for kind in ActivityKind.objects.for_community(community)}
    with open_csv(file) as reader, transaction.atomic():
        import_lock(community.pk)  # another import of the community finishes first
        columns = _read_header(reader)
        writer = ActivityWriter(community, report)
        seen: dict[tuple[str, str], int] = {}
        for line, cells in numbered_records(reader):
            report.rows_read += 1
            row, problems = _parse_row(cells, line, columns, kinds)
            if row is not None and row.external_id:
                earlier = seen.setdefault((row.source, row.external_id), line)
                if earlier != line:
                    problems.append(
                        f"{row.source} external_id {quote(row.external_id)} repeats line {earlier}"
                    )
            if row is None or problems:
                report.add_error(line, "; ".join(problems))
                continue
            writer.add(row)
        writer.flush()
        if report.errors and not skip_invalid:
            transaction.set_rollback(True)
            report.discard_writes()
        else:
            # Their last_seen_at may move (engagement/signals.py) and segments re-evaluate them.
            members_changed.send(
                Member, community=community, member_ids=writer.initiated_member_ids
            )
    report.errors.sort(key=lambda error: error.line)
    return report


# Reading and validating ---------------------------------------------------------------------


def _read_header(reader: Any) -> tuple[str, ...]:
    columns = read_header(reader, COLUMNS)
    unknown = [column for column in columns if column not in COLUMNS]
    if unknown:
        raise ImportFileError(
            f"The header (line 1) has unknown columns: {list_names(unknown)}. "
            f"Known columns: {', '.join(COLUMNS)}."
        )
    missing = [column for column in ("kind", "occurred_at") if column not in columns]
    if "member_external_id" not in columns and "member_email" not in columns:
        missing.append("member_external_id or member_email")
    if missing:
        raise ImportFileError(
            f"The first line must be a header naming the columns; missing: {', '.join(missing)}."
        )
    return columns


def _parse_row(
    cells: list[str], line: int, columns: tuple[str, ...], kinds: dict[str, ActivityKind]
) -> tuple[ActivityRow | None, list[str]]:
    if len(cells) != len(columns):
        return None, [f"has {len(cells)} cells but the header has {len(columns)}"]
    given = dict(zip(columns, (cell.strip() for cell in cells), strict=True))
    problems: list[str] = []
    for column, value in given.items():
        max_length = _max_length(column)
        if max_length and len(value) > max_length:
            problems.append(f"{column} is longer than {max_length} characters")

    kind = kinds.get(given["kind"])
    if not given["kind"]:
        problems.append("needs a kind")
    elif kind is None:
        problems.append(f"unknown kind {quote(given['kind'])}; known kinds: {', '.join(kinds)}")
    occurred_at = None
    try:
        occurred_at = parse_datetime("occurred_at", given["occurred_at"])
        if occurred_at is None:
            problems.append("needs an occurred_at")
    except ValueError as exc:
        problems.append(str(exc))

    source = given.get("source") or DEFAULT_SOURCE
    member_external_id = given.get("member_external_id", "")
    member_email = given.get("member_email", "")
    if not member_external_id and not member_email:
        problems.append("needs a member_external_id or a member_email")
    if member_email:
        try:
            validate_email(member_email)
        except ValidationError:
            problems.append(f"member_email {quote(member_email)} is not a valid email address")
    url = given.get("url", "")
    if url:
        try:
            _validate_url(url)
        except ValidationError:
            problems.append(f"url {quote(url)} is not an http or https URL")

    if kind is None or occurred_at is None:
        return None, problems
    row = ActivityRow(
        line=line,
        kind=kind,
        occurred_at=occurred_at,
        source=source,
        member_identity=(source, member_external_id) if member_external_id else None,
        member_email=member_email,
        external_id=given.get("external_id", ""),
        channel=given.get("channel", ""),
        title=given.get("title", ""),
        url=url,
    )
    return row, problems


def _max_length(column: str) -> int | None:
    if column == "member_external_id":
        return getattr(Identity._meta.get_field("external_id"), "max_length", None)
    if column in ("source", "external_id", "channel", "title", "url"):
        return getattr(Activity._meta.get_field(column), "max_length", None)
    return None


# Writing ------------------------------------------------------------------------------------


class ActivityWriter:
    """Collects valid rows and writes them CHUNK_SIZE at a time, in a few queries per chunk.

    A row whose member is not found is reported as a row error; a row whose (source,
    external_id) is already stored counts as unchanged.
    """

    def __init__(
        self, community: Community, report: ImportReport, chunk_size: int | None = None
    ) -> None:
        self.community = community
        self.report = report
        self.chunk_size = chunk_size or CHUNK_SIZE
        self.pending: list[ActivityRow] = []
        # Members with a new initiated activity: their last_seen_at may move forward.
        self.initiated_member_ids: set[int] = set()
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
        stored = _stored_external_ids(self.community, rows)
        activities = []
        written: list[ActivityRow] = []
        for row in rows:
            member_id = by_identity.get(row.member_identity) if row.member_identity else None
            if member_id is None and row.member_email:
                member_id = by_email.get(row.member_email.lower())
            if member_id is None:
                self.report.add_error(row.line, f"unknown member: no {row.member_label}")
                continue
            if row.external_id and (row.source, row.external_id) in stored:
                self.report.unchanged += 1
                continue
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
            if row.kind.initiated:
                self.initiated_member_ids.add(member_id)
        Activity.objects.bulk_create(activities)
        self.report.created += len(activities)
        self.created_by_kind.update(row.kind.slug for row in written)


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
            .annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails)
            .values_list("email_lower", "pk")
        )
        by_email = dict(found)
    return by_identity, by_email


def _stored_external_ids(community: Community, rows: Iterable[ActivityRow]) -> set[tuple[str, str]]:
    matching = _by_source((row.source, row.external_id) for row in rows if row.external_id)
    if matching is None:
        return set()
    stored = Activity.objects.for_community(community).filter(matching)
    return set(stored.values_list("source", "external_id"))
