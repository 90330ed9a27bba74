"""The Discord importer (platforms/discord.py) on DiscordChatExporter JSON exports written to
the exporter's documented shapes (tests/data/discord/README.md says which file covers what):
members, every activity mapping and quirk, a second import, malformed and hostile exports, the
command, the Imports page, and memory that stays flat."""

import io
import json
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from engagement.models import Activity
from members import jobs
from members.csv_import import ImportFileError
from members.importing import import_members
from members.models import Identity, ImportJob, Member
from platforms.archives import ArchiveError
from platforms.discord import import_discord
from tests.platforms.exports import peak_of, zipped

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[1] / "data" / "discord"
GENERAL = DATA / "Acme Makers - Text Channels - general [574173877371011088].json"
THREAD = DATA / "Acme Makers - general - Lamp build log [1346874900480131089].json"
CAFE = DATA / "Acme Makers - Community ☕ - ☕-café-和み [574174380687491105].json"
LOUNGE = DATA / "Acme Makers - Text Channels - lounge [574175135662211108].json"
CHANNELS = [GENERAL, THREAD, CAFE, LOUNGE]  # the server's channel files

GUILD_ID = "574173374054531073"
GENERAL_ID, THREAD_ID = "574173877371011088", "1346874900480131089"
ANA, BEN, CLEO, DARA = (
    "584290035302531076",
    "599147937792131077",
    "806071409049731078",
    ("948852228096131079"),
)
ELI, FRANK, GRACE, GONE = (
    "1323198893260931080",
    "400196999577731081",
    "304526603059331082",
    ("741566368972931083"),
)
BOT, ZOE = "574505562931331084", "1059018139238531085"
HELLO, REPLY, REPLY_TO_OLDER = "1346048213299363859", "1346049649777180692", "1346399266922430487"
GONE_MESSAGE, FORWARD, FRANK_MESSAGE = (
    "1346786862039171097",
    "1346802217386115098",
    "1346825827123331099",
)
THREAD_FIRST, THREAD_ANSWER = "1346875152138371102", "1346876158771331103"
CAFE_FIRST, CAFE_SECOND = "1347297686323331106", "1347298441298051107"
LOUNGE_HI, LOUNGE_REPLY = "772883775309873190", "772885111111811111"
ACME_EMOJI = "661720242585731086"

TOP = "Acme Makers export/"  # the fixture zipped as a folder, under one top folder
ALL_KINDS = {"message": 8, "reply": 4, "reaction_given": 8, "reaction_received": 8}


def member(community, discord_id: str) -> Member:
    return Identity.objects.get(
        community=community, source="discord", external_id=discord_id
    ).member


def activities(community) -> list[tuple]:
    return sorted(
        Activity.objects.filter(community=community).values_list(
            "kind__slug",
            "member__identities__external_id",
            "external_id",
            "occurred_at",
            "channel",
            "title",
            "url",
            "source",
        )
    )


def kinds(community, **filters) -> dict[str, int]:
    found: dict[str, int] = {}
    for slug in Activity.objects.filter(community=community, **filters).values_list(
        "kind__slug", flat=True
    ):
        found[slug] = found.get(slug, 0) + 1
    return found


def url(channel: str, message: str) -> str:
    return f"https://discord.com/channels/{GUILD_ID}/{channel}/{message}"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def imported(community):
    report = import_discord(community=community, file=DATA)
    assert not report.errors, report.errors
    return report


# Members ------------------------------------------------------------------------------------


def test_authors_and_reacting_users_become_members_bots_and_dm_only_people_do_not(
    community, imported
):
    members = {
        identity.external_id: identity.member
        for identity in Identity.objects.filter(community=community).select_related("member")
    }
    assert set(members) == {ANA, BEN, CLEO, DARA, ELI, FRANK, GRACE, GONE}
    assert BOT not in members  # isBot, as an author and as a reacting user
    assert ZOE not in members  # only in a direct-message channel, which is not read
    assert {identity.source for identity in Identity.objects.all()} == {"discord"}
    assert Member.objects.filter(community=community).count() == 8
    # Dara never writes: she only reacts, and still is a member of the server.
    assert not Activity.objects.filter(member=members[DARA], kind__slug="message").exists()


