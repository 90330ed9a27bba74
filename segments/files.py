"""The segments file (docs/cli.md "import_segments"): import and export of a community's segments as
JSON.

The file is a list of objects::

    [{"name": "Mentors", "kind": "manual", "members": ["ada@example.org", "Grace Hopper"],
      "pinned": true, "description": "...", "color": "green", "review_every_days": 30},
     {"name": "Brewers", "kind": "smart", "pinned": false,
      "rule": {"all": [{"field": "job_title", "op": "contains", "value": "brewer"},
                       {"field": "segment", "op": "not_in", "value": "Mentors"}]}}]

Segment references in rules use segment names, not ids: a name may be a segment earlier or
later in the same file, or one the community already has.

Import (`import_segments`) is all or nothing: `plan_import` checks every entry first and collects
every problem, each named by the segment's position and name ('segment 3 "Brewers": condition
1 of group 1: unknown field ...'); with any problem nothing is written. Then one transaction
writes every segment through segments/services.py, so the refreshes they call for are enqueued
once it commits. Choices it makes:

- Upsert by name, case-insensitively; the file's spelling of the name wins. A key absent from
  an entry leaves an existing segment's value alone (a new segment takes the default). A file
  cannot change a segment's kind.
- Manual members are matched as pasted entries are (exact email, then exact name, both
  case-insensitive); unknown and ambiguous entries are errors. Importing adds the listed
  members and never removes anyone from an existing manual segment.
- Unknown keys are errors, so a misspelt key ("colour") is not silently dropped.

Export (`export_segments`) writes the same format: references by name, manual members as their
emails (their names when they have no email), so the output re-imports into another community
with the same members to the same segments.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from members.models import Community

from . import graph, rules, services
from .models import Color, Kind, Segment, SegmentMembership, Via

__all__ = [
    "ImportedSegment",
    "SegmentsFileError",
    "dumps",
    "export_segments",
    "import_segments",
    "loads",
    "plan_import",
]

KEYS = ("name", "kind", "rule", "members", "pinned", "description", "color", "review_every_days")
MAX_ENTRIES = 1000


class SegmentsFileError(ValueError):
    """The file cannot be imported; `errors` lists every problem found. Nothing was written."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


# --- Reading ------------------------------------------------------------------------------------


