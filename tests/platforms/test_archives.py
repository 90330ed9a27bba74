"""Exports are checked before use: entries outside the folder, links, too many entries and too
many bytes are refused whole; names are normalised as the importers expect."""

import io
import os
import stat
import zipfile

import pytest

from platforms import archives
from platforms.archives import ArchiveError, open_export


def zip_of(entries: dict[str, bytes], *, infos: list[zipfile.ZipInfo] = ()) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
        for info in infos:
            archive.writestr(info, b"target")
    buffer.seek(0)
    return buffer


def names(source) -> list[str]:
    with open_export(source) as export:
        return export.names()


@pytest.mark.parametrize(
    "entry", ["../evil.json", "a/../../evil.json", "/etc/passwd", "C:/Windows/evil.json", "..\\x"]
)
def test_an_entry_outside_the_folder_is_refused(entry):
    with pytest.raises(ArchiveError, match="holds an entry outside its folder"):
        names(zip_of({"users.json": b"[]", entry: b"x"}))


def test_a_link_in_a_zip_is_refused():
    link = zipfile.ZipInfo("users.json")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(ArchiveError, match=r"holds a link, 'users\.json'"):
        names(zip_of({}, infos=[link]))


def test_a_link_in_a_folder_is_refused(tmp_path):
    (tmp_path / "channels.json").write_text("[]")
    os.symlink("/etc/passwd", tmp_path / "users.json")
    with pytest.raises(ArchiveError, match=r"holds a link, 'users\.json'"):
        names(tmp_path)


def test_too_many_entries_are_refused(monkeypatch):
    monkeypatch.setattr(archives, "MAX_ENTRIES", 3)
    assert len(names(zip_of({f"{n}.json": b"[]" for n in range(3)}))) == 3
    with pytest.raises(ArchiveError, match="more than 3 entries"):
        names(zip_of({f"{n}.json": b"[]" for n in range(4)}))


def test_too_many_bytes_unpacked_are_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(archives, "MAX_UNCOMPRESSED_BYTES", 1024)
    with pytest.raises(ArchiveError, match="unpacked, the most an export may be"):
        names(zip_of({"a.json": b" " * 600, "b.json": b" " * 600}))  # compresses to little
    (tmp_path / "a.json").write_bytes(b" " * 1025)
    with pytest.raises(ArchiveError, match="unpacked"):
        names(tmp_path)


def test_one_top_folder_and_system_litter_are_dropped():
    zipped = zip_of(
        {
            "Acme export/users.json": b"[]",
            "Acme export/general/2024-01-01.json": b"[]",
            "Acme export/.DS_Store": b"",
            "__MACOSX/Acme export/._users.json": b"",
        }
    )
    assert names(zipped) == ["general/2024-01-01.json", "users.json"]


def test_a_utf8_name_not_marked_as_such_is_read_as_utf8():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("général/2024-01-04.json"), b"[]")
        archive.writestr(zipfile.ZipInfo("users.json"), b"[]")
    raw = buffer.getvalue()
    # Clear the UTF-8 flag (bit 11) in the local and central headers, as tools do that write
    # UTF-8 names without it: Python then decodes the name as CP437.
    raw = raw.replace(b"PK\x03\x04\x14\x00\x00\x08", b"PK\x03\x04\x14\x00\x00\x00")
    raw = raw.replace(b"PK\x01\x02\x14\x03\x14\x00\x00\x08", b"PK\x01\x02\x14\x03\x14\x00\x00\x00")
    with zipfile.ZipFile(io.BytesIO(raw)) as check:
        assert check.infolist()[0].filename != "général/2024-01-04.json"  # the quirk
    assert names(io.BytesIO(raw)) == ["général/2024-01-04.json", "users.json"]


def test_a_plain_file_is_an_export_of_that_file(tmp_path):
    path = tmp_path / "general.json"
    path.write_text('{"messages": []}')
    with open_export(path) as export:
        assert export.names() == ["general.json"]
        with export.open("general.json") as file:
            assert file.read() == b'{"messages": []}'
        assert export.progress_bytes == export.size


def test_progress_counts_every_pass():
    with open_export(zip_of({"a.json": b"[1]", "b.json": b"[2]"})) as export:
        export.passes = 2
        for name in export.names():
            with export.open(name):
                pass
        first_pass = export.progress_bytes
        for name in export.names():
            with export.open(name):
                pass
        assert 0 < first_pass < export.progress_bytes <= export.size


def test_a_corrupt_zip_names_the_entry():
    buffer = zip_of({"users.json": b"[" + b"1," * 1000 + b"1]"})
    raw = bytearray(buffer.getvalue())
    start = raw.index(b"[1,1")
    raw[start + 10 : start + 20] = b"XXXXXXXXXX"  # stored, not deflated: the CRC no longer holds
    with (
        open_export(io.BytesIO(bytes(raw))) as export,
        pytest.raises(ArchiveError, match=r"users\.json in the upload cannot be read"),
        export.open("users.json") as file,
    ):
        file.read()