def test_member_fields(community, imported):
    names = {
        discord_id: (m.name, m.attributes, m.joined_at, m.email)
        for discord_id in (ANA, BEN, CLEO, ELI, FRANK, GRACE, GONE)
        if (m := member(community, discord_id))
    }
    assert names == {
        # The nickname; Ana's record of the current export wins over the 2020 one, which
        # has no nickname and no exportedAt.
        ANA: ("Ana K.", {"discord_username": "ana_k"}, None, ""),
        BEN: ("Ben Ode", {"discord_username": "ben.ode"}, None, ""),
        CLEO: ("cleo", {"discord_username": "cleo"}, None, ""),
        # A GuildMemberJoin message says when Eli joined; nobody else's first message does.
        ELI: ("Eli", {"discord_username": "eli_new"}, at("2025-03-04T07:02:10.05+00:00"), ""),
        # An account from before unique names keeps its discriminator in its handle.
        FRANK: ("frank", {"discord_username": "frank#7314"}, None, ""),
        # No nickname (an export of 2020): the name with its discriminator.
        GRACE: (
            "grace#4821",
            {"discord_username": "grace#4821"},
            at("2020-11-02T18:00:00+00:00"),
            "",
        ),
        # A deleted account: "Deleted User", discriminator 0000; its id still tells it apart.
        GONE: ("Deleted User", {"discord_username": "Deleted User"}, None, ""),
    }


def test_a_member_already_in_the_table_by_their_discord_id_is_updated_not_doubled(community):
    csv = (
        "source,external_id,name,email\n"
        f"discord,{ANA},Ana Kowalski,ana@example.org\n"
        ",,Ben Ode,ben@example.org\n"
    )
    import_members(community=community, file=io.BytesIO(csv.encode()))
    ana = Member.objects.get(community=community, email="ana@example.org")
    ben_from_csv = Member.objects.get(community=community, email="ben@example.org")

    report = import_discord(community=community, file=DATA)

    assert not report.errors
    assert member(community, ANA).pk == ana.pk  # one member, matched by the discord identity
    ana.refresh_from_db()
    assert (ana.email, ana.name) == ("ana@example.org", "Ana K.")  # the import's name wins
    assert kinds(community, member=ana) == {
        "message": 2,
        "reply": 2,
        "reaction_given": 2,
        "reaction_received": 3,
    }
    # The export has no emails: a member with Ben's name but no discord identity is not
    # guessed at, and Discord's Ben is a member of his own.
    assert member(community, BEN).pk != ben_from_csv.pk
    assert Member.objects.filter(community=community).count() == 9
    assert dict(report.details)["Members updated"] == 1


def channel_export(channel_id: str, exported_at: str | None, messages: list[dict]) -> str:
    """A channel file of the current shape, with the fixture's guild, holding `messages`."""
    export = json.loads(CAFE.read_text(encoding="utf-8"))
    export["channel"] = dict(export["channel"], id=channel_id, name=f"channel-{channel_id}")
    export["exportedAt"] = exported_at
    export["messages"] = messages
    return json.dumps(export, indent=2, ensure_ascii=False)


def written_by(message_id: int, author: dict, when: str, kind: str = "Default") -> dict:
    template = json.loads(CAFE.read_text(encoding="utf-8"))["messages"][1]
    return dict(template, id=str(message_id), type=kind, timestamp=when, author=author)


