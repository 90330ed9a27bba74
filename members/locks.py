"""The import lock: imports into one community run one after another.

Two uploads of the same members file at the same moment both read that its members do not
exist yet and both insert them; the second insert then meets the first's unique email or
identity and fails with IntegrityError (a 500 on the Imports page). So every importer that
writes members, identities or activities takes `import_lock(community)` first in its
transaction: a second import of the community waits until the first has committed or rolled
back, then reads what it wrote and updates those members, or counts those activities as
unchanged, as a later import of the same file does.

A PostgreSQL transaction-level advisory lock, released when the transaction ends (so an import
running inside a caller's transaction, as on the Imports page, holds it until that commits).
Only imports take it, first, and an import's transaction takes no other advisory lock (the
segment refreshes and the rescore it causes run after commit), so no cycle of waits can close
through it. A merge of two members (members/merging.py) takes it first too, so it never
interleaves with an import; after it, the merge takes segments' membership lock, which no
transaction holding it waits for this one.

On SQLite there is nothing to do (community_os/locks.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from community_os.locks import community_lock

from .models import Community, Member
from .reports import ImportReport
from .signals import members_changed

# The first key of the advisory lock, so that it cannot meet another use of advisory locks
# (segments/locks.py has its own).
NAMESPACE = 0x1390_0127  # "imports", an int4 as pg_advisory_xact_lock(int4, int4) needs


def import_lock(community_id: int) -> None:
    """Take the community's import lock until the end of the current transaction."""
    community_lock(NAMESPACE, community_id)


@contextmanager
def import_transaction(
    community: Community, report: ImportReport, *, skip_invalid: bool, dry_run: bool
) -> Iterator[set[int]]:
    """The transaction of an import into `community`, behind its import lock. The importer adds
    to the yielded set the ids of the members it created or changed; at the end, the import is
    rolled back if a row is invalid (unless `skip_invalid`) or it is a dry run, and otherwise
    `members_changed` is sent for those members (last seen moves forward from new activity,
    segments re-evaluate them). An import rolled back for invalid rows wrote nothing: its valid
    rows count as skipped (a dry run keeps the counts of what it would do)."""
    changed: set[int] = set()
    with transaction.atomic():
        import_lock(community.pk)  # another import of the community finishes first
        yield changed
        stopped = bool(report.errors) and not skip_invalid
        if stopped or dry_run:
            transaction.set_rollback(True)
        if stopped and not dry_run:
            report.discard_writes()
        elif not dry_run and changed:
            members_changed.send(Member, community=community, member_ids=changed)
    report.dry_run = dry_run
    report.merge_errors()
