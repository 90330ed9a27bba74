"""The membership lock: how segment memberships stay consistent without foreign-key checks.

SegmentMembership and MembershipChange are written by the million: building 100 segments over
a million members writes 9 million rows to each. PostgreSQL checks a foreign key once per row,
and those checks were three quarters of the time of such a build (bench/README.md), so these
two tables carry no foreign-key constraints (`db_constraint=False`; Django still deletes their
rows with a member or a segment). The rows stay consistent by this protocol instead:

1. Every transaction that writes memberships or their ledger takes `membership_lock(community)`
   shared first, then the segment's row lock, and inserts only members that it reads from
   members_member after taking them (a refresh's rule query; a manual add re-reads its members).
2. Deleting a member, a segment or a whole community takes the lock exclusive first (pre_delete
   receivers in segments/signals.py, so every way of deleting does; a community takes it
   once for all its members and segments; a merge of two members, members/merging.py, takes
   it before it moves the merged member's memberships). It waits for the writers in flight;
   their rows are then visible to the deletion, which removes them with the member or the
   segment; and no writer starts until the deletion has committed, after which its reads no
   longer see what was deleted.

Shared and exclusive, always before any segment row lock, in that order: writers never wait for
one another here, and no two transactions can each hold what the other waits for.

On SQLite there is nothing to do: it runs one writing transaction at a time.
"""

from __future__ import annotations

from community_os.locks import community_lock

# The first keys of the two locks, so that they cannot meet another use of advisory locks.
_NAMESPACE = 0x5E6_3E47  # "segments"
_GRAPH_NAMESPACE = 0x5E6_6EA9  # "segments graph"


def membership_lock(community_id: int, *, exclusive: bool = False) -> None:
    """Take the community's membership lock until the end of the current transaction."""
    community_lock(_NAMESPACE, community_id, shared=not exclusive)


def graph_lock(community_id: int) -> None:
    """Serialize the community's segment writes until the end of the current transaction.

    Creating, editing and deleting a segment each check the graph of segment references (no
    rule refers to a missing segment, no cycle) and then write. Two such writes at once could
    each pass its check against the other's old state: P edited to read Q while Q is edited to
    read P (a cycle), or Y deleted while X is edited to read Y. Under this lock, taken before
    the checks, the second write checks against the first one's result.

    Taken before any membership lock or segment row lock (segment_delete takes the membership
    lock after it, through the pre_delete receiver), and never by refreshes, so it cannot close
    a cycle of waits with them.
    """
    community_lock(_GRAPH_NAMESPACE, community_id)