def test_the_latest_exports_record_of_a_person_wins_and_their_first_join(community, tmp_path):
    cafe = json.loads(CAFE.read_text(encoding="utf-8"))
    ana = cafe["messages"][1]["author"]
    files = {
        # In the order the files are read: the 2025 export, which says what the first one
        # says, comes between two of 2024.
        "a.json": ("2024-01-10T10:00:00+00:00", "Ana K.", "2023-05-01T08:00:00+00:00"),
        "b.json": ("2025-02-01T10:00:00+00:00", "Ana K.", "2024-09-09T09:00:00+00:00"),
        "c.json": ("2024-06-01T10:00:00+00:00", "Ana (mid 2024)", "2022-02-02T02:00:00+00:00"),
        "d.json": (None, "ana (no date)", "2021-01-01T01:00:00+00:00"),
    }
    folder = tmp_path / "export"
    folder.mkdir()
    for number, (name, (exported_at, nickname, joined)) in enumerate(files.items(), 1):
        author = dict(ana, nickname=nickname)
        messages = [
            written_by(10**18 + number, author, joined, kind="GuildMemberJoin"),
            written_by(10**18 + 10 + number, author, "2025-01-01T00:00:00+00:00"),
        ]
        (folder / name).write_text(channel_export(str(number), exported_at, messages))

    report = import_discord(community=community, file=folder)

    assert not report.errors
    ana_member = member(community, ANA)
    assert ana_member.name == "Ana K."  # as b.json, exported last, has it
    assert ana_member.joined_at == at("2021-01-01T01:00:00+00:00")  # the earliest join
    assert kinds(community) == {"message": 4}


def test_an_invalid_person_names_where_the_export_has_them(community, tmp_path):
    cafe = json.loads(CAFE.read_text(encoding="utf-8"))
    nameless = dict(cafe["messages"][0]["author"], name="", nickname="", discriminator="0000")
    cafe["messages"][0]["author"] = nameless
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "cafe.json").write_text(json.dumps(cafe, ensure_ascii=False), encoding="utf-8")

    report = import_discord(community=community, file=folder)

    assert report.rolled_back and not Member.objects.exists() and not Activity.objects.exists()
    assert str(report.errors[0]).startswith(
        f"line 1: cafe.json, message {CAFE_FIRST}, user {CLEO}: "
    )

    kept = import_discord(community=community, file=folder, skip_invalid=True)

    assert not kept.rolled_back
    assert set(Identity.objects.values_list("external_id", flat=True)) == {BEN, DARA, ANA}
    assert [str(error) for error in kept.errors] == [str(report.errors[0])]
    # Ana's message, and the reactions Ben and Dara gave; Cleo's message and the reactions
    # she received are left out with her.
    assert kinds(community) == {"message": 1, "reaction_given": 2}
    assert dict(kept.details)["Activities left out: their member's entry is invalid"] == 3


# Activities ---------------------------------------------------------------------------------


def test_activity_counts_and_what_is_not_activity(imported):
    details = dict(imported.details)
    assert {
        label.removeprefix("Activities created: "): count
        for label, count in details.items()
        if label.startswith("Activities created: ")
    } == ALL_KINDS
    assert {
        label.removeprefix("Not member activity: "): count
        for label, count in details.items()
        if label.startswith("Not member activity: ")
    } == {
        "system messages (GuildMemberJoin)": 2,
        "system messages (ChannelPinnedMessage)": 1,
        "system messages (ThreadCreated)": 1,
        "system messages (type 21)": 1,  # a ThreadStarterMessage, written as its number
        "messages by bots": 2,
        "reactions by bots": 1,
        "reactions by the message's author": 2,
        "reactions without their users (DiscordChatExporter before 2.40.4)": 1,
        "direct-message channels (not read)": 1,
    }
    assert (details["Members created"], imported.created) == (8, 8 + 28)


