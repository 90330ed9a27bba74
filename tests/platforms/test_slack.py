"""The Slack importer against exports written to Slack's format (tests/data/slack/README.md):
who becomes a member with what, which messages are activity, both formats, idempotence, bad
exports refused whole, the command and the Imports page."""

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

from engagement.models import Activity, MemberScore
from members.csv_import import ImportFileError
from members.models import Identity, ImportJob, Member
from platforms.slack import import_slack
from tests.factories import MemberFactory
from tests.platforms.exports import peak_of, zipped

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[1] / "data" / "slack"


def moment(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), tz=UTC)


def member(community, slack_id: str) -> Member:
    return Identity.objects.get(community=community, source="slack", external_id=slack_id).member


def kinds_of(community, slack_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for slug in Activity.objects.filter(member=member(community, slack_id)).values_list(
        "kind__slug", flat=True
    ):
        counts[slug] = counts.get(slug, 0) + 1
    return counts


@pytest.fixture
def imported(community):
    report = import_slack(community=community, file=zipped(DATA / "current"))
    assert not report.errors, report.errors
    return report


def test_people_become_members_bots_and_slackbot_do_not(community, imported):
    people = set(
        Identity.objects.filter(community=community, source="slack").values_list(
            "external_id", flat=True
        )
    )
    assert people == {"U01ALICE", "U02BOB", "U03CARO", "U04DAN", "U05EVE", "U06FRANK"}
    assert Member.objects.filter(community=community).count() == 6


def test_the_name_falls_back_from_real_name_to_display_name_to_handle(community, imported):
    assert member(community, "U01ALICE").name == "Alice Example"  # profile.real_name
    assert member(community, "U02BOB").name == "Bob Builder"  # real_name
    assert member(community, "U03CARO").name == "caro"  # profile.display_name
    assert member(community, "U04DAN").name == "dan.handle"  # name


def test_email_title_and_time_zone_are_kept(community, imported):
    alice = member(community, "U01ALICE")
    assert (alice.email, alice.job_title) == ("alice@example.org", "Product Manager")
    assert alice.attributes == {"timezone": "America/Chicago"}
    assert member(community, "U04DAN").email == ""


def test_a_deleted_user_is_a_member_marked_deleted(community, imported):
    eve = member(community, "U05EVE")
    assert eve.name == "Eve Gone"
    assert eve.attributes == {"slack_deleted": "true"}
    assert kinds_of(community, "U05EVE") == {"message": 1}


def test_joined_is_the_earliest_join_or_message(community, imported):
    assert member(community, "U01ALICE").joined_at == moment("1704103200.000100")  # a join
    # Bob's first message is in the archived channel, before his thread reply.
    assert member(community, "U02BOB").joined_at == moment("1704020400.000100")
    assert member(community, "U03CARO").joined_at == moment("1704103380.000400")
    assert member(community, "U04DAN").joined_at == moment("1704189600.000100")
    # Frank's message in #general came a day before his join of #watercooler.
    assert member(community, "U06FRANK").joined_at == moment("1704189780.000400")


def test_messages_replies_and_reactions_by_member(community, imported):
    assert kinds_of(community, "U01ALICE") == {
        "message": 3,  # hello, me_message, #core-team, and not the DM
        "reaction_received": 1,  # Bob's wave; her own and the bot's do not count
        "reaction_given": 2,  # +1 and heart on Frank's message
    }
    assert kinds_of(community, "U02BOB") == {
        "reply": 1,
        "message": 1,
        "reaction_given": 2,  # wave, +1
    }
    assert kinds_of(community, "U03CARO") == {
        "reply": 1,
        "message": 2,
    }  # broadcast, général, 日本語
    assert kinds_of(community, "U04DAN") == {"message": 1}  # file_share
    assert kinds_of(community, "U06FRANK") == {"message": 1, "reaction_received": 3}


def test_activities_carry_channel_time_and_stable_ids(community, imported):
    reply = Activity.objects.get(
        community=community, kind__slug="reply", member__name="Bob Builder"
    )
    assert reply.source == "slack"
    assert reply.external_id == "C01GENERAL:1704103320.000300"
    assert reply.channel == "#general"
    assert reply.occurred_at == moment("1704103320.000300")
    channels = set(Activity.objects.filter(community=community).values_list("channel", flat=True))
    assert channels == {
        "#general",
        "#watercooler",
        "#old-project",
        "#général",
        "#日本語",
        "#core-team",
    }
    given = Activity.objects.filter(community=community, kind__slug="reaction_given")
    assert set(given.values_list("external_id", flat=True)) == {
        "C01GENERAL:1704103260.000200:wave:U02BOB:given",
        "C01GENERAL:1704189780.000400:+1:U01ALICE:given",
        "C01GENERAL:1704189780.000400:+1:U02BOB:given",
        "C01GENERAL:1704189780.000400:heart:U01ALICE:given",
    }


def test_the_report_counts_what_is_no_activity(imported):
    details = dict(imported.details)
    assert details["Members created"] == 6
    assert details["Activities created: message"] == 9
    assert details["Activities created: reply"] == 2
    assert details["Activities created: reaction_given"] == 4
    assert details["Activities created: reaction_received"] == 4
    assert details["Not member activity: channel_join messages"] == 2
    assert details["Not member activity: bot_message messages"] == 1
    # A bot user's message, Slackbot's, and the partner workspace's person.
    assert details["Not member activity: messages by bots or people not in the export"] == 3
    for subtype in ("channel_leave", "channel_topic", "channel_name", "channel_archive"):
        assert details[f"Not member activity: {subtype} messages"] == 1
    assert details["Not member activity: pinned_item messages"] == 1
    assert details["Not member activity: file_comment messages"] == 1


def test_the_same_export_again_changes_nothing(community, imported):
    before = list(Member.objects.filter(community=community).values().order_by("pk"))
    activities = Activity.objects.filter(community=community).count()
    again = import_slack(community=community, file=zipped(DATA / "current"))
    assert (again.created, again.updated) == (0, 0)
    assert dict(again.details)["Members unchanged"] == 6
    assert dict(again.details)["Activities already imported"] == activities
    assert list(Member.objects.filter(community=community).values().order_by("pk")) == before
    assert Activity.objects.filter(community=community).count() == activities


def test_the_unpacked_folder_and_a_zip_of_the_folder_read_alike(community, tmp_path):
    folder = tmp_path / "Acme Slack export Jan 1 2024 - Jan 5 2024"
    shutil.copytree(DATA / "current", folder)
    by_folder = import_slack(community=community, file=folder, dry_run=True)
    # A zip of the folder itself: every entry under its one top folder.
    by_zip = import_slack(
        community=community, file=zipped(DATA / "current", top=f"{folder.name}/"), dry_run=True
    )
    assert by_folder.details == by_zip.details
    assert dict(by_folder.details)["Activities created: message"] == 9
    assert not Member.objects.filter(community=community).exists()  # dry runs


def test_a_person_already_imported_by_email_gets_the_slack_identity(community):
    frank = MemberFactory(community=community, name="Frank C.", email="frank.casey@example.org")
    report = import_slack(community=community, file=zipped(DATA / "current"))
    assert dict(report.details)["Members created"] == 5
    assert dict(report.details)["Members updated"] == 1
    frank.refresh_from_db()
    assert member(community, "U06FRANK") == frank
    assert frank.email == "frank.casey@example.org"  # the same address in other case stays
    assert frank.name == "Frank Casey"
    assert kinds_of(community, "U06FRANK") == {"message": 1, "reaction_received": 3}


def test_the_2016_format_reads(community):
    report = import_slack(community=community, file=zipped(DATA / "2016"))
    assert not report.errors
    anna = member(community, "U0G1ANNA")
    assert (anna.name, anna.email, anna.job_title) == ("Anna Old", "anna@example.net", "Organiser")
    assert anna.joined_at == moment("1451606400.000002")
    assert member(community, "U0G2BJORN").name == "Björn Ström"
    assert kinds_of(community, "U0G1ANNA") == {"message": 1, "reaction_received": 1}
    assert kinds_of(community, "U0G2BJORN") == {"message": 1, "reaction_given": 1}  # file_share
    assert not Identity.objects.filter(external_id="U0G3HUBOT").exists()
    details = dict(report.details)
    assert details["Not member activity: bot_message messages"] == 1
    assert details["Not member activity: channel_purpose messages"] == 1


def test_an_import_is_scored_by_the_job_and_the_command(community):
    call_command("import_slack", "acme", str(DATA / "current"), stdout=io.StringIO())
    scored = MemberScore.objects.filter(member__community=community).count()
    assert scored == 6
    job = ImportJob.objects.get(community=community)
    assert (job.importer, job.status, job.file_name) == ("slack", "done", "current")
    assert ["Members created", 6] in job.details


def test_the_command_explains_a_folder_that_is_no_slack_export(community, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CommandError, match=r"is not a Slack export: it has no users\.json and"):
        call_command("import_slack", "acme", str(tmp_path), stdout=io.StringIO())


# Malformed exports: refused whole, with the file and the entry named -----------------------


def broken(tmp_path: Path, name: str, content: str) -> io.BytesIO:
    folder = tmp_path / "export"
    if not folder.exists():
        shutil.copytree(DATA / "current", folder)
    (folder / name).write_text(content, encoding="utf-8")
    return zipped(folder)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "general/2024-01-02.json",
            '[{"type": "message", "user": "U01ALICE", "ts": "1704189600.1"}, {"type": ',
            "general/2024-01-02.json in the upload is not valid JSON after entry 1",
        ),
        ("users.json", '{"ok": true}', "users.json in the upload is not a JSON array"),
        (
            "channels.json",
            '[{"id": "C01GENERAL"}]',
            "channels.json in the upload, entry 1: a channel needs an id and a name",
        ),
        (
            "general/2024-01-01.json",
            '[{"type": "message", "user": "U01ALICE", "ts": "yesterday"}]',
            "general/2024-01-01.json, message 1: ts 'yesterday' is not a Slack time",
        ),
        ("users.json", '[{"name": "nobody"}]', "users.json in the upload, entry 1: no user id"),
        ("watercooler/2024-01-03.json", '["hello"]', "entry 1: an object was expected"),
    ],
)
def test_a_malformed_file_is_named_and_nothing_is_written(
    community, tmp_path, name, content, message
):
    with pytest.raises(ImportFileError) as raised:
        import_slack(community=community, file=broken(tmp_path, name, content))
    assert message in str(raised.value)
    assert not Member.objects.exists()
    assert not Activity.objects.exists()


