"""Import a Stack Exchange data dump folder: its users as members, their posts, comments and
votes as activities (README "Importing a Stack Exchange dump" has the mapping).

The XML files are streamed with `iterparse`, rows written in chunks with set-based queries, all
in one transaction: a missing file or malformed XML raises `StackExchangeError` and writes
nothing. Members are keyed by their `stackexchange` identity (the user Id) and updated in
place; activities carry stable external ids ("post-<Id>", "comment-<Id>", "accepted-<answer
Id>", "vote-<Id>"), so importing the same dump again changes nothing.

Rows without a user (deleted accounts: no OwnerUserId / UserId) and rows of the site's bot
account "Community" (user Id -1) are skipped: neither is a community member.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone
from django.utils.html import strip_tags

from members.locks import import_lock
from members.mapping import parse_datetime
from members.models import Community, Identity, Member
from members.reports import ImportReport
from members.signals import members_changed

from .importing import ActivityRow, ActivityWriter
from .models import ActivityKind

SOURCE = "stackexchange"
COMMUNITY_BOT_ID = "-1"
FILES = ("Users.xml", "Posts.xml", "Comments.xml", "Votes.xml")
QUESTION, ANSWER = "1", "2"
ACCEPTED_VOTE, UP_VOTE, FAVOURITE_VOTE = "1", "2", "5"
KINDS = ("post", "reply", "message", "answer_accepted", "reaction_received", "reaction_given")
CHUNK_SIZE = 1000
MEMBER_FIELDS = ("name", "location", "bio", "joined_at", "last_seen_at")


class StackExchangeError(Exception):
    """The folder is not a readable Stack Exchange dump; nothing was written."""


@dataclass
class StackExchangeReport:
    members_created: int = 0
    members_updated: int = 0
    members_unchanged: int = 0
    activities_created: Counter[str] = field(default_factory=Counter)  # By kind slug.
    activities_unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # Rows without a member, by file.

    def summary(self) -> str:
        kinds = ", ".join(
            f"{count} {slug}" for slug, count in sorted(self.activities_created.items())
        )
        skipped = ", ".join(f"{count} in {name}" for name, count in sorted(self.skipped.items()))
        return (
            f"Members: {self.members_created} created, {self.members_updated} updated, "
            f"{self.members_unchanged} unchanged. "
            f"Activities: {self.activities_created.total()} created ({kinds or 'none'}), "
            f"{self.activities_unchanged} unchanged. "
            f"Skipped rows without a member: {skipped or 'none'}."
        )


class _Post(NamedTuple):
    type: str
    owner: str | None  # User Id, None for deleted accounts and the bot.
    created: datetime
    question: int  # The question's Id: its own for a question, the parent's for an answer.


def import_stackexchange(*, community: Community, directory: Path) -> StackExchangeReport:
    paths = {name: directory / name for name in FILES}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        raise StackExchangeError(f"{directory} has no {', '.join(missing)}.")
    kinds = {
        kind.slug: kind
        for kind in ActivityKind.objects.for_community(community).filter(slug__in=KINDS)
    }
    if absent := [slug for slug in KINDS if slug not in kinds]:
        raise StackExchangeError(f"The community has no activity kind {', '.join(absent)}.")
    report = StackExchangeReport()
    with transaction.atomic():
        import_lock(community.pk)  # another import of the community finishes first
        users = _import_users(community, paths["Users.xml"], report)
        activities = ImportReport()
        writer = ActivityWriter(community, activities, CHUNK_SIZE)
        importer = _ActivityImporter(kinds, users, writer, report)
        importer.read_posts(paths["Posts.xml"])
        importer.read_comments(paths["Comments.xml"])
        importer.read_votes(paths["Votes.xml"])
        importer.add_accepted_answers()
        writer.flush()
        if activities.errors:  # Cannot happen: every user we write activities for is a member.
            raise StackExchangeError(f"Activity without a member: {activities.errors[0]}")
        report.activities_created = writer.created_by_kind
        report.activities_unchanged = activities.unchanged
        # Last seen moves forward from the new activity (engagement/signals.py) and segments
        # re-evaluate the dump's members.
        dump_members = Identity.objects.filter(community=community, source=SOURCE)
        members_changed.send(
            Member,
            community=community,
            member_ids={*dump_members.values_list("member_id", flat=True)},
        )
    return report


def _rows(path: Path) -> Iterator[dict[str, str]]:
    """The attributes of each <row/>, streamed; parsed elements are dropped as we go."""
    root = None
    try:
        # The dump is a file the operator chose; expat (>= 2.4) refuses entity-expansion bombs
        # and ElementTree resolves no external entities.
        for event, element in ET.iterparse(path, events=("start", "end")):  # noqa: S314
            if root is None:
                root = element
            elif event == "end" and element.tag == "row":
                yield dict(element.attrib)
                root.clear()
    except ET.ParseError as exc:
        raise StackExchangeError(f"{path.name} is not well-formed XML: {exc}.") from None


def _date(path: Path, row: dict[str, str], name: str) -> datetime | None:
    try:
        return parse_datetime(name, row.get(name, ""))
    except ValueError as exc:
        raise StackExchangeError(f"{path.name}, row Id {row.get('Id')}: {exc}.") from None


def _plain_text(fragment: str) -> str:
    """HTML (as in AboutMe) to plain text: tags removed, entities decoded, blank lines folded."""
    text = html.unescape(strip_tags(fragment))
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _clip(value: str, field_name: str) -> str:
    max_length = getattr(Member._meta.get_field(field_name), "max_length", None)
    return value[:max_length] if max_length else value


# Users --------------------------------------------------------------------------------------


def _import_users(community: Community, path: Path, report: StackExchangeReport) -> set[str]:
    """Create or update a member per user; the user Ids imported."""
    users: set[str] = set()
    chunk: list[dict[str, str]] = []
    for row in _rows(path):
        user_id = row.get("Id", "")
        if not user_id or user_id == COMMUNITY_BOT_ID:
            report.skipped[path.name] += 1
            continue
        users.add(user_id)
        chunk.append(row)
        if len(chunk) >= CHUNK_SIZE:
            _write_users(community, path, chunk, report)
            chunk = []
    _write_users(community, path, chunk, report)
    return users


def _write_users(
    community: Community, path: Path, rows: list[dict[str, str]], report: StackExchangeReport
) -> None:
    if not rows:
        return
    known = dict(
        Identity.objects.filter(
            community=community, source=SOURCE, external_id__in=[row["Id"] for row in rows]
        ).values_list("external_id", "member_id")
    )
    members = Member.objects.for_community(community).in_bulk(known.values())
    now = timezone.now()
    created: list[tuple[str, Member]] = []
    updated: list[Member] = []
    for row in rows:
        member_id = known.get(row["Id"])
        member = members[member_id] if member_id else Member(community=community)
        last_seen = _date(path, row, "LastAccessDate")
        if member.last_seen_at and (last_seen is None or member.last_seen_at > last_seen):
            # Never back: it may come from an activity (docs/scoring.md "Last Seen").
            last_seen = member.last_seen_at
        values = {
            "name": _clip(row.get("DisplayName", "").strip(), "name"),
            "location": _clip(row.get("Location", "").strip(), "location"),
            "bio": _plain_text(row.get("AboutMe", "")),
            "joined_at": _date(path, row, "CreationDate"),
            "last_seen_at": last_seen,
        }
        if member.pk and all(getattr(member, name) == value for name, value in values.items()):
            report.members_unchanged += 1
            continue
        for name, value in values.items():
            setattr(member, name, value)
        if member.pk:
            member.updated_at = now  # bulk_update does not apply auto_now.
            updated.append(member)
        else:
            created.append((row["Id"], member))
    Member.objects.bulk_create([member for _, member in created])
    Identity.objects.bulk_create(
        Identity(community=community, member=member, source=SOURCE, external_id=user_id)
        for user_id, member in created
    )
    # Small batches: bulk_update's CASE expressions grow with the batch.
    Member.objects.bulk_update(updated, [*MEMBER_FIELDS, "updated_at"], batch_size=100)
    report.members_created += len(created)
    report.members_updated += len(updated)


# Activities ---------------------------------------------------------------------------------


class _ActivityImporter:
    def __init__(
        self,
        kinds: dict[str, ActivityKind],
        users: set[str],
        writer: ActivityWriter,
        report: StackExchangeReport,
    ) -> None:
        self.kinds = kinds
        self.users = users
        self.writer = writer
        self.report = report
        # Questions and answers by Id, for comments, votes and accepted answers.
        self.posts: dict[int, _Post] = {}
        self.titles: dict[int, str] = {}  # Question titles by Id.
        self.accepted: list[int] = []  # Accepted answer Ids.
        self.accept_votes: dict[int, datetime] = {}  # Answer Id -> latest accept vote.

    def _member(self, user_id: str | None) -> str | None:
        return user_id if user_id in self.users else None

    def _add(
        self,
        path: Path,
        user_id: str | None,
        kind: str,
        occurred_at: datetime | None,
        external_id: str,
        post: _Post | None,
    ) -> None:
        if user_id is None or occurred_at is None:
            self.report.skipped[path.name] += 1
            return
        self.writer.add(
            ActivityRow(
                line=0,
                kind=self.kinds[kind],
                occurred_at=occurred_at,
                source=SOURCE,
                member_identity=(SOURCE, user_id),
                external_id=external_id,
                title=self.titles.get(post.question, "")[:500] if post else "",
            )
        )

    def read_posts(self, path: Path) -> None:
        for row in _rows(path):
            post_type = row.get("PostTypeId")
            if post_type not in (QUESTION, ANSWER):
                continue  # Tag wikis and privilege pages are not member activity.
            post_id = int(row["Id"])
            created = _date(path, row, "CreationDate")
            if created is None:
                raise StackExchangeError(f"{path.name}, row Id {post_id}: no CreationDate.")
            owner = self._member(row.get("OwnerUserId"))
            if post_type == QUESTION:
                question = post_id
                self.titles[post_id] = row.get("Title", "")
                if row.get("AcceptedAnswerId"):
                    self.accepted.append(int(row["AcceptedAnswerId"]))
            else:
                question = int(row.get("ParentId") or 0)
            post = self.posts[post_id] = _Post(post_type, owner, created, question)
            kind = "post" if post_type == QUESTION else "reply"
            self._add(path, owner, kind, created, f"post-{post_id}", post)

    def read_comments(self, path: Path) -> None:
        for row in _rows(path):
            post = self.posts.get(int(row.get("PostId") or 0))
            self._add(
                path,
                self._member(row.get("UserId")),
                "message",
                _date(path, row, "CreationDate"),
                f"comment-{row['Id']}",
                post,
            )

    def read_votes(self, path: Path) -> None:
        for row in _rows(path):
            vote_type = row.get("VoteTypeId")
            post = self.posts.get(int(row.get("PostId") or 0))
            occurred_at = _date(path, row, "CreationDate")
            if vote_type == ACCEPTED_VOTE and occurred_at:
                answer_id = int(row["PostId"])
                latest = self.accept_votes.get(answer_id, occurred_at)
                self.accept_votes[answer_id] = max(latest, occurred_at)
            elif vote_type == UP_VOTE and post is not None:
                owner = post.owner
                self._add(path, owner, "reaction_received", occurred_at, f"vote-{row['Id']}", post)
            elif vote_type == FAVOURITE_VOTE:  # Also on posts deleted since.
                voter = self._member(row.get("UserId"))
                self._add(path, voter, "reaction_given", occurred_at, f"vote-{row['Id']}", post)
            # Other votes are anonymous (down-votes) or moderation, not engagement.

    def add_accepted_answers(self) -> None:
        """answer_accepted for each accepted answer's author, when the answer was accepted
        (the latest accept vote; the answer's own date if the dump has no such vote)."""
        path = Path("Posts.xml")
        for answer_id in self.accepted:
            answer = self.posts.get(answer_id)
            if answer is None or answer.type != ANSWER:
                self.report.skipped[path.name] += 1
                continue
            occurred_at = self.accept_votes.get(answer_id, answer.created)
            external_id = f"accepted-{answer_id}"
            self._add(path, answer.owner, "answer_accepted", occurred_at, external_id, answer)
