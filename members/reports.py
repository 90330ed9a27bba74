"""What an import did: its counts and its line-numbered report (README "Imports").

Every row read ends as exactly one of: created, updated, unchanged (it would change nothing, so
nothing was written), skipped (left out for a reason that is not bad data, such as a row that
would duplicate a member) or invalid (bad data, listed in `errors`). A rolled-back import
created, updated and left unchanged nothing: its valid rows count as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportReport:
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)  # the invalid rows
    skips: list[RowError] = field(default_factory=list)  # why the skipped rows were left out
    rolled_back: bool = False  # An invalid row stopped the whole import.
    dry_run: bool = False  # Everything was done and counted, then rolled back.
    # Counts by what they count, for importers that write more than one thing (a platform's
    # export: members and activities of several kinds): [("Members created", 12), ...].
    details: list[tuple[str, int]] = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return len(self.errors)

    def add_error(self, line: int, message: str) -> None:
        self.errors.append(RowError(line, message))

    def add_skip(self, line: int, message: str) -> None:
        self.skips.append(RowError(line, message))
        self.skipped += 1

    def discard_writes(self) -> None:
        """The import was rolled back: every valid row counts as skipped."""
        self.rolled_back = True
        self.created = self.updated = self.unchanged = 0
        self.details = []
        self.skipped = self.rows_read - self.invalid

    def merge_errors(self) -> None:
        """One entry a line, in line order: a row found invalid twice has both reasons."""
        for name in ("errors", "skips"):
            entries = sorted(getattr(self, name), key=lambda error: error.line)
            merged = [
                RowError(line, "; ".join(error.message for error in group))
                for line, group in groupby(entries, key=lambda error: error.line)
            ]
            setattr(self, name, merged)

    def summary(self) -> str:
        rows = "row" if self.rows_read == 1 else "rows"
        unchanged = f"{self.unchanged} unchanged, " if self.unchanged else ""
        invalid = f", {self.invalid} invalid" if self.invalid else ""
        return (
            f"Read {self.rows_read} {rows}: {self.created} created, {self.updated} updated, "
            f"{unchanged}{self.skipped} skipped{invalid}."
        )
