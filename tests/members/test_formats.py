"""The file formats imports read (members/csv_import.py): CSV in UTF-8, UTF-16 and Windows-1252,
and Excel workbooks. Each fixture is built byte for byte as the tool that writes it does: Excel's
"CSV UTF-8" (a byte-order mark, CRLF), a UTF-16 CSV with its BOM, Excel's Windows "CSV" in
Windows-1252, and .xlsx files written by openpyxl (edited where Excel writes what openpyxl does
not: a formula's cached value, a number in exponent form)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime

import openpyxl
import pytest

from members import csv_import
from members.csv_import import (
    ENCODINGS,
    ImportFileError,
    numbered_records,
    open_csv,
    open_table,
    open_xlsx,
    read_header,
)

TEXT = "name,city,note\nMüller,Zürich,“quoted” €5\nJosé,São Paulo,\nZoë,Kraków,ok\n"
ROWS = [
    (2, ["Müller", "Zürich", "“quoted” €5"]),
    (3, ["José", "São Paulo", ""]),
    (4, ["Zoë", "Kraków", "ok"]),
]


def read_all(file, **options):
    """The header and the numbered data rows, as an importer reads them."""
    with open_table(file, **{"file_name": "upload.csv", **options}) as reader:
        columns = read_header(reader, ["name", "city", "note"])
        return columns, list(numbered_records(reader))


def crlf(text):
    return text.replace("\n", "\r\n")


class Stream:
    """A binary stream that cannot seek, as a pipe is."""

    def __init__(self, data):
        self.file = io.BytesIO(data)

    def read(self, size=-1):
        return self.file.read(size)

    def seekable(self):
        return False


def test_the_encodings_offered():
    assert ENCODINGS == {
        "utf-8": "UTF-8 (with or without BOM)",
        "utf-16": "UTF-16 (with BOM)",
        "windows-1252": "Windows-1252 (Excel on Windows, Western Europe)",
    }


def test_an_unknown_encoding_is_a_programming_error():
    with pytest.raises(ValueError, match="Unknown encoding 'latin-1'"):
        read_all(io.BytesIO(b"name\n"), encoding="latin-1")


# --- UTF-8 --------------------------------------------------------------------------------------


def test_excel_csv_utf8_with_a_byte_order_mark_and_crlf():
    data = b"\xef\xbb\xbf" + crlf(TEXT).encode("utf-8")

    assert read_all(io.BytesIO(data)) == (("name", "city", "note"), ROWS)


def test_utf8_without_a_byte_order_mark():
    assert read_all(io.BytesIO(TEXT.encode("utf-8"))) == (("name", "city", "note"), ROWS)


def test_an_invalid_byte_deep_in_a_long_file_names_its_exact_line():
    # TextIOWrapper decodes 8 KiB ahead: a strict decoder fails while line ~4,890 is read.
    lines = [f"Member {n},City {n},x\n" for n in range(2, 5000)]
    data = (
        b"name,city,note\n"
        + "".join(lines).encode()
        + b"Jos\xe9,Lyon,x\n"
        + "".join(lines).encode()
    )
    read = []

    with pytest.raises(ImportFileError) as error, open_csv(io.BytesIO(data)) as reader:
        read_header(reader, ["name", "city", "note"])
        for line, _cells in numbered_records(reader):
            read.append(line)

    assert str(error.value) == (
        "The file is not UTF-8 text: line 5000 has bytes that are not UTF-8 (byte 0xE9 in "
        '"Jos\\xE9,Lyon,x"). Save it as "CSV UTF-8" and try again, or choose Windows-1252 '
        "(Excel on Windows, Western Europe), which reads that part of the line as "
        '"José,Lyon,x".'
    )
    assert read == list(range(2, 5000))  # every row before it was read


def test_bad_bytes_that_windows_1252_cannot_read_either_get_the_utf8_advice():
    data = b"name\nok\nM\x81ller\n"

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(data))

    assert str(error.value) == (
        "The file is not UTF-8 text: line 3 has bytes that are not UTF-8 (byte 0x81 in "
        '"M\\x81ller"). Save it as "CSV UTF-8" and try again.'
    )


def test_a_utf8_sequence_cut_off_at_the_end_names_the_last_line():
    data = "name\nJosé\nJos".encode() + b"\xc3"

    with pytest.raises(ImportFileError, match=r"^The file is not UTF-8 text: line 3 has bytes"):
        read_all(io.BytesIO(data))


def test_utf16_without_a_byte_order_mark_is_refused_as_not_utf8():
    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO("name\n".encode("utf-16-le")))

    assert str(error.value) == (
        'The file is not UTF-8 text (a NUL character on line 1). Save it as "CSV UTF-8" and '
        "try again."
    )


# --- UTF-16 -------------------------------------------------------------------------------------


def utf16_le_csv(text):
    """A UTF-16 little-endian CSV as Windows tools write it: FF FE, then CRLF lines."""
    data = crlf(f"\ufeff{text}").encode("utf-16-le")
    assert data.startswith(b"\xff\xfen\x00")
    return data


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_utf16_le_with_a_byte_order_mark(encoding):
    data = utf16_le_csv(TEXT)

    assert read_all(io.BytesIO(data), encoding=encoding) == (("name", "city", "note"), ROWS)


def test_utf16_be_with_a_byte_order_mark():
    data = crlf(f"\ufeff{TEXT}").encode("utf-16-be")
    assert data.startswith(b"\xfe\xff\x00n")

    assert read_all(io.BytesIO(data), encoding="utf-16") == (("name", "city", "note"), ROWS)


def test_utf16_chosen_without_a_byte_order_mark_is_refused():
    data = crlf(TEXT).encode("utf-16-le")

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(data), encoding="utf-16")

    assert str(error.value) == (
        "The file does not start with a UTF-16 byte-order mark (BOM), so it cannot be read as "
        'UTF-16. Save it as "CSV UTF-8" (or as UTF-16 with a BOM) and try again, or choose the '
        "encoding it was saved in."
    )


def test_a_byte_order_mark_decides_whatever_the_choice():
    data = b"\xef\xbb\xbf" + TEXT.encode("utf-8")

    for encoding in ENCODINGS:
        assert read_all(io.BytesIO(data), encoding=encoding) == (("name", "city", "note"), ROWS)


def test_a_lone_surrogate_in_utf16_names_its_line():
    data = utf16_le_csv("name\nAnn\n") + b"\x00\xd8B\x00o\x00\r\x00\n\x00"  # U+D800, then "Bo"

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(data))

    assert str(error.value) == (
        "The file is not UTF-16 text: line 3 has bytes that are not UTF-16 (bytes 0x00 0xD8 in "
        '"\\x00\\xD8Bo"). Save it as "CSV UTF-8" and try again.'
    )


# --- Windows-1252 -------------------------------------------------------------------------------


def excel_windows_csv(text):
    """Excel on Windows' "CSV (Comma delimited)": Windows-1252, CRLF, no byte-order mark."""
    data = crlf(text).encode("cp1252")
    # Ü, é, ë as single bytes; the curly quotes and the euro sign in 0x80-0x9F.
    for expected in (b"M\xfcller", b"Jos\xe9", b"Zo\xeb", b"\x93quoted\x94 \x805"):
        assert expected in data
    return data


