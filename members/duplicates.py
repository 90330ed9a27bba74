"""Possible duplicates: pairs of members of one community who may be one person.

Two members are a possible duplicate when their names are the same (trimmed, case-insensitive,
not empty) and either

(a) their companies are the same too (trimmed, case-insensitive, not empty), or
(b) they come from different sources (each has at least one identity and no source is shared:
    a Slack member and a Discourse member, not two Slack accounts) and at most one of them has
    an email (two different emails are taken as two people).

Emails are not compared: they are unique per community, case-insensitively, by a constraint.

Pairs are grouped by name and found set-based, in two statements per page:

1. the names held by two members or more, in order after the page's `after`, from a GROUP BY
   over the (community, name key) index (member_by_name_key), until they hold
   MAX_SCANNED_MEMBERS members: this bounds what one page compares, whatever the data;
2. one statement over those names: their members (the first MAX_COMPARED of a name, by id),
   each member's identity sources aggregated once, a self-join per name that keeps the pairs
   matching (a) or (b), and the first MAX_GROUPS names with such a pair, with their first
   MAX_PAIRS_PER_GROUP pairs and how many there are.

The page is keyset-paged by name key (page 100 costs what page 1 costs). A page shows at most
MAX_GROUPS names; it may show fewer, even none, when the names it compared hold few duplicates,
and still link to the next one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection

from .models import Community, Identity, Member

MAX_GROUPS = 50  # names shown per page
MAX_PAIRS_PER_GROUP = 10  # pairs shown per name
MAX_COMPARED = 50  # members of one name compared with each other (the first, by id)
MAX_SCANNED_MEMBERS = 5_000  # members one page compares, at most about
# The longest name key a page writes: a name has 200 characters, and lower() makes a few of
# them two. Anything longer in `after` is forged.
MAX_KEY_LENGTH = 400

# The name key, as the member_by_name_key index has it.
_KEY = "LOWER(TRIM({t}.name))"
_MEMBER_COLUMNS = f"""{{t}}.id, {_KEY}, LOWER(TRIM({{t}}.company_name)),
    CASE WHEN {{t}}.email <> '' THEN 1 ELSE 0 END"""
# Each compared member's identity sources: how many, the first and the last, so that most
# pairs compare their sources without reading an identity (one source each: compare them;
# ranges that do not overlap: disjoint) and only the rest look for a source both have.
_SOURCES = """src AS (
    SELECT i.member_id, COUNT(DISTINCT i.source) AS n, MIN(i.source) AS lo, MAX(i.source) AS hi
    FROM members_identity i WHERE i.member_id IN (SELECT id FROM m) GROUP BY i.member_id
)"""
_PAIRS = """m a JOIN m b ON b.k = a.k AND b.id <> a.id
    LEFT JOIN src sa ON sa.member_id = a.id
    LEFT JOIN src sb ON sb.member_id = b.id"""
_SAME_COMPANY = "CASE WHEN a.company <> '' AND a.company = b.company THEN 1 ELSE 0 END"
_DIFFERENT_SOURCES = """CASE
    WHEN a.has_email = 1 AND b.has_email = 1 THEN 0
    WHEN sa.n IS NULL OR sb.n IS NULL THEN 0
    WHEN sa.n = 1 AND sb.n = 1 THEN CASE WHEN sa.lo <> sb.lo THEN 1 ELSE 0 END
    WHEN sa.hi < sb.lo OR sb.hi < sa.lo THEN 1
    WHEN sa.lo IN (sb.lo, sb.hi) OR sa.hi IN (sb.lo, sb.hi) THEN 0
    WHEN EXISTS (SELECT 1 FROM members_identity ia
                 JOIN members_identity ib ON ib.source = ia.source
                 WHERE ia.member_id = a.id AND ib.member_id = b.id) THEN 0
    ELSE 1 END"""


@dataclass
class Pair:
    first: Member  # on the page, the older member (smaller id): the one kept by default
    second: Member
    same_company: bool
    different_sources: bool

    @property
    def reasons(self) -> list[str]:
        found = []
        if self.same_company:
            found.append("Same name and company")
        if self.different_sources:
            found.append("Same name, different sources")
        return found


@dataclass
class Group:
    key: str
    size: int = 0  # members with this name
    pairs: list[Pair] = field(default_factory=list)
    pair_count: int = 0  # pairs among the compared members

    @property
    def name(self) -> str:
        return self.pairs[0].first.name.strip() if self.pairs else self.key

    @property
    def more(self) -> int:
        return self.pair_count - len(self.pairs)

    @property
    def compared(self) -> int:
        return min(self.size, MAX_COMPARED)


@dataclass
class DuplicatesPage:
    groups: list[Group]
    after: str  # the key this page starts after ("" for the first page)
    next_after: str | None  # the `after` of the next page, None on the last


def clean_after(value: object) -> str:
    """The `after` of a page link, or "" (the first page) for anything a page cannot write."""
    if not isinstance(value, str) or len(value) > MAX_KEY_LENGTH or "\x00" in value:
        return ""
    return value


def duplicate_groups(community: Community, *, after: str = "") -> DuplicatesPage:
    """The names after `after`, in the database's order, held by a possible duplicate pair:
    at most MAX_GROUPS, with their first MAX_PAIRS_PER_GROUP pairs. Two statements, then one
    for the members and one for their sources."""
    after = clean_after(after)  # "" also stands for "not empty": every key is > ''
    until, more_names = _scan(community, after)
    if until is None:
        return DuplicatesPage(groups=[], after=after, next_after=None)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH names AS (
                    SELECT {_KEY.format(t="mm")} AS k, COUNT(*) AS size FROM members_member mm
                    WHERE mm.community_id = %s
                      AND {_KEY.format(t="mm")} > %s AND {_KEY.format(t="mm")} <= %s
                    GROUP BY {_KEY.format(t="mm")} HAVING COUNT(*) > 1
                ),
                ranked AS (
                    SELECT {_MEMBER_COLUMNS.format(t="mm")}, n.size,
                           ROW_NUMBER() OVER (PARTITION BY n.k ORDER BY mm.id) AS place
                    FROM members_member mm
                    JOIN names n ON n.k = {_KEY.format(t="mm")}
                    WHERE mm.community_id = %s
                      AND {_KEY.format(t="mm")} > %s AND {_KEY.format(t="mm")} <= %s
                ),
                m (id, k, company, has_email, size, place) AS (
                    SELECT * FROM ranked WHERE place <= %s
                ),
                {_SOURCES},
                pairs AS (
                    SELECT a.k, a.size, a.id AS a_id, b.id AS b_id,
                           {_SAME_COMPANY} AS same_company,
                           {_DIFFERENT_SOURCES} AS different_sources
                    FROM {_PAIRS}
                    WHERE a.id < b.id
                ),
                found AS (
                    SELECT p.*,
                           ROW_NUMBER() OVER (PARTITION BY k ORDER BY a_id, b_id) AS n,
                           COUNT(*) OVER (PARTITION BY k) AS pair_count
                    FROM pairs p
                    WHERE same_company = 1 OR different_sources = 1
                )
                SELECT k, size, a_id, b_id, same_company, different_sources, pair_count
                FROM found
                WHERE n <= %s AND k IN (SELECT DISTINCT k FROM found ORDER BY k LIMIT %s)
                ORDER BY k, a_id, b_id""",  # noqa: S608 (no input in the text: parameters only)
            [
                community.pk,
                after,
                until,
                community.pk,
                after,
                until,
                MAX_COMPARED,
                MAX_PAIRS_PER_GROUP,
                MAX_GROUPS + 1,
            ],
        )
        rows = cursor.fetchall()
    keys = list(dict.fromkeys(row[0] for row in rows))  # in order
    if len(keys) > MAX_GROUPS:
        next_after: str | None = keys[MAX_GROUPS - 1]
        keys = keys[:MAX_GROUPS]
    else:
        next_after = until if more_names else None
    shown = set(keys)
    rows = [row for row in rows if row[0] in shown]
    pairs = {(p.first.pk, p.second.pk): p for p in _pairs(row[2:6] for row in rows)}
    groups = {key: Group(key=key) for key in keys}
    for key, size, first, second, _, _, pair_count in rows:
        if (first, second) in pairs:  # both members still there
            group = groups[key]
            group.pairs.append(pairs[first, second])
            group.size, group.pair_count = size, pair_count
    return DuplicatesPage(
        groups=[groups[key] for key in keys if groups[key].pairs],
        after=after,
        next_after=next_after,
    )