def loads(text: str | bytes) -> list:
    """The file's entries: a JSON list. Raises SegmentsFileError for anything else."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SegmentsFileError(["the file is not UTF-8 text"]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SegmentsFileError(
            [f"the file is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"]
        ) from None
    except RecursionError:
        raise SegmentsFileError(
            [f"the file nests too deeply (groups nest at most {rules.MAX_DEPTH} levels)"]
        ) from None
    if not isinstance(data, list):
        raise SegmentsFileError(
            [f"the file must hold a JSON list of segments, not {rules._type_name(data)}"]
        )
    if len(data) > MAX_ENTRIES:
        raise SegmentsFileError([f"the file may hold at most {MAX_ENTRIES} segments"])
    return data


@dataclass
class _Entry:
    """One valid-looking entry of the file, with what it will write."""

    position: int
    name: str
    kind: str
    existing: Segment | None
    values: dict[str, Any]  # description, color, pinned, review_every_days: the keys given
    rule: object = None  # smart: the rule as in the file (segment names)
    members: list[str] = field(default_factory=list)  # manual
    references: set[str] = field(default_factory=set)  # lower-cased segment names

    @property
    def label(self) -> str:
        return f"segment {self.position} {json.dumps(self.name, ensure_ascii=False)}"


@dataclass
class ImportPlan:
    community: Community
    entries: list[_Entry]


@dataclass(frozen=True)
class ImportedSegment:
    segment: Segment
    created: bool
    added: int = 0  # manual: members added
    already: int = 0  # manual: listed members already in it


def _where(position: int, name: object) -> str:
    if isinstance(name, str) and name.strip():
        return f"segment {position} {json.dumps(name.strip(), ensure_ascii=False)}"
    return f"segment {position}"


def plan_import(community: Community, data: list) -> ImportPlan:
    """Check every entry against the community; raise SegmentsFileError listing every problem."""
    errors: list[str] = []
    existing = {
        segment.name.lower(): segment for segment in Segment.objects.for_community(community)
    }
    entries: list[_Entry] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(data, start=1):
        entry = _check_entry(position, raw, existing, seen, errors)
        if entry is not None:
            entries.append(entry)

    # Segment names in rules: a segment of the file or of the community. For the checks, the
    # file's new segments get stand-in ids above every real one.
    ids = {name: segment.pk for name, segment in existing.items()}
    stand_in = max(ids.values(), default=0)
    for entry in entries:
        if entry.existing is None:
            stand_in += 1
            ids[entry.name.lower()] = stand_in
    names_by_id = {pk: name for name, pk in ids.items()}
    spelled = {s.name.lower(): s.name for s in existing.values()}
    spelled.update({entry.name.lower(): entry.name for entry in entries})

    proposed = graph.dependency_graph(community)
    for entry in entries:
        if entry.kind == Kind.SMART:
            proposed[ids[entry.name.lower()]] = _check_rule(entry, ids, errors)
        else:
            proposed[ids[entry.name.lower()]] = set()
    for entry in entries:
        node = ids[entry.name.lower()]
        cycle = graph.find_cycle(proposed, node, proposed[node])
        if cycle:
            path = " → ".join(spelled.get(names_by_id[pk], f"#{pk}") for pk in cycle)
            errors.append(f"{entry.label}: the rules refer to each other in a circle: {path}")
    _check_members(community, entries, errors)
    if errors:
        raise SegmentsFileError(errors)
    return ImportPlan(community, entries)


def _check_entry(
    position: int,
    raw: object,
    existing: Mapping[str, Segment],
    seen: dict[str, int],
    errors: list[str],
) -> _Entry | None:
    if not isinstance(raw, dict):
        errors.append(
            f"segment {position}: must be an object with a name and a kind, "
            f"not {rules._type_name(raw)}"
        )
        return None
    name = raw.get("name")
    where = _where(position, name)
    problems: list[str] = []
    if unknown := sorted(str(key) for key in raw if key not in KEYS):
        problems.append(f"unexpected key {unknown[0]!r}; use {rules._or_list(KEYS)}")
    if not isinstance(name, str) or not name.strip():
        problems.append('needs a "name" (text)')
        name = ""
    else:
        name = name.strip()
        if len(name) > services.NAME_MAX_LENGTH:
            problems.append(f"a name has at most {services.NAME_MAX_LENGTH} characters")
        earlier = seen.setdefault(name.lower(), position)
        if earlier != position:
            problems.append(f"repeats the name of segment {earlier}")
    kind = raw.get("kind")
    if kind not in Kind.values:
        problems.append(f'"kind" must be "smart" or "manual", not {json.dumps(kind)}')
    current = existing.get(name.lower()) if name else None
    if current is not None and kind in Kind.values and current.kind != kind:
        problems.append(
            f"the community's segment {current.name!r} is {current.kind}; "
            "a file cannot change a segment's kind"
        )
    values = _check_values(raw, problems)
    if kind == Kind.SMART:
        if raw.get("rule") is None:
            problems.append('a smart segment needs a "rule"')
        if raw.get("members") not in (None, []):
            problems.append('a smart segment has no "members": its rule decides')
    elif kind == Kind.MANUAL and raw.get("rule") is not None:
        problems.append('a manual segment has no "rule"')
    members = raw.get("members") if kind == Kind.MANUAL else None
    entries: list[str] = []
    if members is not None:
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            problems.append('"members" must be a list of names or emails')
        else:
            # Unlike pasted text, a list item is one entry even with a comma ("Hopper, Grace").
            entries = services.unique_entries(members)
    errors.extend(f"{where}: {problem}" for problem in problems)
    if problems:
        return None
    return _Entry(
        position=position,
        name=name,
        kind=str(kind),
        existing=current,
        values=values,
        rule=raw.get("rule"),
        members=entries,
    )


def _check_values(raw: dict, problems: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "description" in raw:
        if not isinstance(raw["description"], str | None):
            problems.append('"description" must be text')
        values["description"] = raw["description"] or ""
    if "pinned" in raw:
        if not isinstance(raw["pinned"], bool):
            problems.append('"pinned" must be true or false')
        values["pinned"] = raw["pinned"]
    if "color" in raw:
        if raw["color"] not in Color.values:
            problems.append(f'"color" must be one of {rules._or_list(Color.values)}')
        values["color"] = raw["color"]
    if "review_every_days" in raw:
        days = raw["review_every_days"]
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650
        ):
            problems.append('"review_every_days" must be a number of days from 1 to 3650, or null')
        values["review_every_days"] = days or None
    return values


def _map_segment_values(
    rule: object, translate: Callable[[object, str], object], number: str = "1"
) -> object:
    """A copy of rule JSON with each segment condition's value passed through `translate`
    (value, where); anything that is not a well-formed group, or that nests deeper than a rule
    may, is left for rules.parse to refuse."""
    if not isinstance(rule, dict) or len(rule) != 1 or not ({"all", "any"} & set(rule)):
        return rule
    if number.count(".") >= rules.MAX_DEPTH:
        return rule
    ((kind, items),) = rule.items()
    if not isinstance(items, list):
        return rule
    mapped = []
    for index, item in enumerate(items, start=1):
        if isinstance(item, dict) and ("all" in item or "any" in item):
            mapped.append(_map_segment_values(item, translate, f"{number}.{index}"))
        elif isinstance(item, dict) and item.get("field") == "segment" and "value" in item:
            where = f"condition {index} of group {number}"
            mapped.append({**item, "value": translate(item["value"], where)})
        else:
            mapped.append(item)
    return {kind: mapped}


def _check_rule(entry: _Entry, ids: Mapping[str, int], errors: list[str]) -> set[int]:
    """Check the entry's rule; the ids (real or stand-in) of the segments it refers to."""
    problems: list[str] = []

    def to_id(value: object, where: str) -> object:
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: refer to a segment by its name (text)")
            return 1
        name = value.strip().lower()
        if name not in ids:
            problems.append(
                f"{where}: no segment called {json.dumps(value.strip(), ensure_ascii=False)} "
                "in the file or the community"
            )
            return 1
        entry.references.add(name)
        return ids[name]

    mapped = _map_segment_values(entry.rule, to_id)
    if problems:
        errors.extend(f"{entry.label}: {problem}" for problem in problems)
        return set()
    try:
        parsed = rules.parse(mapped)
    except rules.RuleError as error:
        errors.append(f"{entry.label}: {error}")
        return set()
    return rules.segments_used(parsed)


