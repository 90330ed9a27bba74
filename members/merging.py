"""Merging two members who are one person: "one person, one member".

`member_merge` keeps one member (`kept`), gives it the chosen value of each field and
everything the other one (`merged`) had, then deletes `merged`. In one transaction:

1. the community's import lock (members/locks.py), so a merge never interleaves with an import
   that could write to either member, then both members' rows, locked and read again (a member
   deleted or merged meanwhile is refused);
2. the merged member's identities move to the kept one;
3. `members_merging` is sent (members/signals.py): the higher apps move their rows of the merged
   member (engagement its activities, segments the manual memberships and the ledger) and
   return what they moved;
4. the kept member gets the chosen values (the merged member's email is cleared first: emails
   are unique per community, case-insensitively), the merged member is deleted, the merge is
   recorded (MemberMerge) and `members_changed` is sent for the kept member, so that smart
   segments re-evaluate it once the merge commits (engagement rescores the community then).

A merge cannot be undone: MemberMerge keeps both values of every field, not the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg.errors
from django.db import OperationalError, transaction
from django.utils import timezone

from .locks import import_lock
from .models import Community, Identity, Member, MemberMerge
from .signals import members_changed, members_merging

Choice = Literal["kept", "merged"]
CHOICES: tuple[Choice, ...] = ("kept", "merged")

# The fields a merge chooses between, with their labels on the merge screen.
FIELDS: dict[str, str] = {
    "name": "Name",
    "email": "Email",
    "company_name": "Company",
    "job_title": "Job title",
    "location": "Location",
    "city": "City",
    "country": "Country",
    "bio": "Bio",
    "avatar_url": "Avatar URL",
    "joined_at": "Joined",
    "last_seen_at": "Last seen",
    "attributes": "Other attributes",
}


class MergeError(ValueError):
    """A merge that cannot be done; the message is fit to show the manager."""


@dataclass(frozen=True)
class FieldChoice:
    """One field of the merge screen: both values, whether they differ, the default choice."""

    name: str
    label: str
    kept: Any
    merged: Any
    differs: bool
    default: Choice


def _attributes(member: Member) -> dict[str, Any]:
    return member.attributes if isinstance(member.attributes, dict) else {}


def attribute_clashes(kept: Member, merged: Member) -> list[str]:
    """The attribute names both members have, with different values (sorted)."""
    mine, theirs = _attributes(kept), _attributes(merged)
    return sorted(key for key in mine.keys() & theirs.keys() if mine[key] != theirs[key])


def combined_attributes(kept: Member, merged: Member) -> dict[str, Any]:
    """The attributes of both members, the kept member's values on a clash."""
    return {**_attributes(merged), **_attributes(kept)}


def default_choices(kept: Member, merged: Member) -> dict[str, Choice]:
    """What the merge screen proposes: the earlier joined_at, the later last_seen_at, the kept
    member's attributes on a clash, and for every other field the kept member's value unless it
    is empty and the merged member's is not."""
    choices: dict[str, Choice] = {}
    for name in FIELDS:
        mine, theirs = getattr(kept, name), getattr(merged, name)
        if name == "joined_at":
            take = theirs is not None and (mine is None or theirs < mine)
        elif name == "last_seen_at":
            take = theirs is not None and (mine is None or theirs > mine)
        elif name == "attributes":
            take = False
        else:
            take = not mine and bool(theirs)
        choices[name] = "merged" if take else "kept"
    return choices


def field_choices(kept: Member, merged: Member) -> list[FieldChoice]:
    """Every field of FIELDS for the merge screen. Attributes "differ" when a name clashes
    (the others are simply combined)."""
    defaults = default_choices(kept, merged)
    found = []
    for name, label in FIELDS.items():
        if name == "attributes":
            clashes = attribute_clashes(kept, merged)
            mine = {key: _attributes(kept)[key] for key in clashes}
            theirs = {key: _attributes(merged)[key] for key in clashes}
            differs = bool(clashes)
        else:
            mine, theirs = getattr(kept, name), getattr(merged, name)
            differs = mine != theirs
        found.append(FieldChoice(name, label, mine, theirs, differs, defaults[name]))
    return found