def test_messages_and_replies(community, imported):
    written = [row for row in activities(community) if row[0] in ("message", "reply")]
    general, thread, cafe, lounge = "#general", "#general", "#☕-café-和み", "#lounge"
    assert written == sorted(
        [
            ("message", ANA, HELLO, at("2025-03-03T09:15:02.417+00:00"), general, "",
             url(GENERAL_ID, HELLO), "discord"),
            # A reply to a message of the export ...
            ("reply", BEN, REPLY, at("2025-03-03T09:20:44.9+00:00"), general, "",
             url(GENERAL_ID, REPLY), "discord"),
            # ... and one to a message the export does not hold: a reply all the same.
            ("reply", ELI, REPLY_TO_OLDER, at("2025-03-04T08:30:00.123+00:00"), general, "",
             url(GENERAL_ID, REPLY_TO_OLDER), "discord"),
            ("message", GONE, GONE_MESSAGE, at("2025-03-05T10:10:10+00:00"), general, "",
             url(GENERAL_ID, GONE_MESSAGE), "discord"),
            # A forward's reference points at the message it forwards: no reply.
            ("message", BEN, FORWARD, at("2025-03-05T11:11:11+00:00"), general, "",
             url(GENERAL_ID, FORWARD), "discord"),
            # Exported in local time (+02:00): stored as the same moment in UTC.
            ("message", FRANK, FRANK_MESSAGE, datetime(2025, 3, 5, 12, 45, tzinfo=UTC), general,
             "", url(GENERAL_ID, FRANK_MESSAGE), "discord"),
            # A thread's messages are in its channel, with the thread's name as their title.
            ("message", BEN, THREAD_FIRST, at("2025-03-05T16:01:00+00:00"), thread,
             "Lamp build log", url(THREAD_ID, THREAD_FIRST), "discord"),
            ("reply", ANA, THREAD_ANSWER, at("2025-03-05T16:05:00+00:00"), thread,
             "Lamp build log", url(THREAD_ID, THREAD_ANSWER), "discord"),
            ("message", CLEO, CAFE_FIRST, at("2025-03-06T20:00:00+00:00"), cafe, "",
             url("574174380687491105", CAFE_FIRST), "discord"),
            ("message", ANA, CAFE_SECOND, at("2025-03-06T20:03:00+00:00"), cafe, "",
             url("574174380687491105", CAFE_SECOND), "discord"),
            # The 2020 export: a message, and a reply typed "19" (before replies had a name).
            ("message", GRACE, LOUNGE_HI, at("2020-11-02T18:04:11.52+00:00"), lounge, "",
             url("574175135662211108", LOUNGE_HI), "discord"),
            ("reply", ANA, LOUNGE_REPLY, at("2020-11-02T18:09:30+00:00"), lounge, "",
             url("574175135662211108", LOUNGE_REPLY), "discord"),
        ]
    )  # fmt: skip


def test_reactions_given_and_received_at_the_messages_time(community, imported):
    reactions = [
        (kind, who, external_id, occurred_at, channel)
        for kind, who, external_id, occurred_at, channel, *_ in activities(community)
        if kind.startswith("reaction_")
    ]
    hello, gone = at("2025-03-03T09:15:02.417+00:00"), at("2025-03-05T10:10:10+00:00")
    first, cafe = at("2025-03-05T16:01:00+00:00"), at("2025-03-06T20:00:00+00:00")
    expected = []
    for message, emoji, giver, author, moment, channel in [
        (HELLO, "👍", BEN, ANA, hello, "#general"),
        (HELLO, "👍", DARA, ANA, hello, "#general"),  # not Ana herself, not the bot
        (HELLO, ACME_EMOJI, BEN, ANA, hello, "#general"),  # a custom emoji, by its id
        (GONE_MESSAGE, "👍", ANA, GONE, gone, "#general"),  # received by a deleted account
        (THREAD_FIRST, "👍", ELI, BEN, first, "#general"),
        (THREAD_FIRST, "👍", ANA, BEN, first, "#general"),
        (CAFE_FIRST, "🎉", BEN, CLEO, cafe, "#☕-café-和み"),
        (CAFE_FIRST, "🎉", DARA, CLEO, cafe, "#☕-café-和み"),
    ]:
        reaction = f"{message}:{emoji}:{giver}"
        expected.append(("reaction_given", giver, f"{reaction}:given", moment, channel))
        expected.append(("reaction_received", author, f"{reaction}:received", moment, channel))
    assert reactions == sorted(expected)
    # Frank's reaction to his own message is none; reactions to the bot's welcome and to a
    # join message are not read (neither message is activity); Grace's thumbs-up of 2020
    # has a count but no users.
    assert kinds(community, member=member(community, FRANK)) == {"message": 1}
    assert kinds(community, member=member(community, GRACE)) == {"message": 1}


