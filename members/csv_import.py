"""What every importer shares to read a table (README "Imports"): file-level errors, reading the
header, and numbering records by the physical line they start on.

An importer opens the caller's binary file with `open_table` (a CSV in one of ENCODINGS, or an
Excel workbook's first sheet), or `open_csv`/`open_xlsx` directly, reads the header with
`read_header`, then walks `numbered_records`; problems with the file as a whole raise
`ImportFileError`, problems with one row go into the `ImportReport` (members/reports.py).
Dates are read by members/mapping.py.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dt_time
from typing import IO, Any, Protocol


class ImportFileError(Exception):
    """The file cannot be read as a CSV of the expected kind at all; nothing was written."""


# Reading a table -------------------------------------------------------------------------------

# The encodings a CSV may be read in, as the Imports page offers them. A byte-order mark at the
# start of the file decides whatever the choice (it is unambiguous); the choice applies to files
# without one.
ENCODINGS: dict[str, str] = {
    "utf-8": "UTF-8 (with or without BOM)",
    "utf-16": "UTF-16 (with BOM)",
    "windows-1252": "Windows-1252 (Excel on Windows, Western Europe)",
}
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
ZIP_MAGIC = b"PK\x03\x04"

# A physical line longer than this is refused before csv sees it: TextIOWrapper would otherwise
# read a file without line breaks into memory whole. Cells are capped by csv.field_size_limit()
# (128 KiB by default), so a real row is far shorter.
MAX_LINE_CHARS = 4_000_000
UTF8_ADVICE = 'Save it as "CSV UTF-8" and try again.'
WINDOWS_1252 = "Windows-1252"
SNIPPET_CHARS = 30  # of the line shown either side of undecodable bytes

# Undecodable bytes are decoded to the lone surrogates U+DC00 + byte (as "surrogateescape" does,
# for bytes under 0x80 too, which UTF-16 needs), so the line they are on can be named exactly:
# TextIOWrapper decodes 8 KiB ahead, and a strict decoder fails while an earlier line is read.
# No codec decodes valid input to a lone surrogate, so any in the text marks a bad byte.
_MARK_BYTES = "communityos.mark-bytes"
_MARKED = re.compile("[\udc00-\udcff]+")


def _mark_bytes(error: UnicodeError) -> tuple[str | bytes, int]:
    if isinstance(error, UnicodeDecodeError):
        bad = error.object[error.start : error.end]
        return "".join(chr(0xDC00 + byte) for byte in bad), error.end
    if isinstance(error, UnicodeEncodeError):  # back to the bytes, to show them
        chars = error.object[error.start : error.end]
        if all(0xDC00 <= ord(char) <= 0xDCFF for char in chars):
            return bytes(ord(char) - 0xDC00 for char in chars), error.end
    raise error


codecs.register_error(_MARK_BYTES, _mark_bytes)


@dataclass(frozen=True)
class _Decoding:
    codec: str
    label: str  # as messages name it


_CODECS = {
    "utf-8": _Decoding("utf-8-sig", "UTF-8"),  # utf-8-sig drops a byte-order mark
    "utf-16": _Decoding("utf-16", "UTF-16"),  # reads the byte order from the mark
    "windows-1252": _Decoding("cp1252", WINDOWS_1252),
}


class TableReader(Protocol):
    """What importers use of a reader: its records (lists of cell strings), the line the last
    record started on and the last line read (for a workbook both are the row number), and the
    header's columns once `read_header` has set them."""

    columns: tuple[str, ...]

    @property
    def line_num(self) -> int: ...

    @property
    def start_line(self) -> int: ...

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


class _Lines:
    """The text's physical lines for csv.reader, each at most MAX_LINE_CHARS long, without NUL
    characters and undecodable bytes; keeps the lines of the record being read to locate an
    over-long cell."""

    def __init__(self, text: io.TextIOWrapper, decoding: _Decoding) -> None:
        self.text = text
        self.decoding = decoding
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
                f"The file is not {self.decoding.label} text (a NUL character on line "
                f"{self.count}). {UTF8_ADVICE}"
            )
        if not line.isascii() and (bad := _MARKED.search(line)):
            raise _undecodable(line.rstrip("\r\n"), bad, self.count, self.decoding)
        self.record.append(line)
        return line


