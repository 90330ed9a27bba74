"""Opaque paging cursors: each names the last id a page returned, and the list it belongs to,
so a cursor of one list given to another is refused rather than misread."""

from __future__ import annotations

import base64
import binascii

from community_os.ids import parse_id


class BadCursor(ValueError):
    pass


def encode(kind: str, last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{last_id}".encode()).decode().rstrip("=")


def decode(kind: str, cursor: str | None) -> int:
    """The id the cursor starts after (0 for none); BadCursor for one this list did not give."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError) as error:
        raise BadCursor(cursor) from error
    found_kind, _, number = raw.partition(":")
    last_id = parse_id(number)
    if found_kind != kind or last_id is None:
        if found_kind == kind and number == "0":
            return 0
        raise BadCursor(cursor)
    return last_id