# Formats and uploads -------------------------------------------------------------------------


def test_a_zip_of_several_channel_files_imports_as_the_folder_does(community, other_community):
    folder_report = import_discord(community=community, file=DATA)
    files = sorted(path for path in DATA.rglob("*") if path.is_file())
    zip_report = import_discord(community=other_community, file=zipped(DATA, top=TOP, only=files))

    assert dict(zip_report.details) == dict(folder_report.details)
    assert [row[:6] for row in activities(other_community)] == [
        row[:6] for row in activities(community)
    ]


def test_one_json_file_uploaded_alone(community):
    # An upload's entry is named after the upload, not after the channel: it is read anyway.
    with THREAD.open("rb") as file:
        report = import_discord(community=community, file=file)

    assert not report.errors
    assert set(Identity.objects.values_list("external_id", flat=True)) == {ANA, BEN, ELI}
    assert kinds(community) == {"message": 1, "reply": 1, "reaction_given": 2,
                                "reaction_received": 2}  # fmt: skip
    assert dict(report.details)["Not member activity: system messages (type 21)"] == 1


def test_a_file_saved_again_with_a_byte_order_mark_reads_the_same(community):
    # DiscordChatExporter writes UTF-8 without one; an editor on Windows may add it.
    report = import_discord(
        community=community, file=io.BytesIO(b"\xef\xbb\xbf" + CAFE.read_bytes())
    )

    assert not report.errors
    assert kinds(community) == {"message": 2, "reaction_given": 2, "reaction_received": 2}
    assert {a.channel for a in Activity.objects.all()} == {"#☕-café-和み"}


