"""Object ids read from URLs and forms."""

from __future__ import annotations

import re

# ASCII digits only: str.isdigit() also takes superscripts ("²"), which int() refuses, and
# other scripts' digits, which int() reads.
_ID = re.compile(r"[0-9]{1,18}")
MAX_ID = 2**63 - 1  # bigint, the primary keys' type


def parse_id(value: object) -> int | None:
    """The id written in `value` (1 to 2**63 - 1, in ASCII digits), or None for anything else."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None
