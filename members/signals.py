"""Signals through which higher apps react to changes in members (they may not be imported here)."""

from contextvars import ContextVar

from django.dispatch import Signal

# Sent inside the writing transaction after members were created or updated in bulk, with
# `community` and `member_ids`. Engagement moves last_seen_at forward from the members' own
# activity; segments re-evaluate the changed members.
members_changed = Signal()

# True while an import job runs (members/jobs.py): what members_changed asks for after the
# commit (the segments' changed-members refresh) is done in this process before the job says
# "done", so every page shows the same counts once it does, rather than in a task that follows.
follow_up_here: ContextVar[bool] = ContextVar("follow_up_here", default=False)

# Sent by members/merging.py inside the merge's transaction, with `community`, `kept`, `merged`
# and `by`, before `merged` is deleted: each higher app moves its rows of `merged` to `kept`
# (engagement its activities, segments manual memberships and the ledger) and may return a
# dict of counts ({"activities": 12}), which the merge records.
members_merging = Signal()

# Sent by members/jobs.py once an import job's end (done or failed) is saved, with `job_id`
# (JSON-safe, so a receiver can hand it to a task). Receivers enqueue with on_commit: the job
# may still be inside a transaction. notifications mails the uploader; webhooks may deliver
# `import.finished`.
import_finished = Signal()

# Sent by members/team.py inside the invitation's transaction, with `invitation` and `link`
# (the absolute URL of its accept page): notifications mails it. A receiver that cannot mail
# it raises members.team.InvitationNotSent, and the invitation is not kept.
invitation_created = Signal()
