"""The peak memory of an import, for the tests that an importer streams."""

import tracemalloc
from collections.abc import Callable

from members.reports import ImportReport


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