def _check_members(community: Community, entries: list[_Entry], errors: list[str]) -> None:
    refused = False
    for entry in entries:
        try:
            services.check_entries(entry.members)
        except services.SegmentError as error:
            errors.append(f"{entry.label}: {error}")
            refused = True
    wanted = [text for entry in entries for text in entry.members]
    if refused or not wanted:
        return
    try:
        match = services.match_members(community, services.unique_entries(wanted))
    except services.SegmentError as error:  # too many in all
        errors.append(f"the file's members: {error}")
        return
    unknown = {text.lower() for text in match.unknown}
    ambiguous = {text.lower(): count for text, count in match.ambiguous}
    for entry in entries:
        for text in entry.members:
            quoted = json.dumps(text, ensure_ascii=False)
            if text.lower() in unknown:
                errors.append(f"{entry.label}: no member with the email or name {quoted}")
            elif text.lower() in ambiguous:
                errors.append(
                    f"{entry.label}: {quoted} matches {ambiguous[text.lower()]} members; "
                    "use their emails"
                )


# --- Writing ------------------------------------------------------------------------------------


def import_segments(*, community: Community, data: list, by=None) -> list[ImportedSegment]:
    """Create or update every segment of the file in one transaction, or raise
    SegmentsFileError (nothing written). The result follows the file's order."""
    plan = plan_import(community, data)
    by_name = {entry.name.lower(): entry for entry in plan.entries}
    order = _dependency_order(plan.entries)
    done: dict[str, ImportedSegment] = {}
    with transaction.atomic():
        ids = {
            name.lower(): pk
            for name, pk in Segment.objects.for_community(community).values_list("name", "pk")
        }
        for name in order:
            entry = by_name[name]
            try:
                done[name] = _write(entry, community, ids, by)
            except services.SegmentError as error:  # changed since the checks: a race
                transaction.set_rollback(True)
                raise SegmentsFileError([f"{entry.label}: {error}"]) from error
            ids[name] = done[name].segment.pk
    return [done[entry.name.lower()] for entry in plan.entries]