def _undecodable(
    line: str, bad: re.Match[str], number: int, decoding: _Decoding
) -> ImportFileError:
    """The error for a line with undecodable bytes: which bytes, where, and what to do."""
    shown = " ".join(f"0x{ord(char) - 0xDC00:02X}" for char in bad.group()[:4])
    start = max(0, bad.start() - SNIPPET_CHARS)
    end = min(bad.end(), bad.start() + SNIPPET_CHARS) + SNIPPET_CHARS
    window = line[start:end]
    snippet = _MARKED.sub(lambda m: "".join(f"\\x{ord(c) - 0xDC00:02X}" for c in m.group()), window)
    found = f'{"byte" if len(bad.group()) == 1 else "bytes"} {shown} in "{snippet}"'
    if decoding.codec == "utf-8-sig":
        advice = UTF8_ADVICE
        other = _reads_as(line, window, "utf-8", "cp1252")
        if other is not None:
            advice = (
                f'Save it as "CSV UTF-8" and try again, or choose {ENCODINGS["windows-1252"]}, '
                f'which reads that part of the line as "{other}".'
            )
        return ImportFileError(
            f"The file is not UTF-8 text: line {number} has bytes that are not UTF-8 ({found}). "
            + advice
        )
    if decoding.codec == "cp1252":
        advice = 'Save it as "CSV UTF-8" and choose UTF-8.'
        other = _reads_as(line, window, "cp1252", "utf-8")
        if other is not None:
            advice = f'Choose UTF-8: the file reads as UTF-8 ("{other}").'
        return ImportFileError(
            f"The file is not {WINDOWS_1252} text: line {number} has bytes that {WINDOWS_1252} "
            f"does not define ({found}). " + advice
        )
    return ImportFileError(
        f"The file is not {decoding.label} text: line {number} has bytes that are not "
        f"{decoding.label} ({found}). {UTF8_ADVICE}"
    )


def _reads_as(line: str, window: str, codec: str, other: str) -> str | None:
    """The window of the line as the other codec reads its bytes, if it reads the whole line."""
    try:
        line.encode(codec, _MARK_BYTES).decode(other)
        return window.encode(codec, _MARK_BYTES).decode(other, "replace")
    except UnicodeError:
        return None


class CsvReader:
    """csv.reader over `_Lines`: iterating gives the records, `line_num` the lines read."""

    def __init__(self, text: io.TextIOWrapper, decoding: _Decoding | None = None) -> None:
        self.lines = _Lines(text, decoding or _CODECS["utf-8"])
        self._reader = csv.reader(self.lines)
        self.columns: tuple[str, ...] = ()  # the header's, once read_header has read it
        self.start_line = 0  # the physical line the last record started on

    @property
    def line_num(self) -> int:
        return self._reader.line_num

    def __iter__(self) -> CsvReader:
        return self

    def __next__(self) -> list[str]:
        self.lines.record.clear()
        self.start_line = self._reader.line_num + 1
        return next(self._reader)