def test_windows_1252_when_chosen():
    data = excel_windows_csv(TEXT)

    assert read_all(io.BytesIO(data), encoding="windows-1252") == (("name", "city", "note"), ROWS)


def test_windows_1252_read_as_utf8_suggests_windows_1252():
    data = excel_windows_csv(TEXT)

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(data))

    assert str(error.value) == (
        "The file is not UTF-8 text: line 2 has bytes that are not UTF-8 (byte 0xFC in "
        '"M\\xFCller,Z\\xFCrich,\\x93quoted\\x94 \\x805"). Save it as "CSV UTF-8" and try '
        "again, or choose Windows-1252 (Excel on Windows, Western Europe), which reads that "
        'part of the line as "Müller,Zürich,“quoted” €5".'
    )


@pytest.mark.parametrize("byte", [b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"])
def test_bytes_windows_1252_does_not_define_name_their_line(byte):
    data = excel_windows_csv(TEXT) + b"Ann" + byte + b",Paris,\r\n"

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(data), encoding="windows-1252")

    shown = f"0x{byte[0]:02X}"
    assert str(error.value) == (
        f"The file is not Windows-1252 text: line 5 has bytes that Windows-1252 does not define "
        f'(byte {shown} in "Ann\\x{shown[2:]},Paris,"). Save it as "CSV UTF-8" and choose UTF-8.'
    )


def test_utf8_read_as_windows_1252_suggests_utf8_when_it_cannot_be_windows_1252():
    data = "name\nÁrpád\n".encode()  # Á is C3 81 in UTF-8, and 0x81 is not Windows-1252
    assert b"\xc3\x81" in data

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(data), encoding="windows-1252")

    assert str(error.value).endswith('Choose UTF-8: the file reads as UTF-8 ("Árpád").')
    assert str(error.value).startswith("The file is not Windows-1252 text: line 2 has bytes")


# --- Streams ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xef\xbb\xbf" + crlf(TEXT).encode(), "utf-8"),
        (utf16_le_csv(TEXT), "utf-16"),
        (excel_windows_csv(TEXT), "windows-1252"),
    ],
)
def test_a_stream_that_cannot_seek(data, encoding):
    assert read_all(Stream(data), encoding=encoding) == (("name", "city", "note"), ROWS)