def _dependency_order(entries: list[_Entry]) -> list[str]:
    """The file's segments, each after the file segments its rule refers to."""
    names = {entry.name.lower() for entry in entries}
    deps = {entry.name.lower(): entry.references & names for entry in entries}
    order: list[str] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        for dep in sorted(deps[name]):
            place(dep)
        order.append(name)

    for entry in entries:
        place(entry.name.lower())
    return order


def _write(entry: _Entry, community: Community, ids: Mapping[str, int], by) -> ImportedSegment:
    rule = None
    if entry.kind == Kind.SMART:
        rule = _map_segment_values(entry.rule, lambda value, where: ids[str(value).strip().lower()])
    if entry.existing is None:
        segment = services.segment_create(
            community=community, name=entry.name, kind=entry.kind, rule=rule, by=by, **entry.values
        )
        created = True
    else:
        changes = {"name": entry.name, **entry.values}
        if rule is not None:
            changes["rule"] = rule
        segment = services.segment_update(segment=entry.existing, by=by, **changes)
        created = False
    if entry.kind == Kind.MANUAL and entry.members:
        report = services.segment_add_members(
            segment=segment, entries=entry.members, by=by, via=Via.IMPORT
        )
        return ImportedSegment(segment, created, len(report.added), len(report.already))
    return ImportedSegment(segment, created)


# --- Export -------------------------------------------------------------------------------------


def export_segments(community: Community) -> list[dict[str, Any]]:
    """Every segment of the community in the file format, in pill order."""
    segments = list(Segment.objects.for_community(community).order_by("position", "name", "pk"))
    names = {segment.pk: segment.name for segment in segments}
    manual_members = _manual_members(community)
    entries = []
    for segment in segments:
        entry: dict[str, Any] = {"name": segment.name, "kind": segment.kind}
        if segment.is_smart:
            entry["rule"] = _map_segment_values(
                segment.rule,
                lambda value, where: names.get(value, value) if isinstance(value, int) else value,
            )
        else:
            entry["members"] = manual_members.get(segment.pk, [])
        entry["pinned"] = segment.pinned
        entry["description"] = segment.description
        entry["color"] = segment.color
        if segment.review_every_days:
            entry["review_every_days"] = segment.review_every_days
        entries.append(entry)
    return entries


def _manual_members(community: Community) -> dict[int, list[str]]:
    """Manual segment id -> its members as emails (names when they have no email)."""
    rows = (
        SegmentMembership.objects.filter(community=community, segment__kind=Kind.MANUAL)
        .order_by("segment_id", "member_id")
        .values_list("segment_id", "member__email", "member__name")
    )
    found: dict[int, list[str]] = {}
    for segment_id, email, name in rows.iterator(chunk_size=2000):
        found.setdefault(segment_id, []).append(email or name)
    return found


def dumps(entries: list[dict[str, Any]]) -> str:
    return json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