@contextmanager
def open_csv(file: IO[bytes], encoding: str = "utf-8") -> Iterator[CsvReader]:
    """A csv reader over the caller's binary file, which stays open afterwards.

    `encoding` is a key of ENCODINGS. A byte-order mark decides whatever it says: UTF-8's, or
    UTF-16's (little- or big-endian). Without one, "utf-16" is refused (the byte order is
    unknown), "utf-8" and "windows-1252" read the file so.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"Unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}.")
    head, stream = _peek(file, 3)
    if head.startswith(UTF16_BOMS):
        decoding = _CODECS["utf-16"]
    elif head.startswith(UTF8_BOM):
        decoding = _CODECS["utf-8"]
    elif encoding == "utf-16" and head:
        raise ImportFileError(
            "The file does not start with a UTF-16 byte-order mark (BOM), so it cannot be read "
            'as UTF-16. Save it as "CSV UTF-8" (or as UTF-16 with a BOM) and try again, or '
            "choose the encoding it was saved in."
        )
    else:
        decoding = _CODECS[encoding]
    # newline="" lets csv handle quoted line breaks.
    text = io.TextIOWrapper(stream, encoding=decoding.codec, errors=_MARK_BYTES, newline="")
    try:
        yield CsvReader(text, decoding)
    finally:
        text.detach()  # Leave the caller's file open.


@contextmanager
def open_table(
    file: IO[bytes], *, file_name: str, encoding: str = "utf-8"
) -> Iterator[TableReader]:
    """A reader over the caller's binary file, which stays open afterwards: an Excel workbook's
    first sheet (`open_xlsx`) if the name ends in .xlsx or the file is a zip, else a CSV
    (`open_csv`) in `encoding`, a key of ENCODINGS."""
    if encoding not in ENCODINGS:
        raise ValueError(f"Unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}.")
    head, stream = _peek(file, len(ZIP_MAGIC))
    # An old .xls (or a password-protected workbook) goes there too, to be refused by name.
    if file_name.lower().endswith(".xlsx") or head.startswith((ZIP_MAGIC, _OLE_MAGIC)):
        with open_xlsx(stream) as workbook:
            yield workbook
    else:
        with open_csv(stream, encoding) as reader:
            yield reader


def _peek(file: IO[bytes], size: int) -> tuple[bytes, IO[bytes]]:
    """The file's first `size` bytes (fewer if it is shorter), and a stream that still starts
    with them: the file itself rewound if it can seek, else a buffer over it."""
    seekable = file.seekable()
    position = file.tell() if seekable else 0
    head = b""
    while len(head) < size:
        chunk = file.read(size - len(head))
        if not chunk:
            break
        head += chunk
    if seekable:
        file.seek(position)
        return head, file
    return head, io.BufferedReader(_Prefixed(head, file))


class _Prefixed(io.RawIOBase):
    """`head`, then the rest of `file`; closing it leaves `file` open."""

    def __init__(self, head: bytes, file: IO[bytes]) -> None:
        self.head = head
        self.file = file

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        if self.head:
            data, self.head = self.head[:size], self.head[size:]
        else:
            data = self.file.read(size) or b""
        buffer[: len(data)] = data
        return len(data)


# Excel workbooks -------------------------------------------------------------------------------

MAX_COLUMNS = 200  # a workbook's sheet; wider is refused
MAX_ROWS = 1_048_576  # Excel's own limit; only a crafted file has more
# Checked on the zip's directory before openpyxl reads anything: a zip bomb unpacks to far more
# than a real workbook, which compresses about 5-20 times.
MAX_XLSX_ENTRIES = 10_000
MAX_XLSX_UNPACKED = 1_000_000_000  # bytes
MAX_XLSX_RATIO = 50  # unpacked over packed size, above...
XLSX_RATIO_FROM = 20_000_000  # ...this many unpacked bytes (a small file may compress well)
XLSX_ADVICE = 'Save it as "Excel Workbook (.xlsx)" or as "CSV UTF-8" and try again.'
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old .xls files and password-protected workbooks


class XlsxReader:
    """The first sheet's rows as lists of cell strings, like `CsvReader`: `line_num` and
    `start_line` are the row number. Trailing empty cells are left out, and once the header is
    read a shorter row is padded with empty cells to its width."""

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self.columns: tuple[str, ...] = ()
        self.line_num = 0
        self.start_line = 0

    def __iter__(self) -> XlsxReader:
        return self

    def __next__(self) -> list[str]:
        if self.line_num >= MAX_ROWS:
            raise ImportFileError(f"The sheet has more than {MAX_ROWS:,} rows.")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl warns about what it leaves out
                row = next(self._rows)
        except StopIteration:
            raise
        except Exception as exc:
            raise ImportFileError(
                f"Row {self.line_num + 1} of the workbook cannot be read ({_reason(exc)}). "
                + XLSX_ADVICE
            ) from exc
        self.line_num += 1
        self.start_line = self.line_num
        cells = [_cell_text(cell) for cell in row]
        while cells and not cells[-1].strip():
            cells.pop()  # a sheet has no visible end of row
        if len(cells) > MAX_COLUMNS:
            raise ImportFileError(
                f"Row {self.line_num} of the sheet has {len(cells):,} columns; a sheet may have "
                f"at most {MAX_COLUMNS}."
            )
        limit = csv.field_size_limit()
        for position, cell in enumerate(cells, start=1):
            if len(cell) > limit:
                column = self.columns[position - 1] if position <= len(self.columns) else ""
                named = f' ("{column}")' if column else ""
                raise ImportFileError(
                    f"line {self.line_num}, column {position}{named}: the cell is longer than "
                    f"{limit:,} characters."
                )
        if len(cells) < len(self.columns):
            cells += [""] * (len(self.columns) - len(cells))
        return cells


@contextmanager
def open_xlsx(file: IO[bytes]) -> Iterator[XlsxReader]:
    """A reader over the first worksheet of the Excel workbook (.xlsx) in the caller's binary
    file, which stays open afterwards. Rows stream (openpyxl's read-only mode); formulas give
    the value Excel last calculated (none if it never did)."""
    import openpyxl  # here: importing it takes a while, and most imports are CSV

    with ExitStack() as stack:
        source = file
        if not file.seekable():  # a zip's directory is at its end: read from a seekable copy
            source = stack.enter_context(tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024))
            shutil.copyfileobj(file, source, 64 * 1024)
            source.seek(0)
        start = source.tell()
        _check_zip(source)
        source.seek(start)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl warns about what it leaves out
                workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
        except Exception as exc:
            raise ImportFileError(
                f"The file is not an Excel workbook (.xlsx) that can be read ({_reason(exc)}). "
                + XLSX_ADVICE
            ) from exc
        # read-only mode keeps the zip open until closed; closing leaves the caller's file open.
        stack.callback(workbook.close)
        if not workbook.worksheets:
            raise ImportFileError("The workbook has no worksheet.")
        sheet = workbook.worksheets[0]
        # The size a sheet declares may be wrong, and would cut rows short: read each row whole.
        sheet.reset_dimensions()
        yield XlsxReader(iter(sheet.iter_rows()))


def _check_zip(source: IO[bytes]) -> None:
    """Refuse what is not a zip, and a zip that would unpack to too much, before openpyxl
    unpacks anything. zipfile never unpacks an entry past the size its directory declares."""
    start = source.tell()
    packed = source.seek(0, io.SEEK_END) - start
    source.seek(start)
    head = source.read(len(_OLE_MAGIC))
    source.seek(start)
    if head == _OLE_MAGIC:
        raise ImportFileError(
            "The file is not an Excel workbook (.xlsx): it looks like an old Excel 97-2003 "
            f"workbook (.xls) or a password-protected one. {XLSX_ADVICE}"
        )
    try:
        with zipfile.ZipFile(source) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ImportFileError(
            f"The file is not an Excel workbook (.xlsx): it is not a zip archive ({exc}). "
            + XLSX_ADVICE
        ) from exc
    if len(entries) > MAX_XLSX_ENTRIES:
        raise ImportFileError(
            f"The workbook holds {len(entries):,} files; a workbook may hold at most "
            f"{MAX_XLSX_ENTRIES:,}."
        )
    unpacked = sum(entry.file_size for entry in entries)
    too_big = unpacked > MAX_XLSX_UNPACKED
    if too_big or (unpacked > XLSX_RATIO_FROM and unpacked > MAX_XLSX_RATIO * packed):
        raise ImportFileError(
            f"The workbook would unpack to {unpacked / 1_000_000:,.0f} MB from "
            f"{packed / 1_000_000:,.1f} MB; at most {MAX_XLSX_UNPACKED // 1_000_000:,} MB, and "
            f"at most {MAX_XLSX_RATIO} times its size, are read. Save the sheet as "
            '"CSV UTF-8" and try again.'
        )


def _reason(error: BaseException) -> str:
    """Why openpyxl could not read a workbook, in one short line."""
    from defusedxml import DefusedXmlException

    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, DefusedXmlException):
            return "its XML declares entities, which could expand without bound"
        cause = cause.__cause__ or cause.__context__
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    lines = text.strip().splitlines() or [type(error).__name__]
    return lines[0][:200].rstrip(".")


def _cell_text(cell: Any) -> str:
    """A cell's value as the text a CSV would hold."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))  # ids are numbers in a spreadsheet: 42, not 42.0
        return format(value, ".15g")  # the 15 digits Excel keeps and shows
    if isinstance(value, datetime):
        if value.time() == dt_time() and not _shows_time(cell.number_format):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | dt_time):
        return value.isoformat()
    return str(value)  # a duration ([h]:mm formats), an error code


