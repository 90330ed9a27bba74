"""The members CSV export (docs/cli.md "export_members"), of a whole community or of one segment.

`write_members_csv` streams: members are read 2,000 at a time in member id order (with their
scores joined and their identities prefetched per chunk), and each row is written as soon as it
is read, so memory stays flat however big the community. The `export_members` command writes to
a file; the Segment page can stream the same rows into a response.

Cells are protected against spreadsheet formula injection: a cell that starts with = + - @, a
tab or a carriage return gets a leading single quote, so a spreadsheet shows it as text. The
start is what a spreadsheet may read, not the first code point: invisible format characters
(zero-width space and joiners, word joiner, byte-order mark, soft hyphen, direction marks:
Unicode category Cf) are skipped, the first visible character is NFKC-normalised (the
full-width and small forms U+FF1D, U+FF0B, U+FF0D, U+FF20, U+FE66, … become = + - @) and the
minus sign U+2212 counts as "-". The quote goes before the cell exactly as stored, invisible
characters included.

The CSV starts with a UTF-8 byte-order mark: without one, Excel reads a CSV as the Windows code
page and shows "MÃ¼ller" for "Müller". A download is named after the segment (or the community)
and the day it was made in the community's time zone, e.g. "acme-customers-2026-12-06.csv".
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import F, Prefetch
from django.utils import timezone
from django.utils.text import slugify

from members.models import Community, Identity, Member

from .models import Segment

__all__ = [
    "BOM",
    "COLUMNS",
    "SEGMENT_COLUMNS",
    "content_disposition",
    "escape_cell",
    "export_filename",
    "member_rows",
    "write_members_csv",
]

COLUMNS = (
    "name",
    "email",
    "external_ids",
    "company_name",
    "job_title",
    "location",
    "city",
    "country",
    "joined_at",
    "last_seen_at",
    "frequency_score",
    "recency_score",
    "impact_score",
    "engagement_score",
)
SEGMENT_COLUMNS = (*COLUMNS, "entered_at")
CHUNK_SIZE = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ZERO = Decimal("0.00")
BOM = "\ufeff"  # encoded as UTF-8: EF BB BF
MAX_FILENAME_CHARS = 100


def escape_cell(value: str) -> str:
    """The cell as a spreadsheet will show it as text, never run it as a formula."""
    return "'" + value if _visible_start(value).startswith(FORMULA_STARTS) else value


def _visible_start(value: str) -> str:
    """The cell's first character after invisible format characters, NFKC-normalised ("" if
    none). Normalised alone, so a combining mark after "=" cannot compose it into "≠"."""
    for char in value:
        if unicodedata.category(char) != "Cf":
            return unicodedata.normalize("NFKC", char).replace("\N{MINUS SIGN}", "-")
    return ""


def _instant(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else ""


def _score(score, name: str) -> str:
    value = getattr(score, name) if score is not None else ZERO
    return f"{value:.2f}"


def member_rows(community: Community, *, segment: Segment | None = None) -> Iterator[list[str]]:
    """The header, then one row per member (of `segment` if given), in member id order."""
    members = (
        Member.objects.for_community(community)
        .select_related("score")
        .prefetch_related(
            Prefetch(
                "identities",
                queryset=Identity.objects.order_by("source", "external_id"),
                to_attr="ordered_identities",
            )
        )
        .order_by("pk")
    )
    if segment is not None:
        # The membership row the filter joins (one per member and segment) has the date.
        members = members.filter(memberships__segment=segment).annotate(
            entered_at=F("memberships__added_at")
        )
    yield list(SEGMENT_COLUMNS if segment is not None else COLUMNS)
    for member in members.iterator(chunk_size=CHUNK_SIZE):
        score = getattr(member, "score", None)
        row = [
            member.name,
            member.email,
            "; ".join(f"{i.source}:{i.external_id}" for i in member.ordered_identities),
            member.company_name,
            member.job_title,
            member.location,
            member.city,
            member.country,
            _instant(member.joined_at),
            _instant(member.last_seen_at),
            _score(score, "frequency"),
            _score(score, "recency"),
            _score(score, "impact"),
            _score(score, "engagement"),
        ]
        if segment is not None:
            row.append(_instant(member.entered_at))  # type: ignore[attr-defined]
        yield [escape_cell(cell) for cell in row]


class Writable(Protocol):
    def write(self, text: str, /) -> object: ...


def write_members_csv(
    out: Writable, community: Community, *, segment: Segment | None = None, bom: bool = True
) -> int:
    """Write the CSV to a text file object, after a byte-order mark unless `bom` is false;
    returns the number of members written."""
    if bom:
        out.write(BOM)
    writer = csv.writer(out)
    count = -1  # the header is not a member
    for row in member_rows(community, segment=segment):
        writer.writerow(row)
        count += 1
    return count


def export_filename(
    community: Community, *, segment: Segment | None = None, now: datetime | None = None
) -> str:
    """The download's file name: the segment's name slugified (or "<community slug>-members"),
    then the date in the community's time zone, e.g. "acme-customers-2026-12-06.csv". ASCII
    letters, digits and hyphens only, at most MAX_FILENAME_CHARS characters."""
    try:
        zone = ZoneInfo(community.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    day = (now or timezone.now()).astimezone(zone).date().isoformat()
    suffix = f"-{day}.csv"
    if segment is not None:
        stem = slugify(segment.name) or f"segment-{segment.pk}"
    else:
        stem = f"{slugify(community.slug) or 'community'}-members"
    # A slug starts with a letter or digit, so what is left after cutting is never empty.
    return stem[: MAX_FILENAME_CHARS - len(suffix)].rstrip("-_") + suffix


def content_disposition(filename: str) -> str:
    """An attachment header naming the file both ways RFC 6266 allows."""
    return f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
