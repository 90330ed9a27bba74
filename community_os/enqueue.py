"""Background work is enqueued once the write that asks for it commits, and a broker that is
down never fails that write.

A refresh or a rescore is asked for by a write: a segment saved, members imported, weights
changed. The write has committed by the time the task is sent, so a broker error then must not
answer 500 (the user would try again and be told "There is already a segment called ..."), and
must not lose the work either. `after_commit` sends the task once the transaction commits; if
sending fails, the error is logged and `fallback` runs instead: it marks the work as waiting
(a segment as not refreshed, a community as waiting for its scores), so the page says the
update is pending and a periodic sweep enqueues it once the broker is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)


def after_commit(send: Callable[[], object], *, fallback: Callable[[], object], what: str) -> None:
    """Call `send` (it enqueues) once the current transaction commits; `fallback` if it fails."""
    transaction.on_commit(lambda: send_or_fall_back(send, fallback=fallback, what=what))


def send_or_fall_back(
    send: Callable[[], object], *, fallback: Callable[[], object], what: str
) -> bool:
    """Call `send`; if it raises, log it and call `fallback`. Whether `send` succeeded.

    Any exception counts: this runs after the commit, where nothing can be undone and the
    request must still be answered (kombu raises OperationalError for a broker that is down,
    the filesystem transport OSError, a misconfigured URL something else again)."""
    try:
        send()
    except Exception:
        logger.exception("Could not enqueue %s; it waits for the next sweep.", what)
    else:
        return True
    try:
        fallback()
    except Exception:
        logger.exception("Could not mark %s as waiting either.", what)
    return False
