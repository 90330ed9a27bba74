"""Import a Slack workspace export: its people as members, their messages, thread replies and
reactions as activities (README "Slack export" has the mapping).

Slack's export is a zip of `users.json` (`org_users.json` on Enterprise Grid), `channels.json`,
`groups.json` for private channels when the export has them, and one folder per channel, named
after the channel, of `YYYY-MM-DD.json` day files, each a JSON array of messages. Both the
2016 format (no threads, a `file` on file_share messages, escaped slashes) and today's
(`blocks`, `files`, `thread_ts`, `reply_count`, `user_profile`) read the same way, since only
`type`, `subtype`, `user`, `ts`, `thread_ts` and `reactions` are used.

Two passes over the day files: the first finds each person's join date (the earliest
`channel_join` or message of theirs), so that the members are merged complete before the second
writes their activities. JSON is streamed (ijson), so the memory is flat in the size of the
export; what is kept is a few bytes per person and per channel.

Direct messages (`dms.json`, `mpims.json` and their folders) are private conversations, not
community activity: they are not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import IO, Any

import ijson

from engagement.tasks import rescore_later
from members.csv_import import ImportFileError
from members.importing import MemberRecords
from members.imports import Importer, PlatformExport

from .archives import Export
from .writing import PlatformWriter, run_platform_import

SOURCE = "slack"
SLACKBOT = "USLACKBOT"
KINDS = ("message", "reply", "reaction_given", "reaction_received")
# Messages a person wrote; every other subtype (joins, leaves, topic, purpose, renames,
# archiving, bots, pins, file comments ...) is no member activity.
MEMBER_SUBTYPES = frozenset({"", "thread_broadcast", "file_share", "me_message"})
USERS_FILES = ("users.json", "org_users.json")
CHANNEL_LISTS = ("channels.json", "groups.json")
DAY_FILE = re.compile(r"(?P<folder>[^/]+)/\d{4}-\d{2}-\d{2}\.json")
_FIELDS = ("source", "external_id", "name", "email", "job_title", "joined_at")
_ATTRIBUTES = ("timezone", "slack_deleted")


def _read(export: Export, writer: PlatformWriter) -> None:
    users_file = next((name for name in USERS_FILES if name in export), None)
    if users_file is None or "channels.json" not in export:
        missing = " and ".join(
            name
            for name, present in (
                ("users.json", users_file is not None),
                ("channels.json", "channels.json" in export),
            )
            if not present
        )
        raise ImportFileError(
            f"{export.label} is not a Slack export: it has no {missing}. Upload the zip that "
            "Slack's export page gives, as it is."
        )
    channels = _channels(export)
    days = [
        (match["folder"], name)
        for name in export.names()
        if (match := DAY_FILE.fullmatch(name)) and match["folder"] in channels
    ]
    people = _people(export, users_file)
    joined: dict[str, float] = {}
    for _folder, name in days:  # the first pass: join dates
        for number, message in _items(export, name):
            user, ts = message.get("user"), _ts(message, name, number)
            if user in people and (user not in joined or ts < joined[user]):
                joined[user] = ts
    writer.merge_members(
        MemberRecords(_FIELDS, _ATTRIBUTES, _member_rows(export, users_file, joined)),
        where=lambda line: f"{users_file}, entry {line}",
    )
    for folder, name in days:  # the second pass: activities
        channel_id, channel_name = channels[folder]
        for number, message in _items(export, name):
            _add_message(writer, people, channel_id, channel_name, message, name, number)


def _add_message(
    writer: PlatformWriter,
    people: set[str],
    channel_id: str,
    channel_name: str,
    message: dict[str, Any],
    file_name: str,
    number: int,
) -> None:
    subtype = message.get("subtype") or ""
    author = message.get("user")
    if message.get("type", "message") != "message" or subtype not in MEMBER_SUBTYPES:
        writer.not_activity(f"{subtype or message.get('type')} messages")
        return
    if author not in people:
        writer.not_activity("messages by bots or people not in the export")
        return
    ts_text = str(message["ts"])
    occurred_at = _moment(_ts(message, file_name, number))
    thread = message.get("thread_ts")
    kind = "reply" if thread and str(thread) != ts_text else "message"
    external_id = f"{channel_id}:{ts_text}"
    channel = f"#{channel_name}"
    writer.add_activity(kind, occurred_at, member=author, external_id=external_id, channel=channel)
    for reaction in _list(message.get("reactions"), file_name, number, "reactions"):
        emoji = str(reaction.get("name", "")) if isinstance(reaction, dict) else ""
        users = _list(reaction.get("users") if emoji else None, file_name, number, "users")
        for user in dict.fromkeys(users):  # each reacting person once per emoji
            if user == author or user not in people:
                continue  # a self-reaction, or a bot's
            reaction_id = f"{external_id}:{emoji}:{user}"
            writer.add_activity(
                "reaction_given",
                occurred_at,
                member=user,
                external_id=f"{reaction_id}:given",
                channel=channel,
            )
            writer.add_activity(
                "reaction_received",
                occurred_at,
                member=author,
                external_id=f"{reaction_id}:received",
                channel=channel,
            )


# Reading the export ------------------------------------------------------------------------


def _channels(export: Export) -> dict[str, tuple[str, str]]:
    """(id, name) of each public and private channel, by the folder its day files are in
    (the channel's name when the export was made)."""
    channels: dict[str, tuple[str, str]] = {}
    for list_name in CHANNEL_LISTS:
        if list_name not in export:
            continue
        for number, channel in _items(export, list_name):
            channel_id, name = channel.get("id"), channel.get("name")
            if not isinstance(channel_id, str) or not isinstance(name, str) or not name:
                raise ImportFileError(
                    f"{list_name} in {export.label}, entry {number}: a channel needs an id and "
                    "a name."
                )
            channels[name] = (channel_id, name)
    return channels


def _people(export: Export, users_file: str) -> set[str]:
    """The ids of the people of the workspace: every user but bots and Slackbot."""
    return {user["id"] for _number, user in _users(export, users_file)}


def _users(export: Export, users_file: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, user in _items(export, users_file):
        user_id = user.get("id")
        if not isinstance(user_id, str) or not user_id:
            raise ImportFileError(f"{users_file} in {export.label}, entry {number}: no user id.")
        if user.get("is_bot") or user_id == SLACKBOT:
            continue
        yield number, user


def _member_rows(
    export: Export, users_file: str, joined: dict[str, float]
) -> Iterator[tuple[int, list[str]]]:
    for number, user in _users(export, users_file):
        profile = user.get("profile")
        if not isinstance(profile, dict):
            profile = {}
        name = next(
            (
                value.strip()
                for value in (
                    profile.get("real_name"),
                    user.get("real_name"),
                    profile.get("display_name"),
                    user.get("name"),
                )
                if isinstance(value, str) and value.strip()
            ),
            "",
        )
        first = joined.get(user["id"])
        yield (
            number,
            [
                SOURCE,
                user["id"],
                name,
                _text(profile.get("email")),
                _text(profile.get("title")),
                _moment(first).isoformat() if first is not None else "",
                _text(user.get("tz")),
                "true" if user.get("deleted") else "",
            ],
        )


def _items(export: Export, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based position, object) of each element of the JSON array in `name`, streamed."""
    with export.open(name) as file:
        head = file.read(_HEAD_BYTES)
        if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            raise ImportFileError(f"{name} in {export.label} is not a JSON array.")
        number = 0
        try:
            items = ijson.items(_Rejoined(head, file), "item", use_float=True)
            for number, item in enumerate(items, 1):
                if not isinstance(item, dict):
                    raise ImportFileError(
                        f"{name} in {export.label}, entry {number}: an object was expected, "
                        f"not {type(item).__name__}."
                    )
                yield number, item
        except ijson.JSONError as exc:
            raise ImportFileError(
                f"{name} in {export.label} is not valid JSON after entry {number}: "
                f"{str(exc).splitlines()[0][:200]}."
            ) from None


_HEAD_BYTES = 64


class _Rejoined:
    """The file again from its start, after its first bytes were read to look at."""

    def __init__(self, head: bytes, file: IO[bytes]) -> None:
        self.head, self.file = head, file

    def read(self, size: int = -1) -> bytes:
        if self.head and size != 0:  # ijson reads 0 bytes first, to see bytes from text
            head, self.head = self.head, b""
            return head
        return self.file.read(size)


def _list(value: object, file_name: str, number: int, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ImportFileError(f"{file_name}, message {number}: {what} is not a list.")
    return value


def _ts(message: dict[str, Any], file_name: str, number: int) -> float:
    """A message's `ts` ("1712345678.000200": seconds since 1970, UTC) as a number."""
    ts = message.get("ts")
    try:
        value = float(ts)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = -1.0
    if not 0 <= value < 32_503_680_000:  # the year 3000
        raise ImportFileError(f"{file_name}, message {number}: ts {ts!r} is not a Slack time.")
    return value


def _moment(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


# Import the Slack export at `file`: a zip opened in binary mode, or an unpacked folder.
import_slack = partial(run_platform_import, source=SOURCE, kinds=KINDS, read=_read, passes=2)

IMPORTER = Importer(
    slug="slack",
    noun="members and activity",
    label="Slack",
    run=import_slack,
    preview=None,
    columns={
        "users.json": "Everyone but bots and Slackbot, deleted accounts included, as members "
        "(name, email, job title, time zone).",
        "channels.json, groups.json": "The public and private channels, for their names.",
        "<channel>/YYYY-MM-DD.json": "Messages and thread replies, and the reactions on them "
        "(given and received). Joins, topics, renames, bots and other events are not "
        "activity; a member joined at their first join or message.",
    },
    aliases={},
    unknown="ignore",
    matching=(
        "Each Slack user updates the member with the same Slack id, else the member with the "
        "same email (in any letter case), who then has both identities; otherwise a member is "
        "added. Messages and reactions keep their Slack ids, so importing a later export adds "
        "only what is new. Scores are updated after the import."
    ),
    command="import_slack",
    after_import=rescore_later,
    export=PlatformExport(
        platform="Slack",
        steps=(
            "In Slack, open your workspace's Settings & administration, then Workspace settings.",
            "Choose Import/Export Data, then Export, pick the date range, and Start export.",
            "When Slack mails that the export is ready, download the zip and upload it here "
            "as it is (no need to unpack it).",
        ),
    ),
)
