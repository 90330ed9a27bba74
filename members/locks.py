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

from community_os.locks import community_lock

# The first key of the advisory lock, so that it cannot meet another use of advisory locks
# (segments/locks.py has its own).
NAMESPACE = 0x1390_0127  # "imports", an int4 as pg_advisory_xact_lock(int4, int4) needs


def import_lock(community_id: int) -> None:
    """Take the community's import lock until the end of the current transaction."""
    community_lock(NAMESPACE, community_id)