def test_media_downloaded_next_to_an_export_is_not_read(community, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(GENERAL, folder)
    media = folder / f"{GENERAL.name}_Files"
    media.mkdir()
    (media / "notes-1F2E3.json").write_text('{"not": "an export"}')
    (media / "photo-99AA0.png").write_bytes(b"\x89PNG\r\n")

    report = import_discord(community=community, file=folder)

    assert not report.errors
    assert kinds(community)["message"] == 4


def test_a_channel_exported_twice_over_overlapping_dates_is_imported_once(community, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(GENERAL, folder)
    export = json.loads(GENERAL.read_text(encoding="utf-8"))
    export["messages"] = export["messages"][6:]  # from the deleted account's message on
    export["dateRange"]["after"] = "2025-03-05T00:00:00+00:00"
    later = folder / f"Acme Makers - Text Channels - general [{GENERAL_ID}] (after 2025-03-05).json"
    later.write_text(json.dumps(export, indent=2, ensure_ascii=False), encoding="utf-8")

    report = import_discord(community=community, file=folder)

    assert not report.errors
    assert kinds(community) == {"message": 4, "reply": 2, "reaction_given": 4,
                                "reaction_received": 4}  # fmt: skip
    details = dict(report.details)
    assert details["Not member activity: messages in two files of the export (imported once)"] == 4


def test_a_second_import_changes_nothing(community, imported):
    members_before = list(Member.objects.order_by("pk").values())
    activities_before = list(Activity.objects.order_by("pk").values())
    identities_before = list(Identity.objects.order_by("pk").values())

    again = import_discord(community=community, file=zipped(DATA, top=TOP, only=CHANNELS))

    assert (again.created, again.updated, again.errors) == (0, 0, [])
    details = dict(again.details)
    assert (details["Members unchanged"], details["Activities already imported"]) == (8, 28)
    assert list(Member.objects.order_by("pk").values()) == members_before
    assert list(Activity.objects.order_by("pk").values()) == activities_before
    assert list(Identity.objects.order_by("pk").values()) == identities_before


def test_a_dry_run_counts_and_writes_nothing(community):
    report = import_discord(community=community, file=DATA, dry_run=True)

    assert report.dry_run and report.created == 36
    assert not Member.objects.exists() and not Activity.objects.exists()


# Malformed and hostile exports ----------------------------------------------------------------


def folder_with(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """The fixture folder's channels plus one more file."""
    folder = tmp_path / "export"
    folder.mkdir()
    for path in (GENERAL, CAFE):
        shutil.copy(path, folder)
    target = folder / name
    target.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def test_a_truncated_file_names_the_file_and_the_last_message_read(community, tmp_path):
    text = THREAD.read_text(encoding="utf-8")
    cut = text[: text.index(f'"id": "{THREAD_ANSWER}"') + 10]
    folder = folder_with(tmp_path, THREAD.name, cut)

    with pytest.raises(ImportFileError) as error:
        import_discord(community=community, file=folder)

    message = str(error.value)
    assert message.startswith(f"{THREAD.name} in export is not valid JSON after message ")
    assert THREAD_FIRST in message
    assert not Member.objects.exists() and not Activity.objects.exists()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"timestamp": "last Tuesday"}, 'timestamp "last Tuesday" is not an ISO 8601'),
        ({"timestamp": None}, "no timestamp"),
        ({"author": {"name": "nobody"}}, "the author has no user id"),
        ({"type": None}, "no message type"),
        ({"reactions": "👍"}, "reactions is not a list"),
        ({"reactions": [{"count": 2}]}, "a reaction without its emoji"),
        (
            {"reactions": [{"emoji": {"id": "", "name": ""}, "count": 1}]},
            "a reaction's emoji has neither",
        ),
        (
            {"reactions": [{"emoji": {"name": "👍"}, "users": [{"name": "x"}]}]},
            "the reacting user has no user id",
        ),
    ],
)
def test_a_malformed_message_names_the_file_and_the_message(community, tmp_path, change, problem):
    # (A message without a usable id is named by its place: see the next test.)
    export = json.loads(CAFE.read_text(encoding="utf-8"))
    export["messages"][1].update(change)
    folder = folder_with(tmp_path, "Acme Makers - Community - broken [1].json", json.dumps(export))

    with pytest.raises(ImportFileError) as error:
        import_discord(community=community, file=folder)

    assert str(error.value).startswith(
        f"Acme Makers - Community - broken [1].json in export, message {CAFE_SECOND}: {problem}"
    )
    assert not Member.objects.exists() and not Activity.objects.exists()


@pytest.mark.parametrize(
    "message_id", [None, "", "\uff11\uff12\uff13", "1" * 21, 1346048213299363859]
)
def test_a_message_without_an_id_is_named_by_its_place(community, tmp_path, message_id):
    export = json.loads(CAFE.read_text(encoding="utf-8"))
    export["messages"][1]["id"] = message_id
    folder = folder_with(tmp_path, "broken.json", json.dumps(export))

    with pytest.raises(ImportFileError, match=r"^broken\.json in export, message 2: no message id"):
        import_discord(community=community, file=folder)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("<!DOCTYPE html><html>", "is not a DiscordChatExporter JSON export (export the channels"),
        ("[1, 2, 3]", "is not a DiscordChatExporter JSON export (an object"),
        ('{"guild": {}, "channel": {"id": "5"}}', "has no messages"),
        ('{"channel": {"id": "5"}, "messages": {}}', "messages is not a list"),
        ('{"channel": {"name": "x"}, "messages": []}', "names no channel id"),
        ('{"channel": {"id": "5"}, "messages": ["hello"]}', "message 1: an object was expected"),
    ],
)
def test_a_file_that_is_no_export_is_refused_by_name(community, tmp_path, content, problem):
    folder = folder_with(tmp_path, "notes.json", content)

    with pytest.raises(ImportFileError, match=r"^notes\.json in export") as error:
        import_discord(community=community, file=folder)

    assert problem in str(error.value)
    assert not Member.objects.exists()


