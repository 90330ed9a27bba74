"""Signals through which higher apps react to changes in members (they may not be imported here)."""

from django.dispatch import Signal

# Sent inside the writing transaction after members were created or updated in bulk, with
# `community` and `member_ids`. Engagement moves last_seen_at forward from the members' own
# activity; segments re-evaluate the changed members.
members_changed = Signal()
