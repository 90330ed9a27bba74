"""The Discourse importer against an export written to Discourse's formats
(tests/data/discourse/README.md): who becomes a member with what, which posts are activity,
likes, accepted answers, the quirks of the users CSV and of topic files, idempotence, bad
exports refused whole, the command and the Imports page."""

import csv
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
from platforms.discourse import import_discourse
from tests.factories import CommunityFactory, IdentityFactory, MemberFactory
from tests.platforms.exports import peak_of, zipped

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[1] / "data" / "discourse"
EXPORT = DATA / "export"
USERS_CSV = "user-list-250321-101500.csv"


def copied(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(EXPORT, folder)
    return folder


def edit_topic(folder: Path, name: str, change) -> None:
    path = folder / name
    topic = json.loads(path.read_text())
    change(topic)
    path.write_text(json.dumps(topic))


def post_of(topic: dict, post_id: int) -> dict:
    return next(post for post in topic["post_stream"]["posts"] if post["id"] == post_id)


def member(community, user_id: str) -> Member:
    return Identity.objects.get(community=community, source="discourse", external_id=user_id).member


def activities(community) -> set[tuple[str, str, str]]:
    """(kind, external id, the member's Discourse user id) of every activity."""
    ids = dict(
        Identity.objects.filter(community=community, source="discourse").values_list(
            "member_id", "external_id"
        )
    )
    return {
        (kind, external_id, ids[member_id])
        for kind, external_id, member_id in Activity.objects.filter(
            community=community
        ).values_list("kind__slug", "external_id", "member_id")
    }


def when(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def imported(community):
    report = import_discourse(community=community, file=EXPORT)
    assert not report.errors, report.errors
    return report


# Members --------------------------------------------------------------------------------------


def test_users_become_members_the_system_accounts_do_not(community, imported):
    identities = Identity.objects.filter(community=community, source="discourse")
    assert sorted(identities.values_list("external_id", flat=True)) == list("123456")
    assert Member.objects.filter(community=community).count() == 6
    assert not Member.objects.filter(name__in=["system", "discobot"]).exists()
    assert ("Users not imported: system accounts", 2) in imported.details


def test_every_field_of_a_user_is_mapped(community, imported):
    ada = member(community, "1")
    assert (ada.name, ada.email, ada.job_title, ada.location) == (
        "Ada Quill",
        "ada@example.org",
        "Leader",
        "Austin, TX",  # written """Austin, TX""": Discourse's own quotes around a comma
    )
    assert ada.joined_at == when("2024-09-01T12:05:10+00:00")  # "2024-09-01 12:05:10 UTC"
    assert ada.last_seen_at == when("2025-03-20T18:42:07+00:00")
    assert ada.attributes == {
        "discourse_username": "ada",
        "trust_level": "4",
        "website": "https://ada.example.org",
        "discourse_staged": "false",
        "Why did you join?": "I host the forum.",
        "discourse_groups": "admins;staff;trust_level_0;trust_level_1;trust_level_2;"
        "trust_level_3;trust_level_4",
    }
    assert ada.bio == "" and ada.company_name == ""  # ip_address, admin, stats: not imported


def test_quoted_cells_with_commas_and_line_breaks_read_as_written(community, imported):
    jordan = member(community, "2")
    assert (jordan.name, jordan.email, jordan.job_title) == (
        "Smith, Jordan",
        "Jordan.Smith@Example.com",
        "",
    )
    noor = member(community, "5")
    assert noor.location == "Lyon, Auvergne-Rhône-Alpes, France"
    assert (
        noor.attributes["Why did you join?"] == "I run a small bakery.\nI want tips, and friends."
    )


def test_a_staged_user_is_a_member_marked_staged_named_by_username(community, imported):
    casey = member(community, "3")
    assert casey.name == "casey_mail"  # no name: the username
    assert casey.attributes["discourse_staged"] == "true"
    assert casey.last_seen_at == when("2025-03-02T11:00:00+00:00")  # from the reply by email


def test_a_suspended_user_is_a_member_with_the_end_of_the_suspension(community, imported):
    riley = member(community, "4")
    assert riley.name == "Riley Marsh"
    # Suspended "forever" is a thousand years in Discourse.
    assert riley.attributes["discourse_suspended_till"] == "3025-02-01T08:00:00+00:00"
    assert Activity.objects.filter(member=riley).count() == 3  # their posts count


def test_a_user_already_in_the_table_by_email_gets_the_discourse_identity(community):
    existing = MemberFactory(
        community=community, name="Jordan S.", email="jordan.smith@example.com"
    )
    IdentityFactory(member=existing, source="csv", external_id="row-7")

    report = import_discourse(community=community, file=EXPORT)

    assert not report.errors
    assert member(community, "2") == existing
    assert sorted(existing.identities.values_list("source", flat=True)) == ["csv", "discourse"]
    assert Member.objects.filter(community=community).count() == 6
    assert Activity.objects.filter(member=existing, kind__slug="answer_accepted").count() == 1


# Activities -----------------------------------------------------------------------------------


def test_posts_replies_accepted_answers_and_likes(community, imported):
    found = activities(community)
    by_kind: dict[str, int] = {}
    for kind, _external_id, _user in found:
        by_kind[kind] = by_kind.get(kind, 0) + 1
    assert by_kind == {
        "post": 2,
        "reply": 21,
        "answer_accepted": 1,
        "reaction_given": 5,
        "reaction_received": 5,
    }
    assert {row for row in found if row[0] != "reply"} == {
        ("post", "post-1001", "5"),
        ("post", "post-2001", "6"),
        ("answer_accepted", "accepted-1002", "2"),
        # post_action_users on 1001 (ada, samlee) and 1002 (noor, samlee, ada)
        ("reaction_given", "like-1001-1", "1"),
        ("reaction_given", "like-1001-6", "6"),
        ("reaction_given", "like-1002-5", "5"),
        ("reaction_given", "like-1002-6", "6"),
        ("reaction_given", "like-1002-1", "1"),
        ("reaction_received", "liked-1001-1", "5"),
        ("reaction_received", "liked-1001-6", "5"),
        ("reaction_received", "liked-1002-5", "2"),
        ("reaction_received", "liked-1002-6", "2"),
        ("reaction_received", "liked-1002-1", "2"),
    }
    assert ("reply", "post-3002", "3") in found  # the staged user's reply by email
    replies = {external_id for kind, external_id, _ in found if kind == "reply"}
    assert replies == {
        "post-1002",
        "post-1003",
        *(f"post-{2000 + n}" for n in range(2, 21) if n != 9),  # 2009 is deleted
        "post-3002",
    }


def test_activities_carry_category_title_and_the_posts_time(community, imported):
    answer = Activity.objects.get(community=community, external_id="post-1002")
    assert (answer.kind.slug, answer.source, answer.channel, answer.title, answer.url) == (
        "reply",
        "discourse",
        "Sourdough",  # a subcategory, from categories.json's subcategory_list
        "How do I proof sourdough overnight?",
        "",  # post_url is relative ("/t/how-do-i-…/101/2")
    )
    assert answer.occurred_at == when("2025-03-01T09:40:12+00:00")
    accepted = Activity.objects.get(community=community, external_id="accepted-1002")
    assert (accepted.occurred_at, accepted.channel) == (answer.occurred_at, "Sourdough")
    like = Activity.objects.get(community=community, external_id="like-1001-1")
    assert like.occurred_at == when("2025-03-01T07:05:00+00:00")  # likes have no time: the post's
    show = Activity.objects.get(community=community, external_id="post-2001")
    assert (show.channel, show.title) == ("Show & Tell", "Show us your loaves")
    welcome = Activity.objects.get(community=community, external_id="post-3002")
    assert welcome.channel == "category 12"  # not in categories.json


def test_the_report_counts_what_is_no_activity(imported):
    details = dict(imported.details)
    assert details["Members created"] == 6
    assert details["Activities created: reply"] == 21
    assert details["Not member activity: posts by users missing from the users CSV"] == 1
    assert details["Not member activity: whispers (seen by staff only)"] == 1
    assert details["Not member activity: small actions (closed, pinned, moved ...)"] == 1
    assert details["Not member activity: deleted posts"] == 1
    assert details["Not member activity: posts by the system accounts"] == 1
    assert details["Not member activity: private messages"] == 2
    # t/102.json holds the first 20 of the 23 posts of its stream.
    assert details["Posts in a topic's stream missing from the files"] == 3
    # actions_summary counts without post_action_users: 1003's one, 102's 17, 3002's one.
    assert details["Likes without users, not imported"] == 19
    assert details["JSON files that are not topics"] == 1  # about.json


def test_the_accepted_answer_is_read_from_the_topic_alone_or_the_post_alone(community, tmp_path):
    topic_only, post_only = copied(tmp_path / "a"), copied(tmp_path / "b")

    def drop_post_flag(topic):
        post_of(topic, 1002)["accepted_answer"] = False

    edit_topic(topic_only, "t/101.json", drop_post_flag)
    edit_topic(post_only, "t/101.json", lambda topic: topic.pop("accepted_answer"))
    other = CommunityFactory(slug="other")

    import_discourse(community=community, file=topic_only)
    import_discourse(community=other, file=post_only)

    for place in (community, other):
        assert {row for row in activities(place) if row[0] == "answer_accepted"} == {
            ("answer_accepted", "accepted-1002", "2")
        }


def test_posts_find_their_author_by_username_without_a_user_id(community, tmp_path):
    folder = copied(tmp_path)

    def anonymous_ids(topic):
        post_of(topic, 1003).pop("user_id")  # samlee, by username only
        post_of(topic, 1001)["post_action_users"][1].pop("id")  # samlee's like
        post_of(topic, 1002)["user_id"] = 88  # an id the CSV does not have, a known username

    edit_topic(folder, "t/101.json", anonymous_ids)
    report = import_discourse(community=community, file=folder)

    found = activities(community)
    assert ("reply", "post-1003", "6") in found
    assert ("reaction_given", "like-1001-6", "6") in found
    assert not any(external_id.endswith("1002") for _, external_id, _ in found)
    assert (
        dict(report.details)["Not member activity: posts by users missing from the users CSV"] == 2
    )


def test_self_likes_and_likes_by_unknown_users_are_not_activity(community, tmp_path):
    folder = copied(tmp_path)

    def likers(topic):
        users = post_of(topic, 1001)["post_action_users"]
        users.append({"id": 5, "username": "noor"})  # the author
        users.append({"id": 77, "username": "wren_old"})  # not in the CSV
        users.append({"id": -1, "username": "system"})

    edit_topic(folder, "t/101.json", likers)
    report = import_discourse(community=community, file=folder)

    details = dict(report.details)
    assert details["Activities created: reaction_given"] == 5
    assert details["Not member activity: self-likes and repeated likes"] == 1
    assert details["Not member activity: likes by users missing from the users CSV"] == 2


def test_a_post_in_two_files_counts_once(community, tmp_path):
    folder = copied(tmp_path)
    shutil.copy(folder / "t" / "101.json", folder / "t" / "101-page-1.json")

    report = import_discourse(community=community, file=folder)

    assert not report.errors
    assert dict(report.details)["Not member activity: posts repeated in another file"] == 6
    assert Activity.objects.filter(community=community).count() == 34


def test_the_missing_posts_of_a_stream_are_found_in_another_file(community, tmp_path):
    folder = copied(tmp_path)
    source = json.loads((folder / "t" / "102.json").read_text())
    rest = []
    for number in (21, 22, 23):
        post = dict(post_of(source, 2020), id=2000 + number, post_number=number)
        rest.append(post)
    # What /t/102/posts.json?post_ids[]=2021&… gives: a post_stream of those posts.
    (folder / "t" / "102-posts.json").write_text(
        json.dumps({"post_stream": {"posts": rest}, "id": 102})
    )

    report = import_discourse(community=community, file=folder)

    assert dict(report.details)["Posts in a topic's stream missing from the files"] == 0
    assert Activity.objects.filter(external_id="post-2023", kind__slug="reply").exists()


def test_the_same_export_again_changes_nothing(community, imported):
    def rows():
        return (
            list(Member.objects.filter(community=community).order_by("pk").values()),
            list(Identity.objects.filter(community=community).order_by("pk").values()),
            list(Activity.objects.filter(community=community).order_by("pk").values()),
        )

    before = rows()
    again = import_discourse(community=community, file=EXPORT)

    assert (again.created, again.updated, again.errors) == (0, 0, [])
    assert again.unchanged == 6 + 34
    assert dict(again.details)["Activities already imported"] == 34
    assert rows() == before


# Layouts --------------------------------------------------------------------------------------


def test_a_zip_of_the_folder_reads_as_the_folder(community, tmp_path):
    report = import_discourse(community=community, file=zipped(EXPORT, top="crumb-club/"))

    assert not report.errors
    assert dict(report.details)["Activities created: reply"] == 21
    assert Member.objects.filter(community=community).count() == 6


def test_the_user_list_zip_as_discourse_sends_it_is_read(community):
    user_list = io.BytesIO()
    with zipfile.ZipFile(user_list, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(EXPORT / USERS_CSV, USERS_CSV)
    export = zipped(EXPORT, skip=(USERS_CSV,))
    with zipfile.ZipFile(export, "a") as archive:
        archive.writestr("user-list-250321-101500-7.zip", user_list.getvalue())

    report = import_discourse(community=community, file=export)

    assert not report.errors
    assert member(community, "2").name == "Smith, Jordan"
    assert Activity.objects.filter(community=community).count() == 34


def test_the_users_csv_alone_imports_the_members(community):
    with (EXPORT / USERS_CSV).open("rb") as file:
        report = import_discourse(community=community, file=file)

    assert not report.errors
    assert Member.objects.filter(community=community).count() == 6
    assert not Activity.objects.exists()


def test_an_uploaded_file_that_is_no_user_list_is_refused(community):
    topic = (EXPORT / "t" / "101.json").read_bytes()
    with pytest.raises(ImportFileError) as raised:
        import_discourse(community=community, file=io.BytesIO(topic))
    assert str(raised.value) == (
        "the upload is a JSON file, not the users CSV: upload a zip of the users CSV and the "
        "topic files."
    )
    assert_nothing_written()


# Bad exports ----------------------------------------------------------------------------------


def assert_nothing_written():
    assert not Member.objects.exists()
    assert not Identity.objects.exists()
    assert not Activity.objects.exists()


def test_a_topic_file_that_is_not_json_names_the_file_and_post(community, tmp_path):
    folder = copied(tmp_path)
    path = folder / "t" / "102.json"
    text = path.read_text()
    path.write_text(text[: text.index('"id":2006,')] + '"id":2006,"created_at":')

    with pytest.raises(ImportFileError) as raised:
        import_discourse(community=community, file=folder)

    assert str(raised.value).startswith("t/102.json in export is not valid JSON after post 2005")
    assert_nothing_written()


def test_a_post_without_a_time_names_the_file_and_post(community, tmp_path):
    folder = copied(tmp_path)
    edit_topic(folder, "t/101.json", lambda topic: post_of(topic, 1003).update(created_at="soon"))

    with pytest.raises(ImportFileError, match=r"t/101\.json in export, post 1003: created_at"):
        import_discourse(community=community, file=folder)
    assert_nothing_written()


def test_a_post_stream_that_is_no_list_is_refused(community, tmp_path):
    folder = copied(tmp_path)
    edit_topic(folder, "t/103.json", lambda topic: topic["post_stream"].update(posts={"1": 2}))

    with pytest.raises(ImportFileError, match=r"t/103\.json in export: post_stream\.posts is"):
        import_discourse(community=community, file=folder)
    assert_nothing_written()


def test_a_users_csv_row_without_a_user_id_names_its_line(community, tmp_path):
    folder = copied(tmp_path)
    path = folder / USERS_CSV
    text = path.read_bytes().decode("utf-8-sig")
    path.write_text(text.replace("\n6,Sam Lee,", "\nsix,Sam Lee,"))

    with pytest.raises(ImportFileError) as raised:
        import_discourse(community=community, file=folder)

    # Line 10: Noor's custom field spans two lines.
    assert str(raised.value) == (
        f'{USERS_CSV} in export: line 10: id "six" is not a Discourse user id.'
    )
    assert_nothing_written()


def test_a_csv_that_is_not_the_user_list_is_refused(community, tmp_path):
    folder = copied(tmp_path)
    (folder / USERS_CSV).write_text("email,name\nann@example.org,Ann\n")

    with pytest.raises(ImportFileError, match="the header has no id or username column"):
        import_discourse(community=community, file=folder)
    assert_nothing_written()


def test_an_export_without_the_users_csv_is_refused(community):
    with pytest.raises(ImportFileError, match="has no users CSV"):
        import_discourse(community=community, file=zipped(EXPORT, skip=(USERS_CSV,)))
    assert_nothing_written()


def test_an_invalid_email_is_a_line_of_the_report_and_writes_nothing(community, tmp_path):
    folder = copied(tmp_path)
    path = folder / USERS_CSV
    text = path.read_bytes().decode("utf-8-sig")
    path.write_text(text.replace("sam.lee@example.org", "sam.lee(at)example"))

    report = import_discourse(community=community, file=folder)

    assert report.rolled_back
    assert [(error.line, USERS_CSV in error.message) for error in report.errors] == [(10, True)]
    assert "email" in report.errors[0].message
    assert_nothing_written()


def test_a_zip_with_an_entry_outside_its_folder_is_refused(community):
    buffer = zipped(EXPORT)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("../t/999.json", "{}")

    with pytest.raises(ImportFileError, match=r"holds an entry outside its folder, '\.\./t/999"):
        import_discourse(community=community, file=buffer)
    assert_nothing_written()


def test_a_nested_user_list_zip_is_checked_too(community):
    user_list = io.BytesIO()
    with zipfile.ZipFile(user_list, "w") as archive:
        archive.writestr("../../user-list.csv", "id,username\n1,ada\n")
    export = zipped(EXPORT, skip=(USERS_CSV,))
    with zipfile.ZipFile(export, "a") as archive:
        archive.writestr("user-list-250321-101500-7.zip", user_list.getvalue())

    with pytest.raises(ImportFileError, match=r"user-list-250321-101500-7\.zip holds an entry"):
        import_discourse(community=community, file=export)
    assert_nothing_written()


# The command and the Imports page -------------------------------------------------------------


def test_the_command_imports_and_scores(community):
    out = io.StringIO()
    call_command("import_discourse", "acme", str(EXPORT), stdout=out)

    text = out.getvalue()
    assert "Activities created: answer_accepted: 1" in text
    assert "Likes without users, not imported: 19" in text
    assert "Scored 6 members" in text
    assert MemberScore.objects.filter(member__community=community).count() == 6


def test_the_command_reads_a_zip_and_skips_scoring_when_asked(community, tmp_path):
    path = tmp_path / "crumb-club.zip"
    path.write_bytes(zipped(EXPORT).getvalue())
    out = io.StringIO()
    call_command("import_discourse", "acme", str(path), "--no-score", stdout=out)

    assert "Activities created: reply: 21" in out.getvalue()
    assert "Scored" not in out.getvalue()
    assert not MemberScore.objects.exists()


def test_the_command_explains_a_bad_export(community, tmp_path):
    (tmp_path / "t.json").write_text('{"post_stream": {"posts": []}}')
    with pytest.raises(CommandError, match="has no users CSV"):
        call_command("import_discourse", "acme", str(tmp_path), stdout=io.StringIO())
    assert_nothing_written()


def test_the_imports_page_explains_the_discourse_export(alice_client, community):
    page = alice_client.get(reverse("members:imports", args=["acme"]) + "?importer=discourse")
    text = page.content.decode()
    assert "Import from Discourse" in text
    assert "Admin, Users and choose Export" in text  # how to export it
    assert "/t/&lt;id&gt;.json?print=true" in text
    assert "post_action_users" in text
    assert 'accept=".zip,application/zip,.csv,text/csv"' in text


def test_an_upload_is_checked_then_imported_by_the_worker(
    alice_client, community, work, django_capture_on_commit_callbacks, celery_calls
):
    url = reverse("members:imports", args=["acme"]) + "?importer=discourse"
    upload = SimpleUploadedFile("crumb-club.zip", zipped(EXPORT).getvalue())
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(url, {"file": upload})
    job = ImportJob.objects.get(community=community)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    work()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.READY, job.message
    assert ["Activities created: reply", 21] in job.details
    assert ["Posts in a topic's stream missing from the files", 3] in job.details
    assert not Member.objects.exists()  # the check wrote nothing
    page = alice_client.get(job.get_absolute_url()).content.decode()
    assert "Likes without users, not imported" in page

    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(job.get_absolute_url(), {"action": "import"})
    work()

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.message
    assert (job.created, job.bytes_read) == (6 + 34, job.file_size)
    assert Member.objects.filter(community=community).count() == 6
    assert Activity.objects.filter(community=community).count() == 34
    assert "engagement.tasks.score_community_task" in [call[0] for call in celery_calls]


def test_an_upload_of_the_users_csv_alone_imports_the_members(
    alice_client, community, work, django_capture_on_commit_callbacks
):
    url = reverse("members:imports", args=["acme"]) + "?importer=discourse"
    upload = SimpleUploadedFile("user-list-250321-101500.csv", (EXPORT / USERS_CSV).read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(url, {"file": upload})
    work()
    job = ImportJob.objects.get(community=community)
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(job.get_absolute_url(), {"action": "import"})
    work()

    job.refresh_from_db()
    assert (job.status, job.created) == (ImportJob.Status.DONE, 6)
    assert member(community, "2").name == "Smith, Jordan"


def test_a_malformed_upload_fails_naming_the_file_inside_it(
    alice_client, community, work, django_capture_on_commit_callbacks, tmp_path
):
    folder = copied(tmp_path)
    edit_topic(folder, "t/103.json", lambda topic: post_of(topic, 3002).pop("id"))
    upload = SimpleUploadedFile("crumb-club.zip", zipped(folder).getvalue())
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            reverse("members:imports", args=["acme"]) + "?importer=discourse", {"file": upload}
        )
    work()

    job = ImportJob.objects.get(community=community)
    assert job.status == ImportJob.Status.FAILED
    assert job.message == (
        "t/103.json in crumb-club.zip, post 2 of post_stream.posts: it has no id."
    )
    assert_nothing_written()


# Streaming ------------------------------------------------------------------------------------


def generated_export(folder: Path, copies: int) -> None:
    """The fixture's users and topics `copies` times over, each copy with ids of its own."""
    folder.mkdir()
    (folder / "t").mkdir()
    with (EXPORT / USERS_CSV).open(encoding="utf-8-sig", newline="") as file:
        header, *users = list(csv.reader(file))
    with (folder / USERS_CSV).open("w", encoding="utf-8-sig", newline="") as file:
        out = csv.writer(file, lineterminator="\n")
        out.writerow(header)
        out.writerows(user for user in users if int(user[0]) <= 0)
        for copy in range(copies):
            for user in users:
                if int(user[0]) > 0:
                    email = f"c{copy}.{user[3]}" if user[3] else ""
                    out.writerow([str(int(user[0]) + copy * 1000), user[1], f"{user[2]}{copy}",
                                  email, *user[4:]])  # fmt: skip
    shutil.copy(EXPORT / "categories.json", folder / "categories.json")

    def user(user_id, copy):
        return user_id + copy * 1000 if isinstance(user_id, int) and user_id > 0 else user_id

    for path in sorted((EXPORT / "t").glob("*.json")):
        source = json.loads(path.read_text())
        for copy in range(copies):
            topic = json.loads(json.dumps(source))
            topic["id"] += copy * 1000
            stream = topic["post_stream"]
            # Post ids as a forum has them: one serial (the fixture's are under 5,000).
            stream["stream"] = [post_id + copy * 5_000 for post_id in stream["stream"]]
            for post in stream["posts"]:
                post["id"] += copy * 5_000
                post["user_id"] = user(post["user_id"], copy)
                post["username"] = f"{post['username']}{copy}"
                for liker in post.get("post_action_users", []):
                    liker["id"] = user(liker["id"], copy)
            (folder / "t" / f"{topic['id']}.json").write_text(json.dumps(topic))


def peak_memory(community, folder: Path) -> int:
    return peak_of(lambda: import_discourse(community=community, file=folder, dry_run=True))[0]


def test_peak_memory_stays_flat_in_the_size_of_the_export(community, tmp_path, monkeypatch):
    # Chunks of 20 activities, so that the small export fills several too: what an import
    # holds at once is one chunk, whatever the export's size.
    monkeypatch.setattr("engagement.importing.CHUNK_SIZE", 20)
    small, large = tmp_path / "small", tmp_path / "large"
    generated_export(small, copies=1)
    generated_export(large, copies=50)
    peak_memory(community, small)  # once, for what the first import allocates for good
    small_peak = peak_memory(community, small)
    large_peak = peak_memory(community, large)
    # The constant is what the database layer keeps for good whatever the size (its statement
    # cache); a reader that held only each post's id, author and time would pass it.
    assert large_peak < 1.5 * small_peak + 768 * 1024, (small_peak, large_peak)
