"""What every CSV importer shares (DESIGN §8): the report, file-level and row errors, reading the
header, numbering records by the physical line they start on, and parsing ISO 8601 dates.

An importer opens the caller's binary file with `open_csv`, reads the header with `read_header`,
then walks `numbered_records`; problems with the file as a whole raise `ImportFileError`, problems
with one row go into the `ImportReport` as `RowError`s.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO


class ImportFileError(Exception):
    """The file cannot be read as a CSV of the expected kind at all; nothing was written."""


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
    unchanged: int = 0  # Rows that were already imported (activities with a known external_id).
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    rolled_back: bool = False  # An invalid row stopped the whole import.

    def add_error(self, line: int, message: str) -> None:
        self.errors.append(RowError(line, message))
        self.skipped += 1

    def discard_writes(self) -> None:
        """The import was rolled back: every row counts as skipped."""
        self.rolled_back = True
        self.created = self.updated = self.unchanged = 0
        self.skipped = self.rows_read

    def summary(self) -> str:
        rows = "row" if self.rows_read == 1 else "rows"
        unchanged = f"{self.unchanged} unchanged, " if self.unchanged else ""
        return (
            f"Read {self.rows_read} {rows}: {self.created} created, {self.updated} updated, "
            f"{unchanged}{self.skipped} skipped."
        )


# A physical line longer than this is refused before csv sees it: TextIOWrapper would otherwise
# read a file without line breaks into memory whole. Cells are capped by csv.field_size_limit()
# (128 KiB by default), so a real row is far shorter.
MAX_LINE_CHARS = 4_000_000
UTF8_ADVICE = 'Save it as "CSV UTF-8" and try again.'


class _Lines:
    """The text's physical lines for csv.reader, each at most MAX_LINE_CHARS long and without
    NUL characters; keeps the lines of the record being read to locate an over-long cell."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self.text = text
        self.count = 0
        self.record: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.text.readline(MAX_LINE_CHARS + 2)  # room for a "\r\n" after the limit
        if not line:
            raise StopIteration
        self.count += 1
        if len(line.rstrip("\r\n")) > MAX_LINE_CHARS:
            raise ImportFileError(
                f"line {self.count} is longer than {MAX_LINE_CHARS:,} characters: a CSV file has "
                "one row per line."
            )
        if "\x00" in line:
            # UTF-16 without a byte-order mark decodes as UTF-8 full of NULs, and PostgreSQL
            # refuses NUL in text.
            raise ImportFileError(
                f"The file is not UTF-8 text (a NUL character on line {self.count}). {UTF8_ADVICE}"
            )
        self.record.append(line)
        return line


class CsvReader:
    """csv.reader over `_Lines`: iterating gives the records, `line_num` the lines read."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self.lines = _Lines(text)
        self._reader = csv.reader(self.lines)
        self.columns: tuple[str, ...] = ()  # the header's, once read_header has read it

    @property
    def line_num(self) -> int:
        return self._reader.line_num

    def __iter__(self) -> CsvReader:
        return self

    def __next__(self) -> list[str]:
        self.lines.record.clear()
        return next(self._reader)


@contextmanager
def open_csv(file: IO[bytes]) -> Iterator[CsvReader]:
    """A csv reader over the caller's binary file, which stays open afterwards."""
    # utf-8-sig drops a byte-order mark; newline="" lets csv handle quoted line breaks.
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        yield CsvReader(text)
    finally:
        text.detach()  # Leave the caller's file open.


def read_header(reader: CsvReader, known_columns: Iterable[str]) -> tuple[str, ...]:
    """The header's column names: known ones lower-cased, others as written (stripped)."""
    cells = next(records(reader), None)
    if cells is None:
        raise ImportFileError("The file is empty: expected a header row naming the columns.")
    known = set(known_columns)
    columns = tuple(
        cell.strip().lower() if cell.strip().lower() in known else cell.strip() for cell in cells
    )
    seen: set[str] = set()
    for position, column in enumerate(columns, start=1):
        if not column:
            raise ImportFileError(f"Column {position} of the header (line 1) has no name.")
        if column.lower() in seen:
            raise ImportFileError(f"The header (line 1) names the column {quote(column)} twice.")
        seen.add(column.lower())
    reader.columns = columns
    return columns


def records(reader: CsvReader) -> Iterator[list[str]]:
    """The reader's rows, turning undecodable or malformed input into an `ImportFileError`."""
    try:
        yield from reader
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"The file is not UTF-8 text (undecodable bytes near line {reader.line_num + 1}). "
            + UTF8_ADVICE
        ) from exc
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _too_long_cell(reader) from exc
        raise ImportFileError(f"line {reader.line_num}: the CSV is malformed ({exc}).") from exc


def _too_long_cell(reader: CsvReader) -> ImportFileError:
    """The error for a cell over csv.field_size_limit(), naming its line and column."""
    limit = csv.field_size_limit()
    lines = reader.lines.record
    start = reader.lines.count - len(lines) + 1  # the record's first line
    position, length, quoted = 1, 0, False
    text = "".join(lines)
    index = 0
    # Walk the record as csv's default dialect does, to the cell that passes the limit.
    while index < len(text) and length <= limit:
        char = text[index]
        if quoted and char == '"' and text[index + 1 : index + 2] == '"':
            length += 1
            index += 1
        elif char == '"' and (quoted or length == 0):
            quoted = not quoted
        elif char == "," and not quoted:
            position, length = position + 1, 0
        else:
            length += 1
        index += 1
    column = reader.columns[position - 1] if position <= len(reader.columns) else ""
    named = f' ("{column}")' if column else ""
    return ImportFileError(
        f"line {start}, column {position}{named}: the cell is longer than {limit:,} characters."
    )


def numbered_records(reader: CsvReader) -> Iterator[tuple[int, list[str]]]:
    """The data rows after the header with the line each starts on; blank rows left out."""
    end = reader.line_num
    for cells in records(reader):
        # A record can span several physical lines; report the one it starts on.
        line, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # Blank lines, and spreadsheets' trailing ",,,," rows, are not rows.
        yield line, cells


def parse_datetime(column: str, value: str) -> datetime | None:
    """An ISO 8601 date or date-time; no offset means UTC. Empty means unknown.

    Raises ValueError with a message naming the column and the value.
    """
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)  # A date alone gives midnight.
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"{column} {quote(value)} is not an ISO 8601 date or date-time") from None


def quote(value: str, limit: int = 60) -> str:
    return f'"{value[:limit]}…"' if len(value) > limit else f'"{value}"'


def list_names(names: Sequence[str], limit: int = 10) -> str:
    """Column names for a message, bounded however many and long they are: the first `limit`,
    each cut to 60 characters, then how many more."""
    shown = [name if len(name) <= 60 else f"{name[:60]}…" for name in names[:limit]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more else "")