def test_an_export_without_json_files_says_how_to_export(community, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "general.html").write_text("<html></html>")
    (folder / "general.txt").write_text("hello")

    with pytest.raises(ImportFileError, match=r"^export holds no DiscordChatExporter JSON file"):
        import_discord(community=community, file=folder)


def test_a_zip_with_an_entry_outside_its_folder_is_refused_and_writes_nothing(community):
    buffer = zipped(DATA, top=TOP, only=[GENERAL, CAFE])
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("../../etc/cron.d/evil.json", "{}")

    with pytest.raises(ArchiveError, match=r"holds an entry outside its folder, '\.\./\.\./etc"):
        import_discord(community=community, file=buffer)
    assert not Member.objects.exists() and not Activity.objects.exists()


# The command ------------------------------------------------------------------------------------


def test_the_command_imports_a_folder_and_scores(community):
    out = io.StringIO()
    call_command("import_discord", "acme", str(DATA), stdout=out)

    text = out.getvalue()
    assert "Members created: 8" in text
    assert "Activities created: reaction_given: 8" in text
    assert "Not member activity: system messages (GuildMemberJoin): 2" in text
    assert "Scored 8 members" in text
    assert ImportJob.objects.get(community=community).status == ImportJob.Status.DONE


def test_the_command_imports_a_single_file_or_a_zip(community, tmp_path):
    out = io.StringIO()
    call_command("import_discord", "acme", str(CAFE), "--no-score", stdout=out)
    assert kinds(community) == {"message": 2, "reaction_given": 2, "reaction_received": 2}
    assert "Scored" not in out.getvalue()

    archive = tmp_path / "acme.zip"
    archive.write_bytes(zipped(DATA, top=TOP, only=[GENERAL, THREAD]).getvalue())
    call_command("import_discord", "acme", str(archive), "--no-score", stdout=io.StringIO())
    assert kinds(community)["message"] == 2 + 4 + 1


def test_the_command_reports_a_malformed_file_and_writes_nothing(community, tmp_path):
    folder = folder_with(tmp_path, "broken.json", '{"channel": {"id": "5"}, "messages": [')

    with pytest.raises(CommandError, match=r"broken.json in export is not valid JSON"):
        call_command("import_discord", "acme", str(folder), stdout=io.StringIO())
    assert not Member.objects.exists()


# The Imports page --------------------------------------------------------------------------------


@pytest.fixture
def work(celery_calls, django_capture_on_commit_callbacks):
    """Run, as a worker would, every import task enqueued so far (once each)."""
    done: set[int] = set()

    def run():
        for index, (name, args, _kwargs, _options) in enumerate(list(celery_calls)):
            if name == "members.tasks.run_import_job" and index not in done:
                done.add(index)
                with django_capture_on_commit_callbacks(execute=True):
                    jobs.job_run(*args)

    return run


@pytest.fixture
def page_url(community):
    return reverse("members:imports", args=[community.slug]) + "?importer=discord"


def test_the_imports_page_explains_the_discord_export(alice_client, page_url):
    text = alice_client.get(page_url).content.decode()
    assert "Import from Discord" in text
    assert "DiscordChatExporter" in text and "-f Json" in text  # how to export it
    assert 'accept=".zip,.json,application/zip,application/json"' in text
    assert "Discord (a .zip or .json file)</label>" in text
    assert (
        "<code>&lt;server&gt; - &lt;category&gt; - &lt;channel&gt; [&lt;id&gt;].json</code>" in text
    )


