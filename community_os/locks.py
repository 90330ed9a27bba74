"""Per-community locks held until the current transaction ends (PostgreSQL advisory locks).

Each use has its own namespace, the lock's first key; the second is the community's id. The
uses, and the order they are taken in, are written up where they live: members/locks.py (the
import lock), segments/locks.py (the membership and graph locks).

On SQLite there is nothing to do: its transactions start IMMEDIATE (settings.py), so it runs
one writing transaction at a time.
"""

from __future__ import annotations

from django.db import connection


def community_lock(namespace: int, community_id: int, *, shared: bool = False) -> None:
    """Take the (namespace, community) lock, exclusive or shared, until the transaction ends."""
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("a community lock must be taken inside a transaction")
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        # The second key is an int4: communities beyond 2**31 share a lock, which only waits.
        cursor.execute(f"SELECT {function}(%s, %s)", [namespace, community_id % 2**31])
