"""Writes on segments: the commands and the screens call these, never the models directly.

Every function takes keyword arguments, checks its input and raises SegmentError with a
message fit to show the manager. Refreshes a change calls for are enqueued on commit
(segments/tasks.py), so a rolled-back change enqueues nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.db.models.functions import Lower
from django.utils import timezone

from members.models import Community, Member

from . import graph, rules, tasks
from .locks import graph_lock, membership_lock
from .models import (
    DESCRIPTION_MAX_LENGTH,
    NAME_MAX_LENGTH,
    Change,
    Color,
    Kind,
    MembershipChange,
    Segment,
    SegmentMembership,
    Via,
)
from .refresh import ledger_written

LOOKUP_CHUNK = 500  # values per IN (...): under every database's parameter limit
MAX_ENTRIES = 10_000  # names or emails matched at once (a paste, a segments file)
MAX_ENTRY_LENGTH = 320  # characters of one name or email (an email has at most 254)


class SegmentError(ValueError):
    """Input a segment cannot take; `field` names the form field it belongs to, if one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SegmentGone(SegmentError):
    """The segment was deleted by someone else while this change was on its way."""

    def __init__(self, segment: Segment) -> None:
        super().__init__(f"{segment.name} was deleted meanwhile by someone else.")


class EditConflict(SegmentError):
    """Someone else saved the segment after the editor opened it; `current` is their version."""

    def __init__(self, current: Segment) -> None:
        super().__init__(
            "Someone else changed this segment since you opened it. Save again to replace "
            "their changes with yours, or close the dialog to keep theirs."
        )
        self.current = current


# --- Checks -------------------------------------------------------------------------------------


