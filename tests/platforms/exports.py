"""What the platform importers' tests share: exports zipped as the platforms (or a person
zipping a folder) write them, and the peak memory of an import."""

import io
import tracemalloc
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from members.reports import ImportReport


def zipped(
    folder: Path,
    *,
    top: str = "",
    skip: Iterable[str] = (),
    only: Iterable[Path] | None = None,
) -> io.BytesIO:
    """The files of `folder` (or `only` those of them) in a zip, named relative to it under
    `top` (a folder zipped as a whole has one top folder); names in `skip` are left out."""
    left_out = set(skip)
    paths = sorted(only) if only is not None else sorted(folder.rglob("*"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            name = path.relative_to(folder).as_posix()
            if path.is_file() and name not in left_out:
                archive.write(path, f"{top}{name}")
    buffer.seek(0)
    return buffer


def peak_of(run: Callable[[], ImportReport]) -> tuple[int, ImportReport]:
    """The peak of Python's allocations while `run` imports (a dry run, say), and its report,
    which must list no error."""
    tracemalloc.start()
    try:
        report = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not report.errors, report.errors[:5]
    return peak, report
