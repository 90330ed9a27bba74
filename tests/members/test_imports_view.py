"""The Imports page: managers upload a members or activities CSV, viewers read how it works."""

from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from engagement.models import Activity, MemberScore
from members.models import Identity, Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

GOOD = (
    "source,external_id,name,email,joined_at,Plan\n"
    "slack,U1,Ann Lee,ann@example.org,2024-01-01,Pro\n"
    "slack,U2,Ben Ode,ben@example.org,2024-01-02,Free\n"
)

LINE_7_INVALID = (
    "name,email,joined_at\n"
    "Ann,ann@example.org,2024-01-01\n"
    "Ben,ben@example.org,2024-01-02\n"
    "Cat,cat@example.org,2024-01-03\n"
    "Dan,dan@example.org,2024-01-04\n"
    "Eve,eve@example.org,2024-01-05\n"
    "Fay,fay@example.org,not a date\n"
    "Gus,gus@example.org,2024-01-07\n"
)


@pytest.fixture
def url(community):
    return reverse("members:imports", args=[community.slug])


def upload(client, url, content, *, skip_invalid=False, name="members.csv"):
    if isinstance(content, str):
        content = content.encode()
    data = {"file": SimpleUploadedFile(name, content, content_type="text/csv")}
    if skip_invalid:
        data["skip_invalid"] = "on"
    return client.post(url, data)


def test_manager_sees_the_form_and_the_accepted_columns(alice_client, url):
    response = alice_client.get(url)
    content = response.content.decode()

    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in content
    assert '<label for="id_file">Members CSV file</label>' in content
    assert "Skip invalid rows" in content
    for column in ["external_id", "source", "company_name", "joined_at", "last_seen_at"]:
        assert f"<dt><code>{column}</code></dt>" in content
    assert 'aria-current="page">Imports</a>' in content
    assert "Import report" not in content


def test_the_sidebar_links_to_the_imports_page(alice_client, community, url):
    content = alice_client.get(reverse("members:list", args=[community.slug])).content.decode()

    assert f'<a href="{url}" >Imports</a>' in content


def test_upload_creates_members_and_shows_the_report(alice_client, community, url):
    response = upload(alice_client, url, GOOD)
    content = response.content.decode()

    assert response.status_code == 200
    assert "Import complete." in content
    assert "<dt>Rows read</dt><dd>2</dd>" in content
    assert "<dt>Members created</dt><dd>2</dd>" in content
    assert "<dt>Members updated</dt><dd>0</dd>" in content
    ann = Member.objects.get(community=community, email="ann@example.org")
    assert (ann.name, ann.attributes) == ("Ann Lee", {"Plan": "Pro"})
    assert Identity.objects.filter(community=community, source="slack").count() == 2

    content = upload(alice_client, url, GOOD).content.decode()
    assert "<dt>Members updated</dt><dd>2</dd>" in content
    assert Member.objects.filter(community=community).count() == 2


def test_large_uploads_are_streamed_from_a_temporary_file(alice_client, community, url, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # Every upload goes to a temporary file.

    content = upload(alice_client, url, GOOD).content.decode()

    assert "<dt>Members created</dt><dd>2</dd>" in content


def test_an_invalid_row_writes_nothing_and_is_listed(alice_client, url):
    content = upload(alice_client, url, LINE_7_INVALID).content.decode()

    assert "Nothing was imported: 1 invalid row." in content
    assert (
        '<tr><td class="nowrap">7</td><td>joined_at &quot;not a date&quot; is not an ISO 8601 '
        "date or date-time</td></tr>"
    ) in content
    assert "<dt>Rows skipped</dt><dd>7</dd>" in content
    assert not Member.objects.exists()


def test_skip_invalid_rows_imports_the_rest(alice_client, community, url):
    content = upload(alice_client, url, LINE_7_INVALID, skip_invalid=True).content.decode()

    assert "1 invalid row skipped; the valid rows were imported." in content
    assert "<dt>Members created</dt><dd>6</dd>" in content
    assert Member.objects.filter(community=community).count() == 6


def test_values_from_the_file_are_escaped(alice_client, url):
    content = upload(alice_client, url, "name,email\n<b>Bo</b>,<script>x</script>\n")

    text = content.content.decode()
    assert "<script>x" not in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "The file is not UTF-8 text"),
        ("name;city\nJosé;Zürich\n".encode("cp1252"), "The file is not UTF-8 text"),
        (b"", "The submitted file is empty."),
        (b"Ann,ann@example.org\n", "The first line must be a header"),
    ],
)
def test_unreadable_files_get_a_form_error(alice_client, url, content, message):
    response = upload(alice_client, url, content)

    assert response.status_code == 200
    assert '<p class="form-error" role="alert">' + message in response.content.decode()
    assert not Member.objects.exists()


def test_post_without_a_file_asks_for_one(alice_client, url):
    response = alice_client.post(url, {})

    assert "This field is required." in response.content.decode()


def test_viewer_reads_the_page_without_the_form(victor_client, url):
    response = victor_client.get(url)
    content = response.content.decode()

    assert response.status_code == 200
    assert "<dt><code>external_id</code></dt>" in content
    assert '<form method="post" enctype' not in content
    assert "Members CSV file" not in content
    assert "read-only" in content