def _scan(community: Community, after: str) -> tuple[str | None, bool]:
    """The last name key this page compares, and whether names held by several members follow
    it: the names after `after` held by two members or more, in order, until they hold
    MAX_SCANNED_MEMBERS compared members."""
    limit = MAX_SCANNED_MEMBERS // 2 + 1  # every such name holds two members at least
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT {_KEY.format(t="mm")}, COUNT(*) FROM members_member mm
                WHERE mm.community_id = %s AND {_KEY.format(t="mm")} > %s
                GROUP BY {_KEY.format(t="mm")} HAVING COUNT(*) > 1
                ORDER BY {_KEY.format(t="mm")}
                LIMIT %s""",  # noqa: S608
            [community.pk, after, limit],
        )
        rows = cursor.fetchall()
    until, members = None, 0
    for index, (key, size) in enumerate(rows):
        until = key
        members += min(size, MAX_COMPARED)
        if members >= MAX_SCANNED_MEMBERS:
            return until, index + 1 < len(rows) or len(rows) == limit
    return until, len(rows) == limit


def duplicates_of(member: Member, *, limit: int | None = None) -> list[Pair]:
    """The member's possible duplicates (for its profile), at most `limit` (default
    MAX_PAIRS_PER_GROUP), as pairs whose `first` is the member, among the first
    MAX_COMPARED other members of its name."""
    limit = limit or MAX_PAIRS_PER_GROUP
    if not member.name.strip():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH m (id, k, company, has_email) AS (
                    SELECT {_MEMBER_COLUMNS.format(t="mm")} FROM members_member mm
                    WHERE mm.id = %s
                    UNION ALL
                    SELECT * FROM (
                        SELECT {_MEMBER_COLUMNS.format(t="mm")} FROM members_member mm
                        WHERE mm.community_id = %s AND {_KEY.format(t="mm")} = LOWER(TRIM(%s))
                          AND mm.id <> %s
                        ORDER BY mm.id
                        LIMIT %s
                    ) others
                ),
                {_SOURCES}
                SELECT a.id, b.id, {_SAME_COMPANY}, {_DIFFERENT_SOURCES}
                FROM {_PAIRS}
                WHERE a.id = %s AND ({_SAME_COMPANY} = 1 OR {_DIFFERENT_SOURCES} = 1)
                ORDER BY b.id
                LIMIT %s""",  # noqa: S608
            [
                member.pk,
                member.community_id,
                member.name,
                member.pk,
                MAX_COMPARED,
                member.pk,
                limit,
            ],
        )
        rows = cursor.fetchall()
    return _pairs(rows)


def _pairs(rows: Iterable[tuple]) -> list[Pair]:
    """Pairs from (first id, second id, same company, different sources) rows, their members
    loaded in one query and their identity sources in another."""
    rows = list(rows)
    ids = {pk for row in rows for pk in row[:2]}
    members = {m.pk: m for m in Member.objects.filter(pk__in=ids).select_related("community")}
    sources: dict[int, set[str]] = {}
    for member_id, source in Identity.objects.filter(member_id__in=ids).values_list(
        "member_id", "source"
    ):
        sources.setdefault(member_id, set()).add(source)
    for pk, member in members.items():
        member.sources = sorted(sources.get(pk, ()))  # type: ignore[attr-defined]
    return [
        Pair(members[a], members[b], bool(same), bool(different))
        for a, b, same, different in rows
        if a in members and b in members
    ]
