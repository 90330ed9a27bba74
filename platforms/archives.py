"""A platform's export as an importer reads it: a zip file, a folder, or one plain file
(README "Platforms").

Every entry is checked before anything is read, so a hostile archive is refused as a whole:
an entry outside the export (`../x`, `/etc/x`, `C:\\x`), a link, more than MAX_ENTRIES entries
or more than MAX_UNCOMPRESSED_BYTES once unpacked. A zip is read in place, one entry at a time,
and never unpacked to disk; a zip entry yields no more than the size its header declares, so
the bytes checked are the bytes read.

Names are relative POSIX paths. When every entry lies in one top folder (a folder zipped as
a whole: "Acme Slack export/users.json"), that folder is dropped from the names. Operating
system litter (`__MACOSX/`, `.DS_Store`, `Thumbs.db`) is not part of an export.

`progress_bytes` says how far the reading is, in the units of the export's own size
(compressed bytes of a zip), over all the passes a reader makes, for an import job's progress
bar.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, TypeVar

from members.csv_import import ImportFileError

T = TypeVar("T")
MAX_ENTRIES = 100_000
MAX_UNCOMPRESSED_BYTES = 5 * 1024**3
_LITTER_FOLDERS = {"__MACOSX"}
_LITTER_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}


class ArchiveError(ImportFileError):
    """The export cannot be read safely or at all; the message names the entry."""


Opener = Callable[[], AbstractContextManager[IO[bytes]]]


class Export:
    """The files of an export by relative name; `open(name)` gives one in binary mode."""

    def __init__(self, label: str, size: int, entries: dict[str, tuple[Opener, int]]) -> None:
        self.label = label  # what the export is called in messages: its file or folder name
        self.size = size  # in the units of done_bytes
        self.done_bytes = 0
        self.passes = 1  # how many times a reader reads the export through: done_bytes counts all
        self.on_entry_read: Callable[[], object] | None = None
        self._entries = entries  # name -> (how to open it, its size in the units of `size`)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    @property
    def progress_bytes(self) -> int:
        """How far the reading is, in the units of `size`, over all of the reader's passes."""
        return self.done_bytes // max(1, self.passes)

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        opener, size = self._entries[name]
        try:
            with opener() as file:
                yield file
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ArchiveError(f"{name} in {self.label} cannot be read: {exc}.") from None
        self.done_bytes = min(self.size * self.passes, self.done_bytes + size)
        if self.on_entry_read is not None:
            self.on_entry_read()


@contextmanager
def open_export(source: Path | IO[bytes], *, label: str = "") -> Iterator[Export]:
    """The export at `source`: a folder or a file path, or an opened file (an upload); a zip
    (by its content, not its name) is read as an archive, any other file as an export of that
    one file named `label`. Raises ArchiveError for what cannot be read safely."""
    if isinstance(source, Path) and source.is_dir():
        yield _folder(source)
        return
    if isinstance(source, Path):
        with source.open("rb") as file, _opened(file, label or source.name) as export:
            yield export
        return
    with _opened(source, label or "the upload") as export:
        yield export


@contextmanager
def _opened(file: IO[bytes], label: str) -> Iterator[Export]:
    file.seek(0)
    if not zipfile.is_zipfile(file):
        yield _single_file(file, label)
        return
    file.seek(0)
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ArchiveError(f"{label} is not a readable zip file: {exc}.") from None
    with archive:
        yield _zip(archive, label, _size(file))


def _single_file(file: IO[bytes], label: str) -> Export:
    @contextmanager
    def rewound() -> Iterator[IO[bytes]]:
        file.seek(0)
        yield file  # the caller closes it

    size = _size(file)
    name = PurePosixPath(label.replace("\\", "/")).name or "upload"
    return Export(label, size, {name: (rewound, size)})


def _zip(archive: zipfile.ZipFile, label: str, size: int) -> Export:
    infos = archive.infolist()
    _check_count(len(infos), label)
    total = 0
    files: list[tuple[str, zipfile.ZipInfo]] = []
    for info in infos:
        name = _safe_name(_zip_name(info), label)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{label} holds a link, {info.filename!r}; an export may not.")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{info.filename} in {label} is encrypted; export it again.")
        total += info.file_size
        _check_total(total, label)
        if info.is_dir() or _litter(name):
            continue
        files.append((name, info))
    entries: dict[str, tuple[Opener, int]] = {
        name: (partial(archive.open, info), info.compress_size)
        for name, info in _without_top_folder(files)
    }
    return Export(label, size, entries)


def _folder(root: Path) -> Export:
    label = root.name or str(root)
    count = total = 0
    files: list[tuple[str, tuple[Path, int]]] = []
    for folder, subfolders, names in os.walk(root, followlinks=False):
        here = Path(folder)
        for name in [*subfolders, *names]:
            count += 1
            _check_count(count, label)
            path = here / name
            if path.is_symlink():
                relative = path.relative_to(root).as_posix()
                raise ArchiveError(f"{label} holds a link, {relative!r}; an export may not.")
        for name in names:
            path = here / name
            relative = path.relative_to(root).as_posix()
            if _litter(relative):
                continue
            size = path.stat().st_size
            total += size
            _check_total(total, label)
            files.append((relative, (path, size)))
        subfolders[:] = [name for name in subfolders if name not in _LITTER_FOLDERS]
    entries: dict[str, tuple[Opener, int]] = {
        name: (partial(_open_binary, path), size) for name, (path, size) in files
    }
    return Export(label, total, entries)


def _zip_name(info: zipfile.ZipInfo) -> str:
    """The entry's name. Zip tools that do not mark UTF-8 names as such (the flag 0x800) still
    write them in UTF-8 more often than in the CP437 the format assumes, which Python decodes
    them as: "général" would read "g├⌐n├⌐ral". Such a name is decoded again as UTF-8."""
    if info.flag_bits & 0x800 or info.filename.isascii():
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        return info.filename


def _open_binary(path: Path) -> IO[bytes]:
    return path.open("rb")


def _safe_name(raw: str, label: str) -> str:
    """The entry's name as a relative POSIX path; refused if it would leave the export."""
    name = raw.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if (
        name.startswith("/")
        or (len(name) > 1 and name[1] == ":")  # C:/...
        or ".." in parts
        or "\x00" in name
    ):
        raise ArchiveError(
            f"{label} holds an entry outside its folder, {raw!r}; nothing was imported."
        )
    return "/".join(part for part in parts if part not in ("", "."))


def _without_top_folder(files: list[tuple[str, T]]) -> list[tuple[str, T]]:
    tops = {name.split("/", 1)[0] for name, _ in files}
    if len(tops) == 1 and all("/" in name for name, _ in files):
        return [(name.split("/", 1)[1], handle) for name, handle in files]
    return files


def _litter(name: str) -> bool:
    parts = name.split("/")
    return bool(_LITTER_FOLDERS & set(parts[:-1])) or parts[-1] in _LITTER_FILES


def _check_count(count: int, label: str) -> None:
    if count > MAX_ENTRIES:
        raise ArchiveError(
            f"{label} has more than {MAX_ENTRIES:,} entries, the most an export may have."
        )


def _check_total(total: int, label: str) -> None:
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ArchiveError(
            f"{label} is more than {MAX_UNCOMPRESSED_BYTES // 1024**3} GB unpacked, the most an "
            "export may be."
        )


def _size(file: IO[bytes]) -> int:
    try:
        position = file.tell()
        file.seek(0, os.SEEK_END)
        size = file.tell()
        file.seek(position)
        return size
    except (OSError, ValueError):
        return 0
