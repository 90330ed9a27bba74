"""The Imports page and its jobs: an upload becomes a job that a worker checks, the manager
confirms its mapping, the worker imports; viewers read, outsiders get 404.

The worker is played by calling the task's body (members.jobs.job_run) for every task the
request enqueued once its transaction committed.
"""

import io
import re
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from engagement.models import Activity, HealthSnapshot, MemberScore
from members import jobs
from members.models import Identity, ImportJob, Member
from segments.models import Segment
from segments.refresh import refresh_segment
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


def upload(client, url, content, *, name="members.csv", encoding="utf-8", capture):
    if isinstance(content, str):
        content = content.encode()
    data = {"file": SimpleUploadedFile(name, content, content_type="text/csv")}
    data["encoding"] = encoding
    with capture(execute=True):
        return client.post(url, data)


def post_job(client, job, capture, *, action, skip_invalid=False, **choices):
    """Post the job page's form: its mapping as shown unless `map_N` is given."""
    page = client.get(job.get_absolute_url())
    form = page.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data.update({"action": action, **choices})
    if skip_invalid:
        data["skip_invalid"] = "on"
    else:
        data.pop("skip_invalid", None)
    with capture(execute=True):
        return client.post(job.get_absolute_url(), data)


@pytest.fixture
def imported(alice_client, url, work, django_capture_on_commit_callbacks):
    """Upload, check, confirm and import `content`: the finished job."""

    def run(content, *, name="members.csv", importer_url=None, skip_invalid=False, **choices):
        response = upload(
            alice_client,
            importer_url or url,
            content,
            name=name,
            capture=django_capture_on_commit_callbacks,
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        job = ImportJob.objects.latest("pk")
        work()
        job.refresh_from_db()
        assert job.status == ImportJob.Status.READY, job.message
        if skip_invalid or choices:
            post_job(
                alice_client,
                job,
                django_capture_on_commit_callbacks,
                action="check",
                skip_invalid=skip_invalid,
                **choices,
            )
            work()
        post_job(
            alice_client,
            job,
            django_capture_on_commit_callbacks,
            action="import",
            skip_invalid=skip_invalid,
            **choices,
        )
        work()
        job.refresh_from_db()
        return job

    return run


def test_manager_sees_the_form_and_the_accepted_columns(alice_client, url):
    response = alice_client.get(url)
    content = response.content.decode()

    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in content
    assert '<label for="id_file">Members file (CSV or XLSX)</label>' in content
    assert "Windows-1252" in content
    for column in ["external_id", "source", "company_name", "joined_at", "last_seen_at"]:
        assert f"<dt><code>{column}</code></dt>" in content
    assert 'aria-current="page">Imports</a>' in content
    assert "No imports yet." in content


def test_the_sidebar_links_to_the_imports_page(alice_client, community, url):
    content = alice_client.get(reverse("members:list", args=[community.slug])).content.decode()

    assert f'<a href="{url}" >Imports</a>' in content


def test_an_upload_answers_at_once_and_writes_nothing_until_confirmed(
    alice_client, community, url, work, celery_calls, django_capture_on_commit_callbacks
):
    response = upload(alice_client, url, GOOD, capture=django_capture_on_commit_callbacks)

    job = ImportJob.objects.get(community=community)
    assert response.status_code == 302
    assert response["Location"] == job.get_absolute_url()
    assert (job.status, job.file_name, job.file_size, job.uploaded_by.username) == (
        "queued",
        "members.csv",
        len(GOOD),
        "alice",
    )
    with job.file.open("rb") as stored:
        assert stored.read() == GOOD.encode()  # kept with the storage API
    assert celery_calls == [("members.tasks.run_import_job", (job.pk,), {}, {})]
    page = alice_client.get(job.get_absolute_url()).content.decode()
    assert "Waiting for a worker" in page
    assert 'hx-trigger="every 1s"' in page

    work()  # the check: every row read and counted, nothing written

    job.refresh_from_db()
    assert job.status == "ready"
    assert (job.rows_read, job.created, job.updated, job.invalid) == (2, 2, 0, 0)
    assert not Member.objects.exists()
    page = alice_client.get(job.get_absolute_url()).content.decode()
    assert "Import 2 rows" in page
    assert "The first 2 rows as they will be stored" in page
    assert "<td>Ann Lee</td>" in page
    assert "<td>2024-01-01T00:00:00Z</td>" in page
    assert '<option value="attribute" selected>Keep as an extra attribute</option>' in page

    post_job(alice_client, job, django_capture_on_commit_callbacks, action="import")
    work()

    job.refresh_from_db()
    assert (job.status, job.created, job.updated, job.unchanged) == ("done", 2, 0, 0)
    ann = Member.objects.get(community=community, email="ann@example.org")
    assert (ann.name, ann.attributes) == ("Ann Lee", {"Plan": "Pro"})
    assert Identity.objects.filter(community=community, source="slack").count() == 2
    history = alice_client.get(url).content.decode()
    assert "members.csv" in history
    assert "created 2, updated 0, unchanged 0" in history


def test_the_same_file_again_is_unchanged(imported, community):
    imported(GOOD)
    again = imported(GOOD)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert Member.objects.filter(community=community).count() == 2


def test_the_poll_answers_the_progress_while_running_then_refreshes(alice_client, community):
    job = ImportJob.objects.create(
        community=community,
        importer="members",
        file_name="big.csv",
        file_size=1000,
        status="importing",
        bytes_read=450,
        rows_read=2_000,
        rows_total=4_400,
    )
    headers = {"HX-Request": "true", "HX-Target": "import-job-status"}

    response = alice_client.get(job.get_absolute_url(), headers=headers)
    content = response.content.decode()

    assert "<html" not in content
    assert '<progress id="job-progress" max="100" value="45">45%</progress>' in content
    assert "45% · 2,000 rows read of 4,400" in content
    assert "HX-Request" in response["Vary"]

    ImportJob.objects.filter(pk=job.pk).update(status="done")
    response = alice_client.get(job.get_absolute_url(), headers=headers)
    assert response["HX-Refresh"] == "true"


def test_changing_the_mapping_checks_again_and_imports_with_it(imported, community):
    text = "Full Name,E-mail,Organization,Joined,Shoe\nAnn Lee,ann@example.org,Acme,01/12/2025,42\n"
    # Suggested: name, email, company_name, joined_at, an attribute; dates need a format.
    job = imported(text, map_4="ignore", date_format="day_first")

    assert job.status == "done", job.message
    ann = Member.objects.get(community=community)
    assert (ann.name, ann.email, ann.company_name) == ("Ann Lee", "ann@example.org", "Acme")
    assert ann.joined_at.isoformat() == "2025-12-01T00:00:00+00:00"
    assert ann.attributes == {}  # the ignored column


def test_an_ambiguous_date_is_refused_until_its_format_is_declared(
    alice_client, url, work, django_capture_on_commit_callbacks
):
    upload(
        alice_client,
        url,
        "name,joined_at\nAnn,01/12/2025\n",
        capture=django_capture_on_commit_callbacks,
    )
    work()
    job = ImportJob.objects.get()

    assert (job.status, job.invalid) == ("ready", 1)
    assert job.problems == [
        [
            2,
            "invalid",
            'joined_at "01/12/2025" is not ISO 8601: choose day first or month '
            "first for this file's dates",
        ]
    ]
    page = alice_client.get(job.get_absolute_url()).content.decode()
    assert "as things stand nothing would be imported" in page


def test_an_invalid_row_writes_nothing_and_is_listed(imported, alice_client):
    job = imported(LINE_7_INVALID)  # "Import" is not offered; a forged one is refused

    assert (job.status, job.confirmed, job.invalid, job.created) == ("ready", False, 1, 6)
    page = alice_client.get(job.get_absolute_url()).content.decode()
    assert "1 invalid row: as things stand nothing would be imported." in page
    assert 'value="import"' not in page
    assert (
        '<tr><td class="nowrap">7</td><td>Invalid</td><td>joined_at &quot;not a date&quot; is '
        "not an ISO 8601 date or date-time</td></tr>"
    ) in page
    assert not Member.objects.exists()


def test_an_import_with_invalid_rows_fails_and_writes_nothing(community):
    job = ImportJob.objects.create(
        community=community,
        importer="members",
        file_name="bad.csv",
        confirmed=True,
        status="importing",
    )

    report = jobs.job_execute(job, io.BytesIO(LINE_7_INVALID.encode()))

    job.refresh_from_db()
    assert report.rolled_back
    assert (job.status, job.invalid, job.skipped, job.created, job.rolled_back) == (
        "failed",
        1,
        6,
        0,
        True,
    )
    assert job.message.startswith("Nothing was imported: 1 invalid row.")
    assert not Member.objects.exists()


def test_skip_invalid_rows_imports_the_rest(imported, community):
    job = imported(LINE_7_INVALID, skip_invalid=True)

    assert (job.status, job.created, job.invalid) == ("done", 6, 1)
    assert Member.objects.filter(community=community).count() == 6


def test_the_report_downloads_as_csv(imported, alice_client):
    job = imported(LINE_7_INVALID, skip_invalid=True)

    response = alice_client.get(reverse("members:import_job_report", args=["acme", job.pk]))

    assert response["Content-Type"] == "text/csv"
    assert b"".join(response.streaming_content).decode().splitlines() == [
        "line,problem,message",
        '7,invalid,"joined_at ""not a date"" is not an ISO 8601 date or date-time"',
    ]


def test_a_long_report_is_kept_in_storage(imported, alice_client, settings):
    rows = "".join(f"Member {n},bad-{n}\n" for n in range(ImportJob.REPORT_ROWS_SHOWN + 5))
    job = imported(f"name,email\n{rows}", skip_invalid=True)

    assert job.invalid == ImportJob.REPORT_ROWS_SHOWN + 5
    assert len(job.problems) == ImportJob.REPORT_ROWS_SHOWN
    assert job.report.name.endswith("-report.csv")
    response = alice_client.get(reverse("members:import_job_report", args=["acme", job.pk]))
    lines = b"".join(response.streaming_content).decode().splitlines()
    last = ImportJob.REPORT_ROWS_SHOWN + 4  # the last row's number; it is on line +6
    assert len(lines) == last + 2
    assert lines[-1] == f'{last + 2},invalid,"email ""bad-{last}"" is not a valid email address"'


def test_values_from_the_file_are_escaped(imported, alice_client):
    job = imported("name,email\n<b>Bo</b>,<script>x</script>\n", skip_invalid=True)

    text = alice_client.get(job.get_absolute_url()).content.decode()
    assert "<script>x" not in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "The file is not UTF-8 text"),
        ("name,city\nJosé,Zürich\n".encode("cp1252"), "The file is not UTF-8 text"),
        (b"", "The submitted file is empty."),
        (b"Ann,ann@example.org\n", "The first line must be a header"),
    ],
)
def test_unreadable_files_get_a_form_error(
    alice_client, url, content, message, django_capture_on_commit_callbacks
):
    response = upload(alice_client, url, content, capture=django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert '<p class="form-error" role="alert">' + message in response.content.decode()
    assert not ImportJob.objects.exists()
    assert not Member.objects.exists()


def test_a_file_over_the_size_limit_is_refused(
    alice_client, url, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_MAX_FILE_BYTES = 100

    response = upload(alice_client, url, GOOD * 2, capture=django_capture_on_commit_callbacks)

    assert "an import may be at most 0 MB" in response.content.decode() or (
        "The file is 0.0 MB" in response.content.decode()
    )
    assert not ImportJob.objects.exists()


def test_a_body_past_the_limit_is_refused_unread(alice_client, url, settings):
    settings.IMPORT_MAX_FILE_BYTES = 0

    response = alice_client.post(
        url, {"file": SimpleUploadedFile("big.csv", b"x" * 70_000), "encoding": "utf-8"}
    )

    assert response.status_code == 200
    assert "the most an import may be" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_post_without_a_file_asks_for_one(alice_client, url):
    response = alice_client.post(url, {"encoding": "utf-8"})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


def test_cancel_drops_the_job_and_its_file(
    alice_client, url, work, django_capture_on_commit_callbacks
):
    upload(alice_client, url, GOOD, capture=django_capture_on_commit_callbacks)
    work()
    job = ImportJob.objects.get()
    stored = job.file.name

    response = post_job(alice_client, job, django_capture_on_commit_callbacks, action="cancel")

    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.file.name) == ("cancelled", "")
    assert not job.file.storage.exists(stored)
    assert not Member.objects.exists()


def test_a_job_delivered_twice_runs_once(
    alice_client, url, celery_calls, work, django_capture_on_commit_callbacks
):
    upload(alice_client, url, GOOD, capture=django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()
    work()
    jobs.job_run(job.pk)  # delivered again after it ran: nothing to claim

    job.refresh_from_db()
    assert (job.status, job.rows_read) == ("ready", 2)


def test_viewer_reads_the_page_without_the_form(victor_client, url, community):
    job = ImportJob.objects.create(community=community, importer="members", file_name="a.csv")
    response = victor_client.get(url)
    content = response.content.decode()

    assert response.status_code == 200
    assert "<dt><code>external_id</code></dt>" in content
    assert '<form method="post" enctype' not in content
    assert "read-only" in content
    assert victor_client.get(job.get_absolute_url()).status_code == 200


def test_viewer_cannot_upload_or_confirm(victor_client, url, community):
    job = ImportJob.objects.create(
        community=community, importer="members", file_name="a.csv", status="ready"
    )
    response = victor_client.post(url, {"file": SimpleUploadedFile("m.csv", GOOD.encode())})

    assert response.status_code == 403
    assert victor_client.post(job.get_absolute_url(), {"action": "import"}).status_code == 403
    assert not Member.objects.exists()


def test_outsider_gets_404(otto_client, url, community):
    job = ImportJob.objects.create(community=community, importer="members", file_name="a.csv")

    assert otto_client.get(url).status_code == 404
    assert otto_client.get(job.get_absolute_url()).status_code == 404
    assert otto_client.post(job.get_absolute_url(), {"action": "cancel"}).status_code == 404
    report = reverse("members:import_job_report", args=["acme", job.pk])
    assert otto_client.get(report).status_code == 404


def test_another_communitys_job_is_404_on_this_community(alice_client, other_community):
    theirs = ImportJob.objects.create(
        community=other_community, importer="members", file_name="theirs.csv"
    )

    response = alice_client.get(reverse("members:import_job", args=["acme", theirs.pk]))

    assert response.status_code == 404


def test_upload_writes_only_into_the_page_community(imported, community, other_community):
    theirs = MemberFactory(community=other_community, email="ann@example.org", name="Globex Ann")

    imported(GOOD)

    theirs.refresh_from_db()
    assert theirs.name == "Globex Ann"
    assert Member.objects.filter(community=community, email="ann@example.org").exists()


def test_new_members_count_in_community_health_when_the_job_is_done(imported, community):
    imported(GOOD)

    snapshot = HealthSnapshot.objects.get(community=community)
    assert (snapshot.members, snapshot.inactive, snapshot.active) == (2, 2, 0)
    assert snapshot.distribution["engagement"] == [2, 0, 0, 0, 0, 0]


def test_when_the_job_is_done_the_inactive_pill_equals_the_engagement_page(
    imported, alice_client, community
):
    inactive = Segment.objects.create(
        community=community,
        name="Inactive",
        kind="smart",
        pinned=True,
        rule={
            "all": [
                {"field": name, "op": "lt", "value": 1}
                for name in ("frequency_score", "recency_score", "impact_score")
            ]
        },
    )
    active = MemberFactory(community=community, email="busy@example.org")
    MemberScore.objects.create(
        member=active,
        community=community,
        frequency=2,
        recency=3,
        impact=2,
        engagement=2.33,
        as_of=timezone.now(),
    )
    refresh_segment(inactive.pk)

    imported(GOOD)  # two new members, never active

    inactive.refresh_from_db()
    assert inactive.member_count == 2
    table = alice_client.get(reverse("members:list", args=["acme"])).content.decode()
    assert re.search(r"Inactive\s*<span[^>]*>2</span>", table), table[:3000]
    dashboard = alice_client.get(reverse("engagement:dashboard", args=["acme"]))
    assert (dashboard.context["latest"].members, dashboard.context["latest"].inactive) == (3, 2)


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
    assert '<label for="id_file">Activities file (CSV or XLSX)</label>' in content
    assert "Members file" not in content
    assert f'action="{activities_url}"' in content
    for column in ["member_external_id", "member_email", "kind", "occurred_at", "channel"]:
        assert f"<dt><code>{column}</code></dt>" in content
    assert "<dt><code>company_name</code></dt>" not in content


def test_manager_imports_activities_and_a_rescore_is_enqueued(
    imported, community, ann, activities_url, delay, celery_calls
):
    job = imported(ACTIVITIES, name="activities.csv", importer_url=activities_url)

    assert (job.importer, job.status, job.created, job.unchanged) == ("activities", "done", 2, 0)
    activities = Activity.objects.filter(community=community, member=ann)
    assert sorted(activities.values_list("kind__slug", "channel")) == [
        ("message", "#general"),
        ("post", "#design"),
    ]
    # After the import the rescore is enqueued (the check before it enqueued nothing); the
    # segments' re-evaluation of the member whose last seen moved ran in the job.
    delay.assert_called_once_with(community.pk)
    assert [call[0] for call in celery_calls] == ["members.tasks.run_import_job"] * 2
    assert not MemberScore.objects.exists()


def test_an_invalid_activities_file_writes_nothing_and_enqueues_nothing(
    imported, community, ann, activities_url, delay, celery_calls
):
    job = imported(BAD_ACTIVITIES, name="activities.csv", importer_url=activities_url)

    assert (job.status, job.invalid) == ("ready", 1)
    assert "unknown kind" in job.problems[0][2]
    assert not Activity.objects.exists()
    delay.assert_not_called()
    assert [call[0] for call in celery_calls] == ["members.tasks.run_import_job"]


def test_viewer_reads_the_activities_page_but_cannot_upload(
    victor_client, community, ann, activities_url, delay
):
    content = victor_client.get(activities_url).content.decode()
    assert "Activities file" not in content
    assert "read-only" in content
    assert "<dt><code>member_external_id</code></dt>" in content

    file = SimpleUploadedFile("a.csv", ACTIVITIES.encode())
    assert victor_client.post(activities_url, {"file": file}).status_code == 403
    assert not Activity.objects.exists()
    delay.assert_not_called()


def test_an_unknown_importer_is_404(alice_client, url):
    assert alice_client.get(f"{url}?importer=segments").status_code == 404
    file = SimpleUploadedFile("a.csv", GOOD.encode())
    assert alice_client.post(f"{url}?importer=segments", {"file": file}).status_code == 404