def test_the_callers_file_stays_open_and_is_read_in_chunks():
    reads = []

    class Recording(io.BytesIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

        def read1(self, size=-1):
            reads.append(size)
            return super().read1(size)

    rows = "".join(f"Member {n},Paris,x\n" for n in range(5000))
    file = Recording(f"name,city,note\n{rows}".encode("utf-16"))

    columns, records = read_all(file)

    assert not file.closed
    assert columns == ("name", "city", "note")
    assert records[-1] == (5001, ["Member 4999", "Paris", "x"])
    assert len(reads) > 10
    assert all(0 < size <= 65536 for size in reads)


# --- Excel workbooks ----------------------------------------------------------------------------


def workbook(rows, *, edits=()):
    """An .xlsx as openpyxl writes it, with `edits` (old, new) made to the sheet's XML."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return rezip(buffer.getvalue(), "xl/worksheets/sheet1.xml", edits)


def rezip(data, name, edits):
    if not edits:
        return data
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == name:
                text = content.decode()
                for old, new in edits:
                    assert old in text
                    text = text.replace(old, new)
                content = text.encode()
            target.writestr(entry, content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


HEADER = ["external_id", "Name", "joined_at", "last_seen_at", "score", "active", "notes", "total"]


def test_a_workbook_s_cells_read_as_csv_text():
    data = workbook(
        [
            HEADER,
            [
                1001,
                "Zoë Müller",
                date(2024, 5, 1),
                datetime(2024, 5, 1, 14, 30),  # noqa: DTZ001  (Excel's are naive)
                2.5,
                True,
                None,
                "=1+1",
            ],
            [
                1002.0,
                "José",
                datetime(2024, 5, 2),  # noqa: DTZ001
                datetime(2024, 5, 2, 0, 0, 5),  # noqa: DTZ001
                0.1 + 0.2,
                False,
                "x",
                "=2+2",
            ],
            [],
            ["12345678901234567890", "Ann"],
            [None, None, None],
            [4.2, "=A3"],
        ],
        edits=[
            ("<f>1+1</f><v />", "<f>1+1</f><v>2</v>"),  # Excel stores the value it calculated
            ('<c r="A7" t="n"><v>4.2</v>', '<c r="A7" t="n"><v>4.2E+1</v>'),
        ],
    )

    with open_xlsx(io.BytesIO(data)) as reader:
        columns = read_header(reader, ["external_id", "name", "joined_at", "last_seen_at"])
        rows = list(numbered_records(reader))

    assert columns == (
        "external_id",
        "name",
        "joined_at",
        "last_seen_at",
        "score",
        "active",
        "notes",
        "total",
    )
    assert rows == [
        (2, ["1001", "Zoë Müller", "2024-05-01", "2024-05-01T14:30:00", "2.5", "true", "", "2"]),
        # openpyxl writes 1002.0 as 1002; a datetime at midnight keeps its time; a formula never
        # calculated has no value.
        (
            3,
            ["1002", "José", "2024-05-02T00:00:00", "2024-05-02T00:00:05", "0.3", "false", "x", ""],
        ),
        # Row 4 is empty; short rows are padded to the header's width.
        (5, ["12345678901234567890", "Ann", "", "", "", "", "", ""]),
        (7, ["42", "", "", "", "", "", "", ""]),
    ]
    assert reader.line_num == 7


def test_only_the_first_worksheet_is_read():
    book = openpyxl.Workbook()
    book.active.append(["name"])
    book.active.append(["First"])
    book.create_sheet("Second").append(["nope"])
    buffer = io.BytesIO()
    book.save(buffer)

    assert read_all(io.BytesIO(buffer.getvalue()), file_name="members.xlsx") == (
        ("name",),
        [(2, ["First"])],
    )


def test_a_sheet_with_a_wrong_declared_size_is_read_whole():
    data = workbook([["name", "city"], ["Ann", "Paris"]], edits=[('ref="A1:B2"', 'ref="A1"')])

    assert read_all(io.BytesIO(data)) == (("name", "city"), [(2, ["Ann", "Paris"])])


def test_200_columns_are_read_and_201_are_refused():
    names = [f"c{n}" for n in range(1, 202)]
    wide = workbook([names[:200], ["x"] * 200])

    with open_xlsx(io.BytesIO(wide)) as reader:
        assert len(read_header(reader, ())) == 200
        assert [len(cells) for _, cells in numbered_records(reader)] == [200]

    with pytest.raises(ImportFileError) as error, open_xlsx(io.BytesIO(workbook([names]))) as r:
        read_header(r, ())
    assert str(error.value) == "Row 1 of the sheet has 201 columns; a sheet may have at most 200."


def test_a_data_row_wider_than_200_columns_is_refused():
    data = workbook([["name"], ["Ann"], ["Bo", *([None] * 248), "far"]])

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(data), file_name="members.xlsx")

    assert str(error.value) == "Row 3 of the sheet has 250 columns; a sheet may have at most 200."


def test_empty_cells_past_the_data_do_not_count_as_columns():
    data = workbook([["name", "city", None, "  "], ["Ann", None, None, None, None, ""]])

    assert read_all(io.BytesIO(data)) == (("name", "city"), [(2, ["Ann", ""])])


def test_a_workbook_cell_over_the_csv_cell_limit_is_refused(monkeypatch):
    monkeypatch.setattr(csv_import.csv, "field_size_limit", lambda: 10)
    data = workbook([["name", "bio"], ["Ann", "x" * 11]])

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(data))

    assert str(error.value) == 'line 2, column 2 ("bio"): the cell is longer than 10 characters.'


def test_open_table_picks_the_format_by_name_or_content():
    data = workbook([["name"], ["Ann"]])

    # By the zip's magic bytes, whatever the name; and from a stream that cannot seek.
    assert read_all(io.BytesIO(data), file_name="members.csv") == (("name",), [(2, ["Ann"])])
    assert read_all(Stream(data), file_name="upload") == (("name",), [(2, ["Ann"])])
    # A CSV named .xlsx is read as a workbook, and refused.
    with pytest.raises(ImportFileError, match=re.escape("is not an Excel workbook (.xlsx)")):
        read_all(io.BytesIO(b"name\nAnn\n"), file_name="Members.XLSX")


def test_the_callers_file_stays_open_after_a_workbook():
    file = io.BytesIO(workbook([["name"], ["Ann"]]))

    with open_table(file, file_name="members.xlsx") as reader:
        read_header(reader, ["name"])
        assert list(numbered_records(reader)) == [(2, ["Ann"])]

    assert not file.closed


def test_a_zip_that_is_not_a_workbook():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("members.csv", "name\nAnn\n")

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(buffer.getvalue()), file_name="members.zip")

    assert str(error.value) == (
        "The file is not an Excel workbook (.xlsx) that can be read (There is no item named "
        "'[Content_Types].xml' in the archive). Save it as \"Excel Workbook (.xlsx)\" or as "
        '"CSV UTF-8" and try again.'
    )


def test_an_old_xls_workbook_is_named():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(ole), file_name="members.xls")

    assert str(error.value).startswith(
        "The file is not an Excel workbook (.xlsx): it looks like an old Excel 97-2003 "
        "workbook (.xls) or a password-protected one."
    )


def test_a_workbook_that_would_unpack_to_far_more_than_its_size_is_refused(monkeypatch):
    calls = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: calls.append(a))
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(workbook([["name"], ["Ann"]]))) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for entry in source.infolist():
            bomb.writestr(entry, source.read(entry))
        bomb.writestr("xl/media/image1.png", bytes(30_000_000))
    data = buffer.getvalue()
    assert len(data) < 100_000

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(data), file_name="members.xlsx")

    assert str(error.value) == (
        f"The workbook would unpack to 30 MB from {len(data) / 1_000_000:.1f} MB; at most "
        "1,000 MB, and at most 50 times its size, are read. Save the sheet as "
        '"CSV UTF-8" and try again.'
    )
    assert calls == []  # refused before openpyxl unpacked anything


def test_a_workbook_of_too_many_files_is_refused():
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(workbook([["name"]]))) as source,
        zipfile.ZipFile(buffer, "w") as archive,
    ):
        for entry in source.infolist():
            archive.writestr(entry, source.read(entry))
        for n in range(10_001 - len(source.infolist())):
            archive.writestr(f"xl/media/{n}.bin", b"")

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(buffer.getvalue()), file_name="members.xlsx")

    assert str(error.value) == (
        "The workbook holds 10,001 files; a workbook may hold at most 10,000."
    )


def test_xml_entity_expansion_is_refused():
    assert openpyxl.DEFUSEDXML  # openpyxl parses with defusedxml (pyproject.toml)
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    )
    data = workbook(
        [["name"], ["Ann"]],
        edits=[("<worksheet ", laughs + "<worksheet "), ("<t>Ann</t>", "<t>&lol2;</t>")],
    )

    with pytest.raises(ImportFileError) as error:
        read_all(io.BytesIO(data), file_name="members.xlsx")

    assert str(error.value) == (
        "The file is not an Excel workbook (.xlsx) that can be read (its XML declares entities, "
        'which could expand without bound). Save it as "Excel Workbook (.xlsx)" or as '
        '"CSV UTF-8" and try again.'
    )
