"""Import a Discourse forum: the admin's "Export users" CSV as members, and topic JSON files as
the forum's API returns them as posts, replies, accepted answers and likes (README "Importing a
Discourse forum" has the mapping).

The export is a zip or a folder holding

- the users CSV, Discourse's `user-list-<yymmdd>-<hhmmss>.csv` (any one `.csv` file), or the
  `user-list-<yymmdd>-<hhmmss>-<n>.zip` Discourse sends with that CSV inside, as it is;
- topic files: every `*.json` whose top level has a `post_stream`, as `/t/{id}.json` returns it.
  `/t/{id}.json` gives only the first 20 posts while `post_stream.stream` lists every post id,
  so the file must hold them all (`/t/{id}.json?print=true` gives up to 1,000); the ids of the
  stream missing from every file are counted in the report. A post may carry its likers under
  `post_action_users`, the list `/post_action_users.json?id=<post id>&post_action_type_id=2`
  returns: only then do its likes become activities;
- optionally `categories.json` (`/categories.json?include_subcategories=true`) or `site.json`
  (`/site.json`), for the categories' names.

The CSV is read first and merged (its members are known before any post); the JSON files are
streamed with ijson, one topic at a time: what is kept is a few bytes a member, a few bits a post
id, and one topic's posts without their text. All in one transaction: a malformed file raises
ImportFileError naming the file and the line or post, and nothing is written.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import PurePosixPath
from typing import IO, Any, NamedTuple

import ijson

from engagement.tasks import rescore_later
from members.csv_import import (
    ImportFileError,
    TableReader,
    list_names,
    numbered_records,
    open_table,
    quote,
    read_header,
)
from members.importing import MAX_ATTRIBUTE_KEY_CHARS, MemberRecords
from members.imports import Importer, PlatformExport
from members.models import Identity

from .archives import ArchiveError, Export, open_export
from .writing import PlatformWriter, run_platform_import

SOURCE = "discourse"
KINDS = ("post", "reply", "answer_accepted", "reaction_given", "reaction_received")
# post_type: 1 regular, 2 moderator action, 3 small action ("closed this topic"), 4 whisper.
REGULAR, MODERATOR_ACTION, SMALL_ACTION, WHISPER = 1, 2, 3, 4
LIKE = 2  # the post action type of a like, in actions_summary and post_action_users
SYSTEM_USERNAMES = frozenset({"system", "discobot"})  # ids -1 and -2; every id <= 0 is a bot
USER_LIST_ZIP = re.compile(r"user-list[^/]*\.zip", re.IGNORECASE)
CATEGORY_FILES = ("categories.json", "site.json")
CUSTOM_FIELD = " (custom user field)"  # how the CSV's header names a user field
_FIELDS = (
    "source",
    "external_id",
    "name",
    "email",
    "job_title",
    "location",
    "joined_at",
    "last_seen_at",
)
_ATTRIBUTES = (
    "discourse_username",
    "trust_level",
    "website",
    "discourse_staged",
    "discourse_suspended_till",
)
GROUPS_ATTRIBUTE = "discourse_groups"
# "2024-03-01 10:15:30 UTC", as Ruby writes a time into a CSV.
_RUBY_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<time>\d{2}:\d{2}:\d{2}(?:\.\d+)?)"
    r" ?(?P<zone>UTC|Z|[+-]\d{2}:?\d{2})?"
)
_POSTS = "post_stream.posts"
_POST = "post_stream.posts.item"
_STREAM = "post_stream.stream.item"
_TOPIC_KEYS = frozenset(
    {"id", "title", "fancy_title", "category_id", "archetype", "accepted_answer.post_number"}
)
_CATEGORY_ITEMS = frozenset(
    {
        "category_list.categories.item",  # /categories.json
        "category_list.categories.item.subcategory_list.item",  # ... include_subcategories
        "categories.item",  # /site.json
    }
)
_UTF8_BOM = b"\xef\xbb\xbf"


class _Post(NamedTuple):
    """What the import uses of a post: no text."""

    id: int
    number: int  # post_number: 1 is the topic's first post
    type: int
    user_id: int | None
    username: str
    created_at: datetime
    deleted: bool
    accepted: bool  # the solved plugin's post-level flag
    likes: int  # the like count of actions_summary
    likers: tuple[tuple[int | None, str], ...] | None  # post_action_users, when present
    url: str


@dataclass
class _Topic:
    is_topic: bool = False  # the top level has a post_stream
    fields: dict[str, Any] = field(default_factory=dict)  # of _TOPIC_KEYS
    posts: list[_Post] = field(default_factory=list)
    stream: list[int] = field(default_factory=list)


class _Reader:
    """Reads one export (`read` is the framework's reader), keeping what the topics need."""

    def __init__(self) -> None:
        self.known: set[str] = set()  # user ids with an identity of this source
        self.by_username: dict[str, str] = {}  # lower-cased username -> user id, from the CSV
        self.system_usernames = set(SYSTEM_USERNAMES)
        self.categories: dict[int, str] = {}
        self.posts_read = _PostIds()
        self.stream_ids = _PostIds()
        self.likes_without_users = 0
        self.system_users = 0
        self.other_json = 0

    def details(self) -> list[tuple[str, int]]:
        counts = [
            (
                "Posts in a topic's stream missing from the files",
                self.stream_ids.missing(self.posts_read),
            ),
            ("Likes without users, not imported", self.likes_without_users),
        ]
        if self.system_users:
            counts.append(("Users not imported: system accounts", self.system_users))
        if self.other_json:
            counts.append(("JSON files that are not topics", self.other_json))
        return counts

    def read(self, export: Export, writer: PlatformWriter) -> None:
        self._read(export, writer)
        for label, count in self.details():
            writer.note(label, count)

    def _read(self, export: Export, writer: PlatformWriter) -> None:
        with _users_csv(export) as (name, file):
            self._merge_members(name, export.label, file, writer)
        self.known = set(
            Identity.objects.filter(community=writer.community, source=SOURCE).values_list(
                "external_id", flat=True
            )
        )
        names = [name for name in export.names() if name.lower().endswith(".json")]
        for name in names:
            if _basename(name) in CATEGORY_FILES:
                self._read_categories(export, name)
        for name in names:
            if _basename(name) not in CATEGORY_FILES:
                self._read_topic(export, name, writer)

    # Members ----------------------------------------------------------------------------

    def _merge_members(
        self, name: str, export_label: str, file: IO[bytes], writer: PlatformWriter
    ) -> None:
        with _named(name, export_label), open_table(file, file_name=name) as reader:
            columns = read_header(reader, ())
            position = {column.lower(): index for index, column in enumerate(columns)}
            if missing := [column for column in ("id", "username") if column not in position]:
                raise ImportFileError(
                    f"the header has no {' or '.join(missing)} column: it is not Discourse's "
                    "user list (Admin, Users, Export)."
                )
            extra = _extra_columns(columns)
            records = MemberRecords(
                _FIELDS,
                (*_ATTRIBUTES, *(attribute for attribute, _ in extra)),
                self._member_rows(reader, position, [index for _, index in extra]),
            )
            writer.merge_members(records, where=lambda line: f"{name}, line {line}")

    def _member_rows(
        self, reader: TableReader, position: dict[str, int], extra: list[int]
    ) -> Iterator[tuple[int, list[str]]]:
        for line, cells in numbered_records(reader):

            def cell(column: str, cells: list[str] = cells) -> str:
                index = position.get(column)
                return cells[index].strip() if index is not None and index < len(cells) else ""

            user_id, username = cell("id"), cell("username")
            if not re.fullmatch(r"-?\d+", user_id):
                raise ImportFileError(
                    f"line {line}: id {quote(user_id)} is not a Discourse user id."
                )
            if int(user_id) <= 0:  # system (-1), discobot (-2): the forum's bots
                self.system_usernames.add(username.lower())
                self.system_users += 1
                continue
            if username:
                self.by_username[username.lower()] = user_id
            yield (
                line,
                [
                    SOURCE,
                    user_id,
                    _unquoted(cell("name")) or username,
                    cell("email"),
                    _unquoted(cell("title")),
                    _unquoted(cell("location")),
                    _ruby_time(cell("created_at")),
                    _ruby_time(cell("last_seen_at")),
                    username,
                    cell("trust_level"),
                    cell("website"),
                    _boolean(cell("staged")) if "staged" in position else "",
                    _ruby_time(cell("suspended_till")),
                    *(
                        _unquoted(cells[index].strip()) if index < len(cells) else ""
                        for index in extra
                    ),
                ],
            )

    # Categories ---------------------------------------------------------------------------

    def _read_categories(self, export: Export, name: str) -> None:
        """Category names by id, from /categories.json or /site.json."""
        found: dict[str, dict[str, Any]] = {}  # the category being read, by its list's prefix
        with export.open(name) as file, _json_errors(export, name, lambda: ""):
            for prefix, event, value in ijson.parse(_without_bom(file)):
                if prefix in _CATEGORY_ITEMS:
                    if event == "start_map":
                        found[prefix] = {}
                    elif event == "end_map":
                        category = found.pop(prefix, {})
                        category_id, category_name = category.get("id"), category.get("name")
                        if isinstance(category_id, int) and isinstance(category_name, str):
                            self.categories[category_id] = category_name
                    continue
                parent, _, key = prefix.rpartition(".")
                if parent in found and key in ("id", "name"):
                    found[parent][key] = value

    # Topics -------------------------------------------------------------------------------

    def _read_topic(self, export: Export, name: str, writer: PlatformWriter) -> None:
        with export.open(name) as file:
            topic = _parse_topic(export, name, file)
        if not topic.is_topic:
            self.other_json += 1
            return
        for post_id in topic.stream:
            self.stream_ids.add(post_id)
        fields = topic.fields
        title = _text(fields.get("title")) or html.unescape(_text(fields.get("fancy_title")))
        category_id = _integer(fields.get("category_id"))
        channel = ""
        if category_id is not None:
            channel = self.categories.get(category_id, f"category {category_id}")
        private = fields.get("archetype") == "private_message"
        accepted_number = _integer(fields.get("accepted_answer.post_number"))
        for post in topic.posts:
            if post.id in self.posts_read:
                writer.not_activity("posts repeated in another file")
                continue
            self.posts_read.add(post.id)
            why = self._not_activity(post, private)
            if why:
                writer.not_activity(why)
                continue
            if self._system(post.user_id, post.username):
                writer.not_activity("posts by the system accounts")
                continue
            author = self._member(post.user_id, post.username)
            if author is None:
                writer.not_activity("posts by users missing from the users CSV")
                continue
            where = {"channel": channel, "title": title, "url": post.url}
            kind = "post" if post.number == 1 else "reply"
            writer.add_activity(
                kind, post.created_at, member=author, external_id=f"post-{post.id}", **where
            )
            if post.accepted or (accepted_number is not None and post.number == accepted_number):
                writer.add_activity(
                    "answer_accepted",
                    post.created_at,
                    member=author,
                    external_id=f"accepted-{post.id}",
                    **where,
                )
            self._add_likes(writer, post, author, where)

    def _not_activity(self, post: _Post, private: bool) -> str:
        if private:
            return "private messages"
        if post.type == SMALL_ACTION:
            return "small actions (closed, pinned, moved ...)"
        if post.type == MODERATOR_ACTION:
            return "moderator actions"
        if post.type == WHISPER:
            return "whispers (seen by staff only)"
        if post.type != REGULAR:
            return f"posts of type {post.type}"
        if post.deleted:
            return "deleted posts"
        return ""

    def _add_likes(
        self, writer: PlatformWriter, post: _Post, author: str, where: dict[str, str]
    ) -> None:
        if post.likers is None:
            self.likes_without_users += post.likes
            return
        seen: set[str] = set()
        for liker_id, liker_name in post.likers:
            liker = self._member(liker_id, liker_name)
            if liker is None:  # the system accounts too
                writer.not_activity("likes by users missing from the users CSV")
                continue
            if liker == author or liker in seen:
                writer.not_activity("self-likes and repeated likes")
                continue
            seen.add(liker)
            writer.add_activity(
                "reaction_given",
                post.created_at,
                member=liker,
                external_id=f"like-{post.id}-{liker}",
                **where,
            )
            writer.add_activity(
                "reaction_received",
                post.created_at,
                member=author,
                external_id=f"liked-{post.id}-{liker}",
                **where,
            )

    def _member(self, user_id: int | None, username: str) -> str | None:
        """The user id of a post's author or a liker who is a member: by user_id when the
        JSON has one, else by username."""
        found = str(user_id) if user_id is not None else self.by_username.get(username.lower())
        return found if found in self.known else None

    def _system(self, user_id: int | None, username: str) -> bool:
        """One of the forum's bots (system, discobot; every user id <= 0)."""
        if user_id is not None:
            return user_id <= 0
        return username.lower() in self.system_usernames


# Reading the files --------------------------------------------------------------------------


@contextmanager
def _users_csv(export: Export) -> Iterator[tuple[str, IO[bytes]]]:
    """The users CSV, by its name in messages, opened: the export's one `.csv` file, else the
    one `user-list-*.zip` Discourse sends, with the CSV inside."""
    names = export.names()
    tables = [name for name in names if name.lower().endswith(".csv")]
    if not tables and len(names) == 1 and not names[0].lower().endswith((".json", ".zip")):
        with export.open(names[0]) as file:  # one file uploaded, named by the upload
            head = file.read(64).removeprefix(_UTF8_BOM).lstrip()
        if head.startswith((b"{", b"[")):
            raise ImportFileError(
                f"{export.label} is a JSON file, not the users CSV: upload a zip of the users "
                "CSV and the topic files."
            )
        tables = names
    if len(tables) > 1:
        raise ImportFileError(
            f"{export.label} holds several CSV files ({list_names(tables)}): keep only the users "
            "CSV of Discourse's Export users."
        )
    if tables:
        with export.open(tables[0]) as file:
            yield tables[0], file
        return
    packed = [name for name in names if USER_LIST_ZIP.fullmatch(_basename(name))]
    if len(packed) != 1:
        raise ImportFileError(
            f"{export.label} has no users CSV: add the user-list zip (or the CSV in it) that "
            "Discourse sends after Admin, Users, Export."
        )
    with export.open(packed[0]) as file, tempfile.TemporaryFile() as copy:
        shutil.copyfileobj(file, copy)
        with open_export(copy, label=packed[0]) as inner:
            tables = [name for name in inner.names() if name.lower().endswith(".csv")]
            if len(tables) != 1:
                raise ArchiveError(f"{packed[0]} in {export.label} holds no single users CSV.")
            with inner.open(tables[0]) as table:
                yield f"{packed[0]}/{tables[0]}", table


@contextmanager
def _named(name: str, label: str) -> Iterator[None]:
    """An ImportFileError of reading the file `name` of the export `label`, with the file's
    name first."""
    try:
        yield
    except ArchiveError:
        raise
    except ImportFileError as exc:
        where = name if name == label else f"{name} in {label}"
        raise ImportFileError(f"{where}: {exc}") from None


def _extra_columns(columns: tuple[str, ...]) -> list[tuple[str, int]]:
    """(attribute, column index) of the user fields and the group names."""
    taken = set(_FIELDS) | set(_ATTRIBUTES) | {GROUPS_ATTRIBUTE}
    extra: list[tuple[str, int]] = []
    for index, column in enumerate(columns):
        if column.lower() == "group_names":
            extra.append((GROUPS_ATTRIBUTE, index))
            continue
        if not column.endswith(CUSTOM_FIELD):
            continue
        attribute = column.removesuffix(CUSTOM_FIELD).strip()[:MAX_ATTRIBUTE_KEY_CHARS]
        if (attribute and attribute not in taken) or attribute == GROUPS_ATTRIBUTE:
            taken.add(attribute)
            extra.append((attribute, index))
    return extra


def _parse_topic(export: Export, name: str, file: IO[bytes]) -> _Topic:
    """A topic file streamed: its topic fields, its posts without their text, its stream."""
    topic = _Topic()
    builder: ijson.ObjectBuilder | None = None
    last = ""  # the last post read, for messages

    def where() -> str:
        return f" after {last}" if last else ""

    with _json_errors(export, name, where):
        events = ijson.parse(_without_bom(file))
        if next(events)[1] != "start_map":
            return topic  # not an object: no topic
        for prefix, event, value in events:
            if builder is not None:
                builder.event(event, value)
                if prefix == _POST and event == "end_map":
                    post = _post(export, name, len(topic.posts) + 1, builder.value)
                    topic.posts.append(post)
                    last = f"post {post.id}"
                    builder = None
                continue
            if prefix == _POST:
                if event != "start_map":
                    raise ImportFileError(
                        f"{name} in {export.label}, post {len(topic.posts) + 1} of "
                        "post_stream.posts: an object was expected."
                    )
                builder = ijson.ObjectBuilder()
                builder.event(event, value)
            elif prefix == _STREAM:
                stream_id = _integer(value)
                if stream_id is None:
                    raise ImportFileError(
                        f"{name} in {export.label}: post_stream.stream holds {value!r}, not a "
                        "post id."
                    )
                topic.stream.append(stream_id)
            elif prefix == "" and event == "map_key" and value == "post_stream":
                topic.is_topic = True
            elif prefix == _POSTS and event not in ("start_array", "end_array"):
                raise ImportFileError(
                    f"{name} in {export.label}: post_stream.posts is not a list of posts."
                )
            elif prefix in _TOPIC_KEYS and event not in ("start_map", "start_array"):
                topic.fields[prefix] = value
    return topic


def _post(export: Export, name: str, number: int, post: Any) -> _Post:
    place = f"{name} in {export.label}, post {number} of post_stream.posts"
    post_id = _integer(post.get("id"))
    if post_id is None:
        raise ImportFileError(f"{place}: it has no id.")
    place = f"{name} in {export.label}, post {post_id}"
    created = post.get("created_at")
    try:
        created_at = datetime.fromisoformat(created) if isinstance(created, str) else None
    except ValueError:
        created_at = None
    if created_at is None:
        raise ImportFileError(f"{place}: created_at {created!r} is not a date and time.")
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    summary = post.get("actions_summary") or []
    likers = post.get("post_action_users")
    if not isinstance(summary, list) or not (likers is None or isinstance(likers, list)):
        raise ImportFileError(f"{place}: actions_summary and post_action_users must be lists.")
    likes = sum(
        _integer(action.get("count")) or 0
        for action in summary
        if isinstance(action, dict) and _integer(action.get("id")) == LIKE
    )
    url = _text(post.get("post_url"))
    return _Post(
        id=post_id,
        number=_integer(post.get("post_number")) or 0,
        type=_integer(post.get("post_type")) or REGULAR,
        user_id=_integer(post.get("user_id")),
        username=_text(post.get("username")),
        created_at=created_at,
        deleted=bool(post.get("deleted_at")),
        accepted=post.get("accepted_answer") is True,
        likes=likes,
        likers=None
        if likers is None
        else tuple(
            (_integer(user.get("id")), _text(user.get("username")))
            for user in likers
            if isinstance(user, dict)
        ),
        url=url if url.startswith(("https://", "http://")) else "",
    )


@contextmanager
def _json_errors(export: Export, name: str, where: Callable[[], str]) -> Iterator[None]:
    try:
        yield
    except ijson.JSONError as exc:  # IncompleteJSONError is one
        reason = str(exc).splitlines()[0][:200] if str(exc) else "it ends too early"
        raise ImportFileError(
            f"{name} in {export.label} is not valid JSON{where()}: {reason}."
        ) from None


class _WithoutBom:
    """A binary file without the UTF-8 byte-order mark an editor may have put first."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.head: bytes | None = None

    def read(self, size: int = -1) -> bytes:
        if self.head is None:
            head = self.file.read(len(_UTF8_BOM))
            self.head = head.removeprefix(_UTF8_BOM)
        if self.head and size != 0:  # ijson reads 0 bytes first, to tell bytes from text
            head, self.head = self.head, b""
            return head
        return self.file.read(size)


def _without_bom(file: IO[bytes]) -> _WithoutBom:
    return _WithoutBom(file)


class _PostIds:
    """A set of post ids as a bitmap (Discourse's ids are one serial, so it is dense): a bit a
    post, 125 kB a million posts; ids past BITMAP_IDS, which no forum reaches, in a set."""

    BITMAP_IDS = 2**27  # a 16 MiB bitmap at most

    def __init__(self) -> None:
        self.bits = bytearray()
        self.others: set[int] = set()

    def add(self, post_id: int) -> None:
        if not 0 <= post_id < self.BITMAP_IDS:
            self.others.add(post_id)
            return
        byte = post_id >> 3
        if byte >= len(self.bits):
            self.bits.extend(bytes(max(byte + 1 - len(self.bits), len(self.bits))))
        self.bits[byte] |= 1 << (post_id & 7)

    def __contains__(self, post_id: int) -> bool:
        if not 0 <= post_id < self.BITMAP_IDS:
            return post_id in self.others
        byte = post_id >> 3
        return byte < len(self.bits) and bool(self.bits[byte] & (1 << (post_id & 7)))

    def missing(self, other: _PostIds) -> int:
        """How many of these ids `other` does not hold."""
        size = len(self.bits)
        mine = int.from_bytes(self.bits, "little")
        theirs = int.from_bytes(other.bits[:size], "little")
        return (mine & ~theirs).bit_count() + len(self.others - other.others)


def _basename(name: str) -> str:
    return PurePosixPath(name).name.lower()


def _unquoted(value: str) -> str:
    """A value Discourse's export wrapped in quotes of its own because it has a comma (its
    `escape_comma`: `Smith, Jordan` is written `"Smith, Jordan"` inside the CSV's quoting)."""
    if len(value) >= 2 and value[0] == value[-1] == '"' and "," in value:
        return value[1:-1].strip()
    return value


def _ruby_time(value: str) -> str:
    """A CSV time as Ruby writes it ("2024-03-01 10:15:30 UTC") in ISO 8601; anything else as
    it is, for the members merge to accept or report."""
    match = _RUBY_TIME.fullmatch(value)
    if match is None:
        return value
    zone = match["zone"] or "UTC"
    offset = "+00:00" if zone in ("UTC", "Z") else zone
    return f"{match['date']}T{match['time']}{offset}"


def _boolean(value: str) -> str:
    return "true" if value.lower() in ("true", "t", "1", "yes") else "false"


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
        return int(value)
    return None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _read(export: Export, writer: PlatformWriter) -> None:
    _Reader().read(export, writer)


# Import the Discourse export at `file`: a zip opened in binary mode, an unpacked folder, or
# the users CSV alone (members without activity).
import_discourse = partial(run_platform_import, source=SOURCE, kinds=KINDS, read=_read)

IMPORTER = Importer(
    slug="discourse",
    noun="members and activity",
    label="Discourse",
    run=import_discourse,
    preview=None,
    columns={
        "user-list-<date>.csv": "Discourse's Export users: everyone but the system accounts as "
        "members (name, email, title, location, joined, last seen; username, trust level, "
        "website, user fields and groups as attributes). Also the user-list zip as sent.",
        "<topic>.json": "Each topic as /t/<id>.json gives it, with all its posts: the first "
        "post, replies, accepted answers (solved plugin) and, when a post lists its likers "
        "in post_action_users, likes given and received. Small actions, moderator actions, "
        "whispers, deleted posts and private messages are not activity.",
        "categories.json or site.json": "Optional: the category names, for each activity's "
        'channel (else "category <id>").',
    },
    aliases={},
    unknown="ignore",
    matching=(
        "Each Discourse user updates the member with the same Discourse user id, else the "
        "member with the same email (in any letter case), who then has both identities; "
        "otherwise a member is added. Posts belong to their author's user id (else username). "
        "Activities keep their post ids, so importing a later export adds only what is new. "
        "Scores are updated after the import."
    ),
    command="import_discourse",
    after_import=rescore_later,
    export=PlatformExport(
        platform="Discourse",
        steps=(
            "As an admin, open Admin, Users and choose Export; Discourse messages you a "
            "user-list zip: download it.",
            "Save each topic as JSON with all its posts: /t/<id>.json?print=true (up to 1,000 "
            "posts), or add the posts /t/<id>/posts.json?post_ids[]=… gives to the "
            "post_stream.posts of /t/<id>.json. Private topics need an admin API key.",
            "Optionally save /categories.json?include_subcategories=true for category names, "
            "and put each post's likers (/post_action_users.json?id=<post id>"
            "&post_action_type_id=2) into the post as post_action_users.",
            "Put the user-list zip and the JSON files in one folder, zip it and upload the zip.",
        ),
        file_kinds="a .zip file, or the users CSV alone",
        accept=".zip,application/zip,.csv,text/csv",
    ),
)