def test_an_invalid_email_is_a_line_of_the_report_and_writes_nothing(community, tmp_path):
    users = json.loads((DATA / "current" / "users.json").read_text())
    users[1]["profile"]["email"] = "bob at example"
    report = import_slack(
        community=community, file=broken(tmp_path, "users.json", json.dumps(users))
    )
    assert report.rolled_back
    assert [str(error) for error in report.errors] == [
        'line 2: users.json, entry 2: email "bob at example" is not a valid email address'
    ]
    assert not Member.objects.exists()
    skipped = import_slack(
        community=community,
        file=broken(tmp_path, "users.json", json.dumps(users)),
        skip_invalid=True,
    )
    assert not skipped.rolled_back
    assert not Identity.objects.filter(external_id="U02BOB").exists()
    assert Identity.objects.filter(source="slack").count() == 5
    # Bob's reply, message and two reactions given; those he gave still count as received.
    details = dict(skipped.details)
    assert details["Activities left out: their member's entry is invalid"] == 4
    assert details["Activities created: reaction_received"] == 4
    assert details["Activities created: reaction_given"] == 2


def test_a_zip_with_an_entry_outside_its_folder_is_refused(community):
    buffer = zipped(DATA / "current")
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("../../etc/cron.d/evil", "* * * * * root true\n")
    with pytest.raises(ImportFileError, match=r"holds an entry outside its folder, '\.\./\.\./etc"):
        import_slack(community=community, file=buffer)
    assert not Member.objects.exists()