@pytest.mark.parametrize(
    ("name", "content", "members", "activities_count"),
    [
        ("acme-discord.zip", lambda: zipped(DATA, top=TOP, only=CHANNELS).getvalue(), 8, 28),
        (THREAD.name, THREAD.read_bytes, 3, 6),
    ],
)
def test_an_upload_is_checked_then_imported_by_the_worker(
    alice_client,
    community,
    page_url,
    work,
    django_capture_on_commit_callbacks,
    name,
    content,
    members,
    activities_count,
):
    upload = SimpleUploadedFile(name, content())
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(page_url, {"file": upload})
    job = ImportJob.objects.get(community=community)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    work()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.READY, job.message
    assert ["Members created", members] in job.details
    assert not Member.objects.exists()  # the check wrote nothing
    page = alice_client.get(job.get_absolute_url()).content.decode()
    assert "Activities created: reaction_given" in page

    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(job.get_absolute_url(), {"action": "import"})
    work()

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.message
    assert job.bytes_read == job.file_size
    assert Member.objects.filter(community=community).count() == members
    assert Activity.objects.filter(community=community, source="discord").count() == (
        activities_count
    )


def test_a_malformed_upload_fails_with_the_file_and_message(
    alice_client, community, page_url, work, django_capture_on_commit_callbacks
):
    export = json.loads(CAFE.read_text(encoding="utf-8"))
    export["messages"][0]["timestamp"] = "soon"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cafe.json", json.dumps(export))
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(page_url, {"file": SimpleUploadedFile("acme.zip", buffer.getvalue())})
    work()

    job = ImportJob.objects.get(community=community)
    assert job.status == ImportJob.Status.FAILED
    assert job.message.startswith(f"cafe.json in acme.zip, message {CAFE_FIRST}: timestamp")
    assert not Member.objects.exists()


# Streaming ----------------------------------------------------------------------------------------


def generated_export(folder: Path, messages: int) -> None:
    """One channel of `messages` messages of the fixture's shape, by ten people who react to
    each other: a single file, as a big channel's export is."""
    folder.mkdir()
    export = json.loads(GENERAL.read_text(encoding="utf-8"))
    template, reaction = export["messages"][0], export["messages"][0]["reactions"][0]
    people = [dict(template["author"], id=str(10**17 + n), name=f"user{n}") for n in range(10)]
    export["messages"] = []
    first = int(HELLO)
    for n in range(messages):
        author, reacting = people[n % 10], people[(n + 3) % 10]
        users = [{key: reacting[key] for key in reaction["users"][0]}]
        export["messages"].append(
            dict(
                template,
                id=str(first + n * 4_194_304),
                content="x" * 1500,
                author=author,
                reactions=[dict(reaction, count=1, users=users)],
            )
        )
    (folder / GENERAL.name).write_text(json.dumps(export, indent=2), encoding="utf-8")


def peak_memory(community, folder: Path) -> tuple[int, int]:
    """The peak memory of a dry run of the import, and what it counted as created."""
    peak, report = peak_of(lambda: import_discord(community=community, file=folder, dry_run=True))
    return peak, report.created


def test_peak_memory_stays_flat_in_the_size_of_the_export(community, tmp_path, monkeypatch):
    # Chunks of 100 activities, so that the small export fills several too: what an import
    # holds at once is one chunk, whatever the export's size.
    monkeypatch.setattr("engagement.importing.CHUNK_SIZE", 100)
    small, large = tmp_path / "small", tmp_path / "large"
    generated_export(small, messages=40)
    generated_export(large, messages=2000)  # 50 times the messages: one file of 6 MB
    small_peak, small_created = peak_memory(community, small)
    large_peak, large_created = peak_memory(community, large)
    # Ten members, and per message the message and a reaction given and received.
    assert (small_created, large_created) == (10 + 3 * 40, 10 + 3 * 2000)
    assert large_peak < 1.5 * small_peak + 512 * 1024, (small_peak, large_peak)
