"""Import a Discord server from DiscordChatExporter's JSON exports: the people who wrote or
reacted as members, their messages, replies and reactions as activities (README "Importing a
Discord server" has the mapping).

DiscordChatExporter (github.com/Tyrrrz/DiscordChatExporter, `-f Json`) writes one file per
channel or thread: `guild`, `channel` (id, type, category, name), `dateRange`, `exportedAt`,
then `messages`, each with its id, `type`, `timestamp`, `author`, `reactions` and, for a reply,
a `reference` to the message it answers. An upload is one such file, or a zip or folder of
them; the media a `--media` export downloads next to each file (`<file>.json_Files/`) and
every file that is not JSON are not read.

Every version of the format since 2.18 reads the same way: the fields added since (nicknames,
`exportedAt`, `categoryId`, the reference's `type`, the users of each reaction) are used when
present. Reactions carry their users only since DiscordChatExporter 2.40.4: in older exports
only their count is known, which is no one's activity.

Two passes over the files: the first finds everyone the export names (authors and reacting
users; bots skipped) and the moment they joined the server when a join message says it, so
that the members are merged complete before the second writes the activities. JSON is
streamed (ijson), so memory is flat in the size of a file; what is kept is a few bytes per
person, per file, and per message that two files of one channel both hold (a channel exported
twice over overlapping dates: such a message is imported once).

Direct messages are private conversations, not community activity: their files are not read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import IO, Any, NamedTuple, TypeGuard

import ijson

from engagement.tasks import rescore_later
from members.csv_import import ImportFileError
from members.importing import MemberRecords
from members.imports import Importer, PlatformExport
from members.mapping import parse_datetime

from .archives import Export
from .writing import PlatformWriter, run_platform_import

SOURCE = "discord"
KINDS = ("message", "reply", "reaction_given", "reaction_received")
# The message types (DiscordChatExporter's names of Discord's) that a person wrote; every other
# type (joins, pins, thread creations, calls, renames ...) is a system message. Exports made
# before DiscordChatExporter 2.26 knew no replies and wrote their type's number, 19.
REPLY_TYPES = frozenset({"Reply", "19"})
WRITTEN_TYPES = REPLY_TYPES | {"Default"}
JOIN_TYPE = "GuildMemberJoin"
FORWARD = "Forward"  # a reference's type when the message forwards another: no reply
DIRECT_CHANNELS = frozenset({"DirectTextChat", "DirectGroupTextChat"})
THREADS = frozenset({"GuildNewsThread", "GuildPublicThread", "GuildPrivateThread"})
DIRECT_MESSAGES_GUILD = "0"  # the guild id of direct-message channels
NO_DISCRIMINATOR = "0000"  # what DiscordChatExporter writes for an account without one
MEDIA_FOLDER = "_Files"  # the end of the folder a `--media` export downloads assets into
HEADER_LIMIT = 1024 * 1024  # bytes read before `messages` starts, at most
MESSAGE_URL = "https://discord.com/channels/{guild}/{channel}/{message}"
_FIELDS = ("source", "external_id", "name", "joined_at")
_ATTRIBUTES = ("discord_username",)


def _read(export: Export, writer: PlatformWriter) -> None:
    files = _channel_files(export)
    people = _People()
    spans: dict[str, _Span] = {}
    for name in files:  # the first pass: who is who, and when they joined
        with _open_channel(export, name) as (channel, messages):
            if channel.direct:
                continue
            span = _Span(channel.id)
            for message in messages:
                span.add(int(message.id))
                people.saw(message.author, channel, name, message.id)
                if message.type == JOIN_TYPE:
                    people.joined(message.author, message.at)
                for reaction in message.reactions:
                    for user in reaction.users or ():
                        people.saw(user, channel, name, message.id)
            spans[name] = span
    writer.merge_members(MemberRecords(_FIELDS, _ATTRIBUTES, people.records()), where=people.where)
    repeats = _Repeats(spans)
    for name in files:  # the second pass: activities
        with _open_channel(export, name) as (channel, messages):
            if channel.direct:
                writer.not_activity("direct-message channels (not read)")
                continue
            for message in messages:
                if repeats.seen_before(name, channel.id, int(message.id)):
                    writer.not_activity("messages in two files of the export (imported once)")
                    continue
                _add_message(writer, channel, message)


def _add_message(writer: PlatformWriter, channel: _Channel, message: _Message) -> None:
    if message.type not in WRITTEN_TYPES:
        label = f"type {message.type}" if message.type.isdigit() else message.type
        writer.not_activity(f"system messages ({label or 'no type'})")
        return
    author = message.author
    if author.bot:
        writer.not_activity("messages by bots")
        return
    kind = "reply" if message.type in REPLY_TYPES or message.replies else "message"
    where = {"channel": channel.label, "title": channel.title, "url": channel.url(message.id)}
    writer.add_activity(kind, message.at, member=author.id, external_id=message.id, **where)
    for reaction in message.reactions:
        if reaction.users is None:
            writer.not_activity("reactions without their users (DiscordChatExporter before 2.40.4)")
            continue
        for user in {user.id: user for user in reaction.users}.values():
            if user.bot:
                writer.not_activity("reactions by bots")
                continue
            if user.id == author.id:
                writer.not_activity("reactions by the message's author")
                continue
            reaction_id = f"{message.id}:{reaction.emoji}:{user.id}"
            writer.add_activity(
                "reaction_given",
                message.at,
                member=user.id,
                external_id=f"{reaction_id}:given",
                **where,
            )
            writer.add_activity(
                "reaction_received",
                message.at,
                member=author.id,
                external_id=f"{reaction_id}:received",
                **where,
            )


# The people -------------------------------------------------------------------------------


@dataclass
class _Person:
    user: _User
    exported_at: datetime | None  # of the file whose record of them is kept: the latest
    place: str  # where the export first names them, for the report
    joined_at: datetime | None = None


class _People:
    """Everyone the export names but bots, by their Discord id, in order of appearance."""

    def __init__(self) -> None:
        self.by_id: dict[str, _Person] = {}
        self._places: list[str] = []

    def saw(self, user: _User, channel: _Channel, file_name: str, message_id: str) -> None:
        if user.bot:
            return
        person = self.by_id.get(user.id)
        if person is None:
            place = f"{file_name}, message {message_id}, user {user.id}"
            self.by_id[user.id] = _Person(user, channel.exported_at, place)
        elif _not_older(channel.exported_at, person.exported_at):
            # A nickname is written as it was when the file was exported: the latest wins.
            person.user, person.exported_at = user, channel.exported_at

    def joined(self, user: _User, at: datetime) -> None:
        """A join message of theirs: they joined the server then (the first time, if several)."""
        person = self.by_id.get(user.id)
        if person is not None and (person.joined_at is None or at < person.joined_at):
            person.joined_at = at

    def records(self) -> Iterator[tuple[int, list[str]]]:
        self._places = []
        for line, person in enumerate(self.by_id.values(), 1):
            self._places.append(person.place)
            user = person.user
            joined = person.joined_at.isoformat() if person.joined_at else ""
            yield line, [SOURCE, user.id, user.display_name, joined, user.username]

    def where(self, line: int) -> str:
        return self._places[line - 1]


def _not_older(exported_at: datetime | None, than: datetime | None) -> bool:
    return than is None or (exported_at is not None and exported_at >= than)


# Messages in two files ---------------------------------------------------------------------


@dataclass
class _Span:
    """The message ids (Discord's snowflakes, which grow with time) a file holds, low to high."""

    channel: str
    low: int = -1
    high: int = -1

    def add(self, message_id: int) -> None:
        if self.low < 0 or message_id < self.low:
            self.low = message_id
        self.high = max(self.high, message_id)


class _Repeats:
    """Messages that two files of one channel both hold (the channel exported twice, over
    overlapping dates), so that each is imported once. Only the ids in the overlaps are
    remembered: the parts of a partitioned export (`--partition`) do not overlap."""

    def __init__(self, spans: dict[str, _Span]) -> None:
        self.overlaps: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.seen: dict[str, set[int]] = defaultdict(set)  # by channel
        files = [(name, span) for name, span in spans.items() if span.low >= 0]
        for name, span in files:
            for other, other_span in files:
                low, high = max(span.low, other_span.low), min(span.high, other_span.high)
                if other != name and other_span.channel == span.channel and low <= high:
                    self.overlaps[name].append((low, high))

    def seen_before(self, file_name: str, channel: str, message_id: int) -> bool:
        ranges = self.overlaps.get(file_name)
        if not ranges or not any(low <= message_id <= high for low, high in ranges):
            return False
        seen = self.seen[channel]
        if message_id in seen:
            return True
        seen.add(message_id)
        return False


# Reading the export ------------------------------------------------------------------------


class _User(NamedTuple):
    id: str
    name: str
    discriminator: str
    nickname: str
    bot: bool

    @property
    def username(self) -> str:
        """The account's handle: the name, with its discriminator for an account from before
        Discord's move to unique names ("grace#4821")."""
        if self.discriminator and self.discriminator != NO_DISCRIMINATOR:
            return f"{self.name}#{self.discriminator}"
        return self.name

    @property
    def display_name(self) -> str:
        return self.nickname or self.username


class _Reaction(NamedTuple):
    emoji: str  # a custom emoji's id, else the emoji itself ("👍")
    users: list[_User] | None  # None when the export does not say who reacted


class _Message(NamedTuple):
    id: str
    type: str
    at: datetime
    author: _User
    reactions: list[_Reaction]
    replies: bool  # its reference points at another message it answers (not a forward)


@dataclass(frozen=True)
class _Channel:
    id: str
    kind: str
    name: str
    parent: str  # `category`: a channel's category, a thread's channel
    guild: str
    exported_at: datetime | None

    @property
    def direct(self) -> bool:
        return self.kind in DIRECT_CHANNELS

    @property
    def thread(self) -> bool:
        return self.kind in THREADS

    @property
    def label(self) -> str:
        """The channel of its activities: a thread's are its channel's."""
        return f"#{self.parent}" if self.thread and self.parent else f"#{self.name}"

    @property
    def title(self) -> str:
        return self.name if self.thread else ""

    def url(self, message_id: str) -> str:
        if not _snowflake(self.guild) or self.guild == DIRECT_MESSAGES_GUILD:
            return ""
        return MESSAGE_URL.format(guild=self.guild, channel=self.id, message=message_id)


def _channel_files(export: Export) -> list[str]:
    """The export's JSON files, but those of downloaded media; one uploaded file whatever its
    name (an upload is named after the upload, not the file the manager chose)."""
    names = [name for name in export.names() if not _media(name)]
    files = [name for name in names if name.lower().endswith(".json")]
    if not files and len(names) == 1 and "/" not in names[0]:
        files = names
    if not files:
        raise ImportFileError(
            f"{export.label} holds no DiscordChatExporter JSON file. Export the channels with "
            "the JSON format (-f Json) and upload one file, or a zip of them."
        )
    return files


def _media(name: str) -> bool:
    return any(part.endswith(MEDIA_FOLDER) for part in name.split("/")[:-1])


@contextmanager
def _open_channel(export: Export, name: str) -> Iterator[tuple[_Channel, Iterator[_Message]]]:
    """The file's channel, and its messages streamed."""
    where = name if name == export.label else f"{name} in {export.label}"
    with export.open(name) as file:
        stream = _Replayed(file, where)
        channel = _header(stream, where)
        stream.replay()
        yield channel, _messages(stream, where)


def _header(stream: _Replayed, where: str) -> _Channel:
    """The guild, channel and export date written before `messages`."""
    values: dict[str, str] = {}
    events = ijson.parse(stream)
    try:
        _prefix, event, _value = next(events, ("", "", None))
        if event != "start_map":
            raise ImportFileError(
                f"{where} is not a DiscordChatExporter JSON export (an object with the "
                "channel and its messages); export the channels with the JSON format."
            )
        for prefix, event, value in events:
            if prefix == "messages":
                if event != "start_array":
                    raise ImportFileError(f"{where}: messages is not a list.")
                break
            if prefix in _HEADER_VALUES and event in ("string", "number"):
                values[prefix] = str(value)
        else:
            raise ImportFileError(
                f"{where} has no messages: it is not a DiscordChatExporter JSON export."
            )
    except ijson.JSONError as exc:
        raise ImportFileError(
            f"{where} is not a DiscordChatExporter JSON export (export the channels with the "
            f"JSON format): {_first_line(exc)}."
        ) from None
    channel_id = values.get("channel.id", "")
    if not _snowflake(channel_id):
        raise ImportFileError(f"{where} names no channel id: is it a DiscordChatExporter export?")
    try:
        exported_at = parse_datetime("exportedAt", values.get("exportedAt", ""))
    except ValueError as exc:
        raise ImportFileError(f"{where}: {exc}.") from None
    return _Channel(
        id=channel_id,
        kind=values.get("channel.type", ""),
        name=values.get("channel.name") or channel_id,
        parent=values.get("channel.category", ""),
        guild=values.get("guild.id", ""),
        exported_at=exported_at,
    )


_HEADER_VALUES = frozenset(
    {"guild.id", "channel.id", "channel.type", "channel.name", "channel.category", "exportedAt"}
)


def _messages(stream: _Replayed, where: str) -> Iterator[_Message]:
    last = ""
    try:
        for number, item in enumerate(ijson.items(stream, "messages.item", use_float=True), 1):
            message = _message(item, where, number)
            last = message.id
            yield message
    except ijson.JSONError as exc:
        after = f"after message {last}" if last else "before its first message"
        raise ImportFileError(f"{where} is not valid JSON {after}: {_first_line(exc)}.") from None


def _message(item: Any, where: str, number: int) -> _Message:
    if not isinstance(item, dict):
        raise ImportFileError(f"{where}, message {number}: an object was expected.")
    message_id = item.get("id")
    if not _snowflake(message_id):
        raise ImportFileError(f"{where}, message {number}: no message id.")
    place = f"{where}, message {message_id}"
    message_type = item.get("type")
    if not isinstance(message_type, str):
        raise ImportFileError(f"{place}: no message type.")
    try:
        at = parse_datetime("timestamp", _text(item.get("timestamp")))
    except ValueError as exc:
        raise ImportFileError(f"{place}: {exc}.") from None
    if at is None:
        raise ImportFileError(f"{place}: no timestamp.")
    reference = item.get("reference")
    replies = (
        isinstance(reference, dict)
        and bool(reference.get("messageId"))
        and reference.get("type") != FORWARD
    )
    return _Message(
        id=message_id,
        type=message_type,
        at=at,
        author=_user(item.get("author"), place, "author"),
        reactions=[_reaction(reaction, place) for reaction in _list(item, "reactions", place)],
        replies=replies,
    )


def _reaction(item: Any, place: str) -> _Reaction:
    emoji = item.get("emoji") if isinstance(item, dict) else None
    if not isinstance(emoji, dict):
        raise ImportFileError(f"{place}: a reaction without its emoji.")
    key = _text(emoji.get("id")) or _text(emoji.get("name"))
    if not key:
        raise ImportFileError(f"{place}: a reaction's emoji has neither an id nor a name.")
    if "users" not in item:
        return _Reaction(key, None)
    users = [_user(user, place, "reacting user") for user in _list(item, "users", place)]
    return _Reaction(key, users)


def _user(item: Any, place: str, what: str) -> _User:
    user_id = item.get("id") if isinstance(item, dict) else None
    if not _snowflake(user_id):
        raise ImportFileError(f"{place}: the {what} has no user id.")
    return _User(
        id=user_id,
        name=_text(item.get("name")),
        discriminator=_text(item.get("discriminator")),
        nickname=_text(item.get("nickname")),
        bot=item.get("isBot") is True,
    )


def _snowflake(value: object) -> TypeGuard[str]:
    """A Discord id: a number of at most 20 digits, written as a string."""
    return isinstance(value, str) and 0 < len(value) <= 20 and value.isascii() and value.isdigit()


def _list(item: dict[str, Any], key: str, place: str) -> list:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ImportFileError(f"{place}: {key} is not a list.")
    return value


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


class _Replayed:
    """A file read from its start twice: its header first (the bytes read meanwhile are kept,
    at most HEADER_LIMIT), then the whole file again for its messages. A UTF-8 byte-order mark
    is dropped."""

    def __init__(self, file: IO[bytes], where: str) -> None:
        self.file, self.where = file, where
        self.kept = bytearray()
        self.recording = True
        self.started = False

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # ijson asks, to learn whether the file gives bytes
        if not self.recording and self.kept:
            kept, self.kept = bytes(self.kept), bytearray()
            return kept
        data = self.file.read(size)
        if not self.started:
            self.started = True
            data = data.removeprefix(b"\xef\xbb\xbf")
        if self.recording:
            self.kept += data
            if len(self.kept) > HEADER_LIMIT:
                raise ImportFileError(
                    f"{self.where} has no messages list in its first "
                    f"{HEADER_LIMIT // 1024 // 1024} MB: it is not a DiscordChatExporter export."
                )
        return data

    def replay(self) -> None:
        self.recording = False


# Import the DiscordChatExporter export at `file`: one JSON file or a zip opened in binary
# mode, or a folder.
import_discord = partial(run_platform_import, source=SOURCE, kinds=KINDS, read=_read, passes=2)

IMPORTER = Importer(
    slug="discord",
    noun="members and activity",
    label="Discord",
    run=import_discord,
    preview=None,
    columns={
        "<server> - <category> - <channel> [<id>].json": "One channel or thread as "
        "DiscordChatExporter writes it (JSON format). Its authors and the people who reacted "
        "become members (bots skipped; joined when a join message says so); messages and "
        "replies, and reactions given and received, are activities. System messages (joins, "
        "pins, thread creations ...) are not activity; direct messages are not read.",
    },
    aliases={},
    unknown="ignore",
    matching=(
        "Each Discord user updates the member with the same Discord id (a members file can "
        "give it: source discord, external_id the user's id); otherwise a member is added. "
        "The export holds no emails, so no other match is made. Messages and reactions keep "
        "their Discord ids, so importing a later export of the same channels adds only what "
        "is new. Scores are updated after the import."
    ),
    command="import_discord",
    after_import=rescore_later,
    export=PlatformExport(
        platform="Discord",
        steps=(
            "Install DiscordChatExporter (github.com/Tyrrrz/DiscordChatExporter) and sign it in "
            "with the token of an account or bot that can read the server's channels.",
            "Export the channels with the format JSON, threads included: in the app, select "
            "them and choose JSON; on the command line, DiscordChatExporter.Cli exportguild "
            "-t TOKEN -g SERVER_ID -f Json --include-threads all.",
            "Upload one channel's .json file, or a zip of the folder of them, here.",
        ),
        file_kinds="a .zip or .json file",
        accept=".zip,.json,application/zip,application/json",
    ),
)