# The Imports page ----------------------------------------------------------------------------


def test_the_imports_page_explains_the_slack_export(alice_client, community):
    page = alice_client.get(reverse("members:imports", args=["acme"]) + "?importer=slack")
    text = page.content.decode()
    assert "Import from Slack" in text
    assert "Workspace settings" in text  # how to export it
    assert "users.json" in text
    assert 'accept=".zip,application/zip"' in text
    assert "Text encoding" not in text


def test_an_upload_is_checked_then_imported_by_the_worker(
    alice_client, community, work, django_capture_on_commit_callbacks
):
    url = reverse("members:imports", args=["acme"]) + "?importer=slack"
    upload = SimpleUploadedFile("acme-slack.zip", zipped(DATA / "current").getvalue())
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(url, {"file": upload})
    job = ImportJob.objects.get(community=community)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    work()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.READY
    assert ["Activities created: message", 9] in job.details
    assert not Member.objects.exists()  # the check wrote nothing
    page = alice_client.get(job.get_absolute_url()).content.decode()
    assert "Activities created: reaction_given" in page
    assert "How the file is read" not in page  # no mapping for an export
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(job.get_absolute_url(), {"action": "import"})
    work()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.message
    assert job.bytes_read == job.file_size
    assert Member.objects.filter(community=community).count() == 6
    assert Activity.objects.filter(community=community).count() == 19