def test_viewer_cannot_upload(victor_client, url):
    response = upload(victor_client, url, GOOD)

    assert response.status_code == 403
    assert not Member.objects.exists()


def test_outsider_gets_404(otto_client, url):
    assert otto_client.get(url).status_code == 404
    assert upload(otto_client, url, GOOD).status_code == 404
    assert not Member.objects.exists()


def test_upload_writes_only_into_the_page_community(alice_client, community, other_community, url):
    theirs = MemberFactory(community=other_community, email="ann@example.org", name="Globex Ann")

    upload(alice_client, url, GOOD)

    theirs.refresh_from_db()
    assert theirs.name == "Globex Ann"
    assert Member.objects.filter(community=community, email="ann@example.org").exists()


def test_anonymous_goes_to_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client.post(url).status_code == 302


# Activities: registered by engagement (engagement/imports.py) --------------------------------

ACTIVITIES = (
    "source,member_external_id,kind,occurred_at,external_id,channel\n"
    "slack,U1,message,2026-05-01T10:00:00Z,m1,#general\n"
    "slack,U1,post,2026-05-02T10:00:00Z,m2,#design\n"
)
BAD_ACTIVITIES = ACTIVITIES + "slack,U1,posted,2026-05-03,m3,#general\n"


@pytest.fixture
def activities_url(url):
    return f"{url}?importer=activities"


@pytest.fixture
def ann(community):
    member = MemberFactory(community=community, name="Ann", email="ann@example.org")
    Identity.objects.create(community=community, member=member, source="slack", external_id="U1")
    return member


@pytest.fixture
def delay():
    with mock.patch("engagement.tasks.score_community_task.delay") as delay:
        yield delay


def test_the_page_offers_every_registered_importer(alice_client, url, activities_url):
    content = alice_client.get(url).content.decode()
    assert f'href="{url}?importer=members" aria-current="true">Members</a>' in content
    assert f'href="{activities_url}">Activities</a>' in content

    response = alice_client.get(activities_url)
    content = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_file">Activities CSV file</label>' in content
    assert "Members CSV file" not in content
    assert f'action="{activities_url}"' in content
    for column in ["member_external_id", "member_email", "kind", "occurred_at", "channel"]:
        assert f"<dt><code>{column}</code></dt>" in content
    assert "<dt><code>company_name</code></dt>" not in content


def test_manager_uploads_activities_and_a_rescore_is_enqueued(
    alice_client,
    community,
    ann,
    activities_url,
    delay,
    celery_calls,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(alice_client, activities_url, ACTIVITIES, name="activities.csv")
    content = response.content.decode()

    assert response.status_code == 200
    assert "Import complete." in content
    assert "<dt>Activities created</dt><dd>2</dd>" in content
    assert "<dt>Already imported</dt><dd>0</dd>" in content
    activities = Activity.objects.filter(community=community, member=ann)
    assert sorted(activities.values_list("kind__slug", "channel")) == [
        ("message", "#general"),
        ("post", "#design"),
    ]
    # Enqueued once the import committed, not run in the request: the rescore, and the
    # segments' re-evaluation of the member whose last seen moved.
    assert len(callbacks) == 2
    delay.assert_called_once_with(community.pk)
    assert celery_calls == [
        ("segments.tasks.refresh_members_task", (community.pk, [ann.pk]), {}, {})
    ]
    assert not MemberScore.objects.exists()


def test_an_invalid_activities_file_writes_nothing_and_enqueues_nothing(
    alice_client, community, ann, activities_url, delay, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(alice_client, activities_url, BAD_ACTIVITIES, name="activities.csv")
    content = response.content.decode()

    assert "Nothing was imported: 1 invalid row." in content
    assert "unknown kind &quot;posted&quot;" in content
    assert not Activity.objects.exists()
    assert callbacks == []
    delay.assert_not_called()


def test_viewer_reads_the_activities_page_but_cannot_upload(
    victor_client, community, ann, activities_url, delay
):
    content = victor_client.get(activities_url).content.decode()
    assert "Activities CSV file" not in content
    assert "read-only" in content
    assert "<dt><code>member_external_id</code></dt>" in content

    assert upload(victor_client, activities_url, ACTIVITIES).status_code == 403
    assert not Activity.objects.exists()
    delay.assert_not_called()


def test_outsider_gets_404_for_activities(otto_client, community, ann, activities_url, delay):
    assert otto_client.get(activities_url).status_code == 404
    assert upload(otto_client, activities_url, ACTIVITIES).status_code == 404
    assert not Activity.objects.exists()
    delay.assert_not_called()


def test_an_unknown_importer_is_404(alice_client, url):
    assert alice_client.get(f"{url}?importer=segments").status_code == 404
    assert upload(alice_client, f"{url}?importer=segments", GOOD).status_code == 404


@pytest.mark.postgres
def test_an_upload_runs_under_the_import_statement_limit(alice_client, url, settings):
    settings.IMPORT_STATEMENT_TIMEOUT = 95
    seen = []
    original = Member.objects.bulk_create

    def bulk_create(*args, **kwargs):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            seen.append(cursor.fetchone()[0])
        return original(*args, **kwargs)

    with mock.patch.object(Member.objects, "bulk_create", bulk_create):
        response = upload(alice_client, url, b"name,email\nAda,ada@example.org\n")
    assert response.status_code == 200
    assert seen == ["95s"]