_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def _shows_time(number_format: str) -> bool:
    """Whether a date format shows the time: it has hours or seconds outside quoted text."""
    return bool(re.search("[hs]", _LITERALS.sub("", number_format), re.IGNORECASE))


# Header and records ----------------------------------------------------------------------------


def read_header(reader: TableReader, known_columns: Iterable[str]) -> tuple[str, ...]:
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


def records(reader: TableReader) -> Iterator[list[str]]:
    """The reader's rows, turning malformed input into an `ImportFileError` (undecodable bytes
    already are one, raised by `_Lines` with the line they are on)."""
    try:
        yield from reader
    except csv.Error as exc:
        if "field larger than field limit" in str(exc) and isinstance(reader, CsvReader):
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


def numbered_records(reader: TableReader) -> Iterator[tuple[int, list[str]]]:
    """The data rows after the header with the line each starts on; blank rows left out."""
    for cells in records(reader):
        # A CSV record can span several physical lines; report the one it starts on.
        if not any(cell.strip() for cell in cells):
            continue  # Blank lines, and spreadsheets' trailing ",,,," rows, are not rows.
        yield reader.start_line, cells


def quote(value: str, limit: int = 60) -> str:
    return f'"{value[:limit]}…"' if len(value) > limit else f'"{value}"'


def list_names(names: Sequence[str], limit: int = 10) -> str:
    """Column names for a message, bounded however many and long they are: the first `limit`,
    each cut to 60 characters, then how many more."""
    shown = [name if len(name) <= 60 else f"{name[:60]}…" for name in names[:limit]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more:,} more" if more else "")