def clean_choices(fields: Mapping[str, str] | None) -> dict[str, Choice]:
    """The caller's choices, checked: field names of FIELDS, values "kept" or "merged"."""
    fields = dict(fields or {})
    if unknown := sorted(set(fields) - set(FIELDS)):
        raise MergeError(f"A merge cannot choose {', '.join(unknown)}: not a member field.")
    for name, choice in fields.items():
        if choice not in CHOICES:
            raise MergeError(f"Choose the kept or the merged member's {FIELDS[name].lower()}.")
    return fields  # type: ignore[return-value]


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _chosen_values(kept: Member, merged: Member, chosen: dict[str, Choice]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in FIELDS:
        if name == "attributes":
            mine, theirs = _attributes(kept), _attributes(merged)
            # Every attribute of both; on a clash the chosen member's value wins.
            values[name] = {**theirs, **mine} if chosen[name] == "kept" else {**mine, **theirs}
        else:
            values[name] = getattr(kept if chosen[name] == "kept" else merged, name)
    return values


def gone_message(community: Community, member_id: int, label: str | None = None) -> str:
    """Why member `member_id` of the community is not there: merged (into whom) or deleted."""
    label = label or f"Member #{member_id}"
    merge = (
        MemberMerge.objects.filter(community=community, merged_member_id=member_id)
        .select_related("kept")
        .first()
    )
    if merge is not None:
        return (
            f"{label} was merged into {merge.kept.display_name} on "
            f"{timezone.localtime(merge.at):%b %-d, %Y}; nothing else was merged."
        )
    return f"{label} was deleted meanwhile; nothing was merged."


def member_merge(
    *,
    community: Community,
    kept: Member,
    merged: Member,
    fields: Mapping[str, str] | None = None,
    by=None,
) -> MemberMerge:
    """Merge `merged` into `kept` (see the module docstring) and return the record.

    `fields` chooses, per field of FIELDS, whose value the kept member ends up with ("kept"
    or "merged"); a field not given takes `default_choices`. Raises MergeError for a member
    merged with itself, members not both of `community`, and a member deleted meanwhile.
    """
    if kept.pk == merged.pk:
        raise MergeError("A member cannot be merged with themselves.")
    if kept.community_id != community.pk or merged.community_id != community.pk:
        raise MergeError("Only two members of the same community can be merged.")
    choices = clean_choices(fields)
    try:
        with transaction.atomic():
            record = _merge(community, kept, merged, choices, by)
    except OperationalError as error:
        # A member deleted by someone else at the same moment, in the other lock order.
        if isinstance(error.__cause__, psycopg.errors.DeadlockDetected):
            raise MergeError(
                "Someone else changed these members at the same moment; nothing was merged. "
                "Try again."
            ) from error
        raise
    return record


def _merge(
    community: Community, kept: Member, merged: Member, choices: dict[str, Choice], by
) -> MemberMerge:
    import_lock(community.pk)
    locked = {
        member.pk: member
        for member in Member.objects.for_community(community)
        .filter(pk__in=[kept.pk, merged.pk])
        .order_by("pk")
        .select_for_update()
    }
    for member in (kept, merged):
        if member.pk not in locked:
            raise MergeError(gone_message(community, member.pk, member.display_name))
    kept, merged = locked[kept.pk], locked[merged.pk]
    kept.community = merged.community = community
    chosen = {**default_choices(kept, merged), **choices}
    values = _chosen_values(kept, merged, chosen)
    record_fields = {
        name: {
            "chosen": chosen[name],
            "kept": _jsonable(getattr(kept, name)),
            "merged": _jsonable(getattr(merged, name)),
        }
        for name in FIELDS
    }

    counts: dict[str, int] = {
        "identities": Identity.objects.filter(member=merged).update(member=kept)
    }
    for _receiver, moved in members_merging.send(
        sender=Member, community=community, kept=kept, merged=merged, by=by
    ):
        if isinstance(moved, dict):  # what the receiver moved, by kind of row
            for name, count in moved.items():
                counts[name] = counts.get(name, 0) + count
    # Earlier merges into the merged member are now merges into the kept one.
    counts["earlier_merges"] = MemberMerge.objects.filter(kept=merged).update(kept=kept)

    now = timezone.now()
    Member.objects.filter(pk=merged.pk).update(email="")  # before the kept member may take it
    Member.objects.filter(pk=kept.pk).update(**values, updated_at=now)
    merged_id, merged_name, merged_email = merged.pk, merged.name, merged.email
    merged.delete()
    record = MemberMerge.objects.create(
        community=community,
        kept=kept,
        merged_member_id=merged_id,
        merged_name=merged_name,
        merged_email=merged_email,
        by=by,
        at=now,
        fields=record_fields,
        counts=counts,
    )
    # Smart segments re-evaluate the kept member after commit (segments), its last_seen_at
    # follows its activities, old and moved (engagement).
    members_changed.send(sender=Member, community=community, member_ids=[kept.pk])
    kept.refresh_from_db()
    record.kept = kept
    return record