def clean_name(community: Community, name: str, *, segment: Segment | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise SegmentError("A segment needs a name.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise SegmentError(
            f"A segment name has at most {NAME_MAX_LENGTH} characters.", field="name"
        )
    if "\x00" in name:
        raise SegmentError("A segment name cannot contain a NUL character.", field="name")
    others = Segment.objects.for_community(community).annotate(lower=Lower("name"))
    if segment is not None:
        others = others.exclude(pk=segment.pk)
    if others.filter(lower=name.lower()).exists():
        raise SegmentError(f"There is already a segment called {name!r}.", field="name")
    return name


def clean_rule(community: Community, data: object, *, segment: Segment | None = None) -> dict:
    """The rule as it will be stored: parsed, its segment references in this community, and
    no cycle through them. Raises SegmentError (field "rule")."""
    try:
        rule = rules.parse(data)
    except rules.RuleError as error:
        raise SegmentError(str(error), field="rule") from error
    references = rules.segments_used(rule)
    if references:
        names = dict(
            Segment.objects.for_community(community)
            .filter(pk__in=references)
            .values_list("pk", "name")
        )
        if missing := sorted(references - set(names)):
            raise SegmentError(
                f"The rule refers to segment #{missing[0]}, which is not in this community.",
                field="rule",
            )
        if segment is not None:
            cycle = graph.find_cycle(graph.dependency_graph(community), segment.pk, references)
            if cycle:
                # Name every segment on the path, not only the ones this rule refers to.
                names.update(
                    Segment.objects.for_community(community)
                    .filter(pk__in=cycle)
                    .values_list("pk", "name")
                )
                names[segment.pk] = segment.name
                path = " → ".join(names.get(pk, f"#{pk}") for pk in cycle)
                raise SegmentError(
                    f"The rule would make segments refer to each other in a circle: {path}.",
                    field="rule",
                )
    return rules.dump(rule)


def _clean_description(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > DESCRIPTION_MAX_LENGTH:
        raise SegmentError(
            f"A description has at most {DESCRIPTION_MAX_LENGTH} characters.", field="description"
        )
    if "\x00" in text:
        raise SegmentError("A description cannot contain a NUL character.", field="description")
    return text


def _clean_review(days: int | None) -> int | None:
    if days in (None, 0):
        return None
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
        raise SegmentError(
            "The review reminder is a number of days from 1 to 3650.", field="review_every_days"
        )
    return days


def _clean_color(color: str) -> str:
    if color not in Color.values:
        raise SegmentError(f"Pick a colour: {', '.join(Color.values)}.", field="color")
    return color


# --- Create, update, delete, pin, reorder -------------------------------------------------------


def segment_create(
    *,
    community: Community,
    name: str,
    kind: str,
    rule: object = None,
    description: str = "",
    color: str = Color.BLUE,
    pinned: bool = False,
    review_every_days: int | None = None,
    by=None,
) -> Segment:
    """A new segment, last in pill order. A smart one is refreshed once the creation commits."""
    if kind not in Kind.values:
        raise SegmentError("A segment is smart or manual.", field="kind")
    if kind == Kind.MANUAL and rule is not None:
        raise SegmentError("A manual segment has no rule.", field="rule")
    with transaction.atomic():
        graph_lock(community.pk)  # the checks below see every segment write before this one
        name = clean_name(community, name)
        if kind == Kind.SMART:
            rule = clean_rule(community, rule)
        last = Segment.objects.for_community(community).aggregate(last=Max("position"))["last"]
        try:
            with transaction.atomic():
                segment = Segment.objects.create(
                    community=community,
                    name=name,
                    kind=kind,
                    rule=rule,
                    description=_clean_description(description),
                    color=_clean_color(color),
                    pinned=pinned,
                    position=0 if last is None else last + 1,
                    review_every_days=_clean_review(review_every_days),
                    created_by=by,
                )
        except IntegrityError as error:  # the same name, created at the same moment
            raise SegmentError(
                f"There is already a segment called {name!r}.", field="name"
            ) from error
        if segment.is_smart:
            tasks.refresh_later(segment)
    return segment


EDITABLE = ("name", "rule", "description", "color", "pinned", "review_every_days")


def segment_update(
    *, segment: Segment, by=None, edit_version: str | None = None, **changes: Any
) -> Segment:
    """Change any of EDITABLE. A new rule bumps rule_version and is refreshed on commit.

    `edit_version`: the segment's `edit_version` when the caller read it (the edit dialog);
    if someone else saved the segment since, EditConflict is raised and nothing changes.
    """
    if unknown := sorted(set(changes) - set(EDITABLE)):
        raise TypeError(f"segment_update() cannot change {', '.join(unknown)}")
    community = segment.community
    with transaction.atomic():
        graph_lock(community.pk)
        segment = _locked(segment)
        if edit_version is not None and edit_version != segment.edit_version:
            raise EditConflict(segment)
        rule_changed = False
        if "name" in changes:
            segment.name = clean_name(community, changes["name"], segment=segment)
        if "rule" in changes:
            if not segment.is_smart:
                raise SegmentError("A manual segment has no rule.", field="rule")
            rule = clean_rule(community, changes["rule"], segment=segment)
            if rule != segment.rule:
                segment.rule = rule
                segment.rule_version += 1
                segment.refreshed_at = None  # "updating" until the new rule is refreshed
                rule_changed = True
        if "description" in changes:
            segment.description = _clean_description(changes["description"])
        if "color" in changes:
            segment.color = _clean_color(changes["color"])
        if "pinned" in changes:
            segment.pinned = bool(changes["pinned"])
        if "review_every_days" in changes:
            segment.review_every_days = _clean_review(changes["review_every_days"])
        try:
            with transaction.atomic():
                segment.save()
        except IntegrityError as error:
            raise SegmentError(
                f"There is already a segment called {segment.name!r}.", field="name"
            ) from error
        if rule_changed:
            tasks.refresh_later(segment)
    return segment


def _locked(segment: Segment) -> Segment:
    """The segment's row, locked until the transaction ends; SegmentGone if it was deleted."""
    locked = Segment.objects.select_for_update().filter(pk=segment.pk).first()
    if locked is None:
        raise SegmentGone(segment)
    locked.community = segment.community  # the one the caller has, not a copy
    return locked


def segment_delete(*, segment: Segment) -> None:
    """Delete the segment, its memberships and history; refused while a rule refers to it.
    Deleting a segment that is already gone does nothing."""
    with transaction.atomic():
        graph_lock(segment.community_id)  # no rule starts to refer to it meanwhile
        full = graph.dependency_graph(segment.community)
        if segment.pk not in full:
            return
        referrers = sorted(pk for pk, deps in full.items() if segment.pk in deps)
        if referrers:
            names = (
                Segment.objects.filter(pk__in=referrers)
                .order_by("name")
                .values_list("name", flat=True)
            )
            raise SegmentError(
                f"{segment.name} is used in the rules of {', '.join(names)}; change those first."
            )
        segment.delete()


def segment_pin(*, segment: Segment, pinned: bool) -> Segment:
    Segment.objects.filter(pk=segment.pk).update(pinned=pinned, updated_at=timezone.now())
    segment.pinned = pinned
    return segment


def segment_move(*, segment: Segment, up: bool) -> None:
    """Swap the segment with its neighbour in the pill order (none at either end: no change)."""
    with transaction.atomic():
        order = list(
            Segment.objects.for_community(segment.community)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        if segment.pk not in order:
            raise SegmentGone(segment)
        index = order.index(segment.pk)
        other = index - 1 if up else index + 1
        if 0 <= other < len(order):
            order[index], order[other] = order[other], order[index]
            segment_reorder(community=segment.community, segment_ids=order)


def segment_reorder(*, community: Community, segment_ids: Sequence[int]) -> None:
    """Put the given segments first, in this order; the others keep their order after them."""
    ids = [int(pk) for pk in segment_ids]
    if len(set(ids)) != len(ids):
        raise SegmentError("Each segment can appear only once in the new order.")
    with transaction.atomic():
        segments = list(Segment.objects.for_community(community).select_for_update())
        by_id = {segment.pk: segment for segment in segments}
        if unknown := [pk for pk in ids if pk not in by_id]:
            raise SegmentError(f"Segment #{unknown[0]} is not in this community.")
        rest = [segment.pk for segment in segments if segment.pk not in set(ids)]
        for position, pk in enumerate([*ids, *rest]):
            by_id[pk].position = position
        Segment.objects.bulk_update(segments, ["position"])


def segment_mark_reviewed(*, segment: Segment) -> Segment:
    segment.reviewed_at = timezone.now()
    Segment.objects.filter(pk=segment.pk).update(reviewed_at=segment.reviewed_at)
    return segment


# --- Manual membership --------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\n\r,;]+")


def split_entries(text: str) -> list[str]:
    """Names or emails pasted one per line or separated by commas, trimmed, repeats dropped."""
    return unique_entries(_SEPARATORS.split(text or ""))


def unique_entries(texts: Iterable[str]) -> list[str]:
    """The entries trimmed, blanks and repeats (case-insensitive) dropped, in order."""
    seen: set[str] = set()
    entries = []
    for raw in texts:
        entry = raw.strip()
        if entry and entry.lower() not in seen:
            seen.add(entry.lower())
            entries.append(entry)
    return entries


@dataclass
class MemberMatch:
    """How pasted entries matched members: each entry lands in exactly one list."""

    matched: list[tuple[str, Member]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    ambiguous: list[tuple[str, int]] = field(default_factory=list)  # (entry, how many)

    @property
    def members(self) -> list[Member]:
        unique = {member.pk: member for _, member in self.matched}
        return list(unique.values())


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def check_entries(entries: Sequence[str]) -> None:
    """Raise SegmentError (field "entries") for entries no member could match: too many, too
    long, or with a NUL character."""
    if len(entries) > MAX_ENTRIES:
        raise SegmentError(
            f"Paste at most {MAX_ENTRIES:,} names or emails at a time ({len(entries):,} given).",
            field="entries",
        )
    for entry in entries:
        if "\x00" in entry:
            raise SegmentError(
                f"{entry[:40].replace(chr(0), '')!r} contains a NUL character.", field="entries"
            )
        if len(entry) > MAX_ENTRY_LENGTH:
            raise SegmentError(
                f"{entry[:40]!r}… is longer than {MAX_ENTRY_LENGTH} characters: no name or "
                "email is that long.",
                field="entries",
            )


def match_members(community: Community, entries: Sequence[str]) -> MemberMatch:
    """Exact email first (case-insensitive), then exact case-insensitive name; never a guess.
    Raises SegmentError for entries `check_entries` refuses."""
    check_entries(entries)
    members = Member.objects.for_community(community)
    lowered = sorted({entry.lower() for entry in entries})
    by_email: dict[str, Member] = {}
    for chunk in _chunks([value for value in lowered if "@" in value]):
        for member in members.annotate(key=Lower("email")).filter(key__in=chunk):
            by_email[member.key] = member
    names_wanted = [value for value in lowered if value not in by_email]
    by_name: dict[str, list[Member]] = {}
    for chunk in _chunks(names_wanted):
        for member in members.annotate(key=Lower("name")).filter(key__in=chunk).order_by("pk"):
            by_name.setdefault(member.key, []).append(member)
    result = MemberMatch()
    for entry in entries:
        key = entry.lower()
        if key in by_email:
            result.matched.append((entry, by_email[key]))
        elif len(by_name.get(key, ())) == 1:
            result.matched.append((entry, by_name[key][0]))
        elif key in by_name:
            result.ambiguous.append((entry, len(by_name[key])))
        else:
            result.unknown.append(entry)
    return result


@dataclass
class AddReport:
    added: list[Member] = field(default_factory=list)
    already: list[Member] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    ambiguous: list[tuple[str, int]] = field(default_factory=list)


def _lock_manual(segment: Segment) -> Segment:
    membership_lock(segment.community_id)
    locked = _locked(segment)
    if locked.is_smart:
        raise SegmentError(f"{locked.name} is a smart segment: its rule decides who is in it.")
    return locked


def segment_add_members(
    *,
    segment: Segment,
    entries: Sequence[str] = (),
    members: Iterable[Member] = (),
    by=None,
    via: str = Via.MANUAL,
) -> AddReport:
    """Add members to a manual segment, given as pasted `entries` (names or emails) and/or as
    `members` of its community. Unknown and ambiguous entries are reported, not added."""
    match = match_members(segment.community, entries)
    report = AddReport(unknown=match.unknown, ambiguous=match.ambiguous)
    wanted = {member.pk: member for member in [*match.members, *members]}
    if any(member.community_id != segment.community_id for member in wanted.values()):
        raise SegmentError("Only members of this community can join its segments.")
    now = timezone.now()
    with transaction.atomic():
        segment = _lock_manual(segment)
        # Read again under the lock: a member deleted since the match must not be added.
        existing = set(Member.objects.filter(pk__in=list(wanted)).values_list("pk", flat=True))
        wanted = {pk: member for pk, member in wanted.items() if pk in existing}
        present = set(
            SegmentMembership.objects.filter(segment=segment, member__in=list(wanted)).values_list(
                "member_id", flat=True
            )
        )
        report.already = [wanted[pk] for pk in wanted if pk in present]
        report.added = [wanted[pk] for pk in wanted if pk not in present]
        if report.added:
            SegmentMembership.objects.bulk_create(
                SegmentMembership(
                    community_id=segment.community_id,
                    segment=segment,
                    member=member,
                    added_at=now,
                    via=via,
                    added_by=by,
                )
                for member in report.added
            )
            _log(segment, report.added, Change.ENTERED, now, via, by)
            Segment.objects.filter(pk=segment.pk).update(
                member_count=F("member_count") + len(report.added), updated_at=now
            )
            tasks.refresh_dependents_later(segment)
    return report


def segment_remove_members(
    *, segment: Segment, member_ids: Iterable[int], by=None, via: str = Via.MANUAL
) -> int:
    """Take members out of a manual segment; returns how many were in it. `via` says how
    (by hand, or through the API) in the ledger."""
    ids = sorted({int(pk) for pk in member_ids})
    now = timezone.now()
    with transaction.atomic():
        segment = _lock_manual(segment)
        leaving = list(
            Member.objects.filter(memberships__segment=segment, pk__in=ids).order_by("pk")
        )
        if not leaving:
            return 0
        SegmentMembership.objects.filter(segment=segment, member__in=leaving).delete()
        _log(segment, leaving, Change.LEFT, now, via, by)
        Segment.objects.filter(pk=segment.pk).update(
            member_count=F("member_count") - len(leaving), updated_at=now
        )
        tasks.refresh_dependents_later(segment)
    return len(leaving)


# --- Merged members -----------------------------------------------------------------------------


def merge_memberships(
    *, community: Community, kept: Member, merged: Member, by=None
) -> dict[str, int]:
    """Before `merged` is deleted by a merge into `kept` (members/merging.py): its memberships
    added by hand, import or API move to `kept`, except where `kept` is in the segment already;
    those duplicates and its rule memberships are dropped (smart segments decide about `kept`
    when its refresh runs after the merge), each with a "left" row in the ledger, and the
    stored counts follow. Its ledger rows become `kept`'s. Returns what was moved and dropped.

    Takes the membership lock exclusive, as the deletion that follows would (segments/locks.py),
    before any segment row: refreshes in flight finish first and none starts until the merge
    commits, so no membership of `merged` is written meanwhile; the deletion's own receiver
    then finds none of its memberships left and changes no count a second time.
    """
    membership_lock(community.pk, exclusive=True)
    theirs = list(
        SegmentMembership.objects.filter(member=merged).values_list("pk", "segment_id", "via")
    )
    mine = set(SegmentMembership.objects.filter(member=kept).values_list("segment_id", flat=True))
    moving = [pk for pk, segment_id, via in theirs if via != Via.RULE and segment_id not in mine]
    dropping = sorted(
        segment_id for _, segment_id, via in theirs if via == Via.RULE or segment_id in mine
    )
    ledger = MembershipChange.objects.filter(member=merged).update(member=kept)
    if moving:
        SegmentMembership.objects.filter(pk__in=moving).update(member=kept)
    if dropping:
        now = timezone.now()
        SegmentMembership.objects.filter(member=merged, segment_id__in=dropping).delete()
        _write_ledger(
            community.pk,
            [
                MembershipChange(
                    community_id=community.pk,
                    segment_id=segment_id,
                    member=kept,
                    change=Change.LEFT,
                    at=now,
                    via=Via.MANUAL,
                    by=by,
                )
                for segment_id in dropping
            ],
        )
        Segment.objects.filter(pk__in=dropping).update(member_count=F("member_count") - 1)
    return {"memberships": len(moving), "memberships_dropped": len(dropping), "ledger": ledger}


def _log(segment: Segment, members: Iterable[Member], change: str, at, via: str, by) -> None:
    _write_ledger(
        segment.community_id,
        [
            MembershipChange(
                community_id=segment.community_id,
                segment=segment,
                member=member,
                change=change,
                at=at,
                via=via,
                by=by,
            )
            for member in members
        ],
    )


def _write_ledger(community_id: int, changes: list[MembershipChange]) -> None:
    """Write ledger rows of changes made by hand (or by a merge) and announce them as a refresh
    announces its own (segments/refresh.py `ledger_written`): their ids are one range, as the
    writer holds the segments' locks."""
    if not changes:
        return
    written = MembershipChange.objects.bulk_create(changes)
    ids = [change.pk for change in written]
    ledger_written.send(
        sender=Segment,
        community_id=community_id,
        segment_ids=sorted({change.segment_id for change in written}),
        after_id=min(ids) - 1,
        up_to_id=max(ids),
    )
