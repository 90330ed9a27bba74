"""What every platform importer shares: one transaction behind the community's import lock,
members merged as a members file's rows are, activities written by their stable external ids,
and one report (README "Platforms").

An importer is a function `read(export, writer)` that reads a platform's export and hands the
writer what it found, members first:

    writer.merge_members(MemberRecords(fields, attributes, rows))
    writer.add_activity("message", when, member="U012AB3CD", external_id="C1:1712.0001", ...)
    writer.not_activity("channel_join")   # an entry read that is no member activity
    writer.note("Likes without users, not imported", 3)  # a count of the reader's own

`run_platform_import` wraps it: a malformed export raises ImportFileError (the message names
the file in the export and the entry) and writes nothing; an invalid member or activity is a
line of the report and rolls everything back unless invalid rows are skipped; a dry run does
everything, counts it, and rolls back. Activities carry external ids, so a second import of
the same export creates nothing and updates nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import IO

from django.db.models import Model

from engagement.importing import ActivityRow, ActivityWriter
from engagement.models import Activity, ActivityKind
from members.csv_import import ImportFileError
from members.importing import MemberRecords, merge_member_records
from members.locks import import_transaction
from members.mapping import ImportOptions
from members.models import Community
from members.reports import ImportReport, RowError

from .archives import Export, open_export

Progress = Callable[..., object]  # progress(rows_read, bytes_read=None)
Reader = Callable[[Export, "PlatformWriter"], None]
PROGRESS_EVERY = 5_000  # entries between two progress reports


class PlatformWriter:
    """Receives what a platform reader finds and writes it (see the module's docstring)."""

    def __init__(
        self,
        community: Community,
        source: str,
        export: Export,
        *,
        kinds: Iterable[str],
        progress: Progress | None = None,
    ) -> None:
        self.community = community
        self.source = source
        self.export = export
        self.members = ImportReport()
        self.activities = ImportReport()
        self.skipped: Counter[str] = Counter()  # entries that are no member activity, by why
        self.member_ids: set[int] = set()  # created or updated
        self.skipped_activities = 0  # of members whose entry is invalid
        self.notes: list[tuple[str, int]] = []
        self.entries = 0
        self._progress = progress
        export.on_entry_read = self._report_progress
        self._kinds = self._activity_kinds(kinds)
        # Readers write activities only for the members they merged: a member that is not
        # found had an invalid entry, which the report lists already.
        self._writer = ActivityWriter(
            community, self.activities, on_unknown_member=self._member_invalid
        )
        self._merged = False

    # What readers call.

    def merge_members(self, records: MemberRecords, *, where: Callable[[int], str]) -> None:
        """Merge the export's members (before any activity: activities find them by their
        identity). `where(line)` names a record's place for the report ("users.json, user
        U012AB3CD")."""
        report = ImportReport()
        self.member_ids.update(
            merge_member_records(community=self.community, records=records, report=report)
        )
        report.merge_errors()
        for name in ("errors", "skips"):
            getattr(self.members, name).extend(
                RowError(entry.line, f"{where(entry.line)}: {entry.message}")
                for entry in getattr(report, name)
            )
        for name in ("rows_read", "created", "updated", "unchanged", "skipped"):
            setattr(self.members, name, getattr(self.members, name) + getattr(report, name))
        self._merged = True
        self.read(report.rows_read)

    def add_activity(
        self,
        kind: str,
        occurred_at: datetime,
        *,
        member: str,
        external_id: str,
        channel: str = "",
        title: str = "",
        url: str = "",
    ) -> None:
        """An activity of the member whose identity (this platform, `member`) was merged."""
        if not self._merged:
            raise RuntimeError("merge_members comes before the first activity")
        self.activities.rows_read += 1
        self._writer.add(
            ActivityRow(
                line=self.activities.rows_read,
                kind=self._kinds[kind],
                occurred_at=occurred_at,
                source=self.source,
                member_identity=(self.source, member),
                external_id=external_id[:_EXTERNAL_ID_MAX],
                channel=channel[:_CHANNEL_MAX],
                title=title[:_TITLE_MAX],
                url=url if len(url) <= _URL_MAX else "",
            )
        )
        self.read()

    def note(self, label: str, count: int) -> None:
        """A count of the reader's own for the report ("Likes without users, not imported")."""
        self.notes.append((label, count))

    def not_activity(self, why: str) -> None:
        """An entry read that is no member activity (a join, a bot's message ...)."""
        self.skipped[why] += 1
        self.read()

    def _member_invalid(self, row: ActivityRow) -> None:
        self.activities.skipped += 1
        self.skipped_activities += 1

    def read(self, entries: int = 1) -> None:
        """Count entries read, and report progress now and then."""
        before, self.entries = self.entries, self.entries + entries
        if before // PROGRESS_EVERY != self.entries // PROGRESS_EVERY:
            self._report_progress()

    def _report_progress(self) -> None:
        if self._progress is not None:
            self._progress(self.entries, self.export.progress_bytes)

    # What run_platform_import calls.

    def finish(self, report: ImportReport) -> None:
        """Write what waits, and count everything in `report`."""
        self._writer.flush()
        report.rows_read = self.members.rows_read + self.activities.rows_read
        report.created = self.members.created + self.activities.created
        report.updated = self.members.updated
        report.unchanged = self.members.unchanged + self.activities.unchanged
        report.skipped = self.members.skipped + self.activities.skipped
        report.errors = [*self.members.errors, *self.activities.errors]
        report.skips = [*self.members.skips, *self.activities.skips]
        report.details = [
            ("Members created", self.members.created),
            ("Members updated", self.members.updated),
            ("Members unchanged", self.members.unchanged),
            *(
                (f"Activities created: {slug}", count)
                for slug, count in sorted(self._writer.created_by_kind.items())
            ),
            ("Activities already imported", self.activities.unchanged),
            *(
                [("Activities left out: their member's entry is invalid", n)]
                if (n := self.skipped_activities)
                else []
            ),
            *((f"Not member activity: {why}", n) for why, n in sorted(self.skipped.items())),
            *self.notes,
        ]

    def touched_member_ids(self) -> set[int]:
        """The members created or updated, and those with a new activity."""
        return self.member_ids | self._writer.member_ids

    def _activity_kinds(self, slugs: Iterable[str]) -> dict[str, ActivityKind]:
        wanted = list(slugs)
        kinds = {
            kind.slug: kind
            for kind in ActivityKind.objects.for_community(self.community).filter(slug__in=wanted)
        }
        if absent := [slug for slug in wanted if slug not in kinds]:
            raise ImportFileError(
                f"The community has no activity kind {', '.join(absent)}; add it on the "
                "Activity kinds page first."
            )
        return kinds


def run_platform_import(
    *,
    community: Community,
    file: IO[bytes] | Path,
    source: str,
    kinds: Iterable[str],
    read: Reader,
    options: ImportOptions | None = None,  # an export has nothing to map: unused
    skip_invalid: bool = False,
    progress: Progress | None = None,
    dry_run: bool = False,
    label: str = "",
    passes: int = 1,
) -> ImportReport:
    """Import the export at `file` with `read` (see the module's docstring); `label` names it
    in messages (the uploaded file's name). `passes`: how many times `read` reads every file
    of the export (twice when it must know every member before it writes an activity), for
    the progress bar.

    A platform's importer is this function with its own source, kinds, reader and passes:
    `import_slack = partial(run_platform_import, source="slack", ...)`."""
    report = ImportReport()
    with (
        open_export(file, label=label) as export,
        import_transaction(
            community, report, skip_invalid=skip_invalid, dry_run=dry_run
        ) as changed,
    ):
        export.passes = passes
        writer = PlatformWriter(community, source, export, kinds=kinds, progress=progress)
        read(export, writer)
        writer.finish(report)
        changed.update(writer.touched_member_ids())
    return report


def _max_length(model: type[Model], name: str) -> int:
    return getattr(model._meta.get_field(name), "max_length", None) or 10**9


_EXTERNAL_ID_MAX = _max_length(Activity, "external_id")
_CHANNEL_MAX = _max_length(Activity, "channel")
_TITLE_MAX = _max_length(Activity, "title")
_URL_MAX = _max_length(Activity, "url")