def test_a_hostile_upload_fails_with_the_reason(
    alice_client, community, work, django_capture_on_commit_callbacks
):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("/etc/passwd", "root:x:0:0")
    upload = SimpleUploadedFile("evil.zip", buffer.getvalue())
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            reverse("members:imports", args=["acme"]) + "?importer=slack", {"file": upload}
        )
    work()
    job = ImportJob.objects.get(community=community)
    assert job.status == ImportJob.Status.FAILED
    assert "holds an entry outside its folder, '/etc/passwd'" in job.message
    page = alice_client.get(job.get_absolute_url()).content.decode()
    assert "outside its folder" in page


# Streaming ------------------------------------------------------------------------------------


def generated_export(folder: Path, days: int) -> None:
    """An export of the fixture's people with `days` day files of 50 messages in #general."""
    shutil.copytree(DATA / "current", folder)
    people = ["U01ALICE", "U02BOB", "U03CARO", "U04DAN", "U06FRANK"]
    start = 1704103200
    for day in range(days):
        messages = []
        for n in range(50):
            ts = f"{start + day * 86400 + n * 60}.{n:06d}"
            author = people[n % len(people)]
            messages.append(
                {
                    "type": "message",
                    "user": author,
                    "text": "x" * 200,
                    "ts": ts,
                    "reactions": [{"name": "+1", "users": [people[(n + 1) % 5]], "count": 1}],
                }
            )
        (folder / "general" / f"2025-{day // 28 + 1:02d}-{day % 28 + 1:02d}.json").write_text(
            json.dumps(messages, indent=4)
        )


def peak_memory(community, folder: Path) -> int:
    return peak_of(lambda: import_slack(community=community, file=folder, dry_run=True))[0]


def test_peak_memory_stays_flat_in_the_size_of_the_export(community, tmp_path, monkeypatch):
    # Chunks of 100 activities, so that the small export fills several too: what an import
    # holds at once is one chunk, whatever the export's size.
    monkeypatch.setattr("engagement.importing.CHUNK_SIZE", 100)
    small, large = tmp_path / "small", tmp_path / "large"
    generated_export(small, days=2)
    generated_export(large, days=100)  # 50 times the messages
    small_peak = peak_memory(community, small)
    large_peak = peak_memory(community, large)
    assert large_peak < 1.5 * small_peak + 512 * 1024, (small_peak, large_peak)
