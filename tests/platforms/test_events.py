"""The event attendance importer (platforms/events.py): Luma, Eventbrite and Meetup attendee
lists read by their presets, members matched by email (Meetup: by identity), registrations and
check-ins as activities, the second import changing nothing, refused files writing nothing,
the command and the Imports page."""

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from engagement.models import Activity, MemberScore
from members import jobs
from members.csv_import import ImportFileError
from members.forms import MappingForm
from members.importing import import_members
from members.imports import get_importer
from members.mapping import ImportOptions, parse_datetime
from members.models import Identity, ImportJob, Member
from platforms.events import detect_tool, import_events, preview_events
from tests.factories import IdentityFactory, MemberFactory
from tests.platforms.exports import peak_of

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[1] / "data" / "events"
LUMA = DATA / "Launch Night - Guests - 2026-05-02-09-14-03.csv"
EVENTBRITE = DATA / "eventbrite-attendee-summary.csv"
EVENTBRITE_LIST = DATA / "eventbrite-attendee-list.csv"
MEETUP = DATA / "meetup-attendees.csv"

LUMA_OPTIONS = ImportOptions(event="Launch Night")
EVENTBRITE_OPTIONS = ImportOptions(
    event="Community Summit 2026", event_date="06/13/2026", date_format="month_first"
)
MEETUP_OPTIONS = ImportOptions(
    event="Python Night", event_date="2026-04-16", date_format="month_first"
)
FIXTURES = [
    (LUMA, LUMA_OPTIONS),
    (EVENTBRITE, EVENTBRITE_OPTIONS),
    (EVENTBRITE_LIST, ImportOptions()),
    (MEETUP, MEETUP_OPTIONS),
]


def at(text: str) -> datetime:
    """A UTC time."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(community, path: Path, options: ImportOptions, **kwargs):
    with path.open("rb") as file:
        return import_events(community=community, file=file, options=options, **kwargs)


def activities(community) -> list[tuple]:
    """(member's name, kind, occurred_at, title, source) of every activity, in a stable order."""
    rows = Activity.objects.filter(community=community).values_list(
        "member__name", "kind__slug", "occurred_at", "title", "source"
    )
    return sorted(rows, key=lambda row: (row[0], row[1], row[2]))


def snapshot(community) -> tuple:
    """Everything an import writes, to compare before and after a second import."""
    return (
        sorted(
            Member.objects.filter(community=community).values_list(
                "pk", "name", "email", "company_name", "job_title", "updated_at"
            )
        ),
        sorted(
            Identity.objects.filter(community=community).values_list("pk", "source", "external_id")
        ),
        sorted(
            Activity.objects.filter(community=community).values_list(
                "pk", "kind__slug", "occurred_at", "source", "external_id", "title"
            )
        ),
    )


@pytest.fixture
def grace(community):
    """A member already there, under another letter case than the lists write her email."""
    return MemberFactory(
        community=community,
        name="Grace Hopper",
        email="grace.hopper@example.org",
        company_name="Navy",
        job_title="",
    )


# The presets: each tool's export maps by itself --------------------------------------------


@pytest.mark.parametrize(
    ("path", "tool", "expected"),
    [
        (
            LUMA,
            "luma",
            {
                "name": "name",
                "first_name": "first_name",
                "last_name": "last_name",
                "email": "email",
                "created_at": "registered_at",
                "approval_status": "status",
                "checked_in_at": "checked_in_at",
            },
        ),
        (
            EVENTBRITE,
            "eventbrite",
            {
                "Order Date": "registered_at",
                "First Name": "first_name",
                "Last Name": "last_name",
                "Email": "email",
                "Attendee Status": "status",
                "Job Title": "job_title",
                "Company": "company_name",
            },
        ),
        (
            EVENTBRITE_LIST,
            "eventbrite",
            {
                "Order date": "registered_at",
                "Attendee first name": "first_name",
                "Attendee last name": "last_name",
                "Attendee email": "email",
                "Event name": "event",
                "Event start date": "event_date",
                "Event timezone": "timezone",
            },
        ),
        (
            MEETUP,
            "meetup",
            {
                "Name": "name",
                "Attendance": "attended",
                "User ID": "user_id",
                "RSVP": "status",
                "RSVPed on": "registered_at",
            },
        ),
    ],
)
def test_each_tools_export_is_read_with_no_manual_mapping(community, path, tool, expected):
    # The event's name and the order of dates are asked of the manager; the mapping is not.
    options = ImportOptions(event="An event", date_format="month_first")
    with path.open("rb") as file:
        preview = preview_events(community=community, file=file, options=options)

    mapped = {column: field for column, field in preview.mapping.items() if field != "ignore"}
    assert mapped == expected
    # Everything else the tool writes (ids, tickets, payments, questions, Meetup's group
    # Title, the buyer of an Eventbrite ticket) is left out.
    assert set(preview.mapping.values()) - set(expected.values()) == {"ignore"}
    assert detect_tool(preview.columns) == tool
    assert {values[0] for _, values, _ in preview.rows if values} == {tool}


def test_the_preview_shows_the_rows_as_they_will_be_stored(community):
    with LUMA.open("rb") as file:
        preview = preview_events(community=community, file=file, options=LUMA_OPTIONS)

    assert preview.fields[-2:] == ("event_registered", "event_attended")
    assert preview.rows[0] == (
        2,
        [
            "luma",
            "Launch Night",
            "ada@example.com",
            "",
            "Ada Lovelace",
            "",
            "",
            "2026-04-20T09:15:22.418000Z",
            "2026-05-01T18:05:40.112000Z",
        ],
        "",
    )
    assert preview.rows[3] == (5, [], 'skipped: status "declined": not attending')


def test_without_the_events_name_the_preview_says_so_and_the_import_writes_nothing(community):
    with LUMA.open("rb") as file:
        preview = preview_events(community=community, file=file, options=ImportOptions())
        assert preview.rows[0][2] == (
            "needs an event: its cell is empty, and no event name was given"
        )
        file.seek(0)
        with pytest.raises(ImportFileError, match="no event column: give the event's name"):
            import_events(community=community, file=file, options=ImportOptions())

    assert not Member.objects.exists()


# Luma ----------------------------------------------------------------------------------------


def test_a_luma_guest_list(community, grace):
    report = run(community, LUMA, LUMA_OPTIONS)

    assert report.errors == []
    assert [(skip.line, skip.message) for skip in report.skips] == [
        (5, 'status "declined": not attending'),
        (6, 'status "invited": not attending'),
    ]
    assert dict(report.details) == {
        "Members created": 4,
        "Members updated": 0,
        "Members unchanged": 1,
        "Activities created: event_registered": 5,
        "Activities created: event_attended": 3,
        "Activities already imported": 0,
        'Skipped, status "declined"': 1,
        'Skipped, status "invited"': 1,
        "Rows repeating an attendee of the same event": 1,
    }
    members = Member.objects.filter(community=community)
    assert sorted(members.values_list("name", "email")) == [
        ("Ada Lovelace", "ada@example.com"),
        ("Dee Waitlist", "dee@example.com"),
        ("Eve Walkin", "eve@example.com"),
        ("Grace Hopper", "grace.hopper@example.org"),  # her name and email as stored
        ("Mei Lin", "mei.lin@example.net"),
    ]
    assert not Identity.objects.exists()  # an email is identity enough
    launch = ("Launch Night", "luma")
    assert activities(community) == [
        # Ada's second row (a second ticket, her email in capitals) is the same attendee: her
        # earliest registration and her check-in count once.
        ("Ada Lovelace", "event_attended", at("2026-05-01T18:05:40.112"), *launch),
        ("Ada Lovelace", "event_registered", at("2026-04-20T09:15:22.418"), *launch),
        ("Dee Waitlist", "event_registered", at("2026-04-30T21:45:10"), *launch),
        # The walk-in registered at the door a few seconds after her check-in: both as written.
        ("Eve Walkin", "event_attended", at("2026-05-01T18:30:55.020"), *launch),
        ("Eve Walkin", "event_registered", at("2026-05-01T18:31:09.551"), *launch),
        ("Grace Hopper", "event_attended", at("2026-05-01T18:12:03"), *launch),
        ("Grace Hopper", "event_registered", at("2026-04-25T08:00:00"), *launch),
        ("Mei Lin", "event_registered", at("2026-04-22T13:00:00"), *launch),
    ]
    assert sorted(Activity.objects.filter(member=grace).values_list("external_id", flat=True)) == [
        "launch-night:grace.hopper@example.org:attended:20260501T181203Z",
        "launch-night:grace.hopper@example.org:registered:20260425T080000Z",
    ]


def test_an_attendee_matches_a_member_of_a_members_file_by_email(community):
    members_csv = (
        b"name,email,company,title\nAda King,ADA@Example.com,Analytical Engines,Countess\n"
    )
    import_members(community=community, file=io.BytesIO(members_csv))
    ada = Member.objects.get(community=community)

    report = run(community, LUMA, LUMA_OPTIONS)

    assert dict(report.details)["Members unchanged"] == 1
    ada.refresh_from_db()
    # Matched in any letter case; what the members file said stays.
    assert (ada.name, ada.email, ada.company_name) == (
        "Ada King",
        "ADA@Example.com",
        "Analytical Engines",
    )
    assert sorted(ada.activities.values_list("kind__slug", flat=True)) == [
        "event_attended",
        "event_registered",
    ]
    assert Member.objects.filter(community=community, email__iexact="ada@example.com").count() == 1


# Eventbrite ----------------------------------------------------------------------------------


def test_an_eventbrite_attendee_summary(community, grace):
    report = run(community, EVENTBRITE, EVENTBRITE_OPTIONS)

    assert report.errors == []
    assert [(skip.line, skip.message) for skip in report.skips] == [
        (5, 'status "Not Attending": not attending')
    ]
    members = {m.email.lower(): m for m in Member.objects.filter(community=community)}
    assert sorted(members) == [
        "grace.hopper@example.org",
        "jonah@example.com",
        "rosa@example.com",
        "walt@example.com",
    ]
    rosa = members["rosa@example.com"]
    assert (rosa.name, rosa.company_name, rosa.job_title) == (
        "Rosa Delgado",
        "Acme Corp",
        "Developer Advocate",
    )
    grace.refresh_from_db()
    # Filled in where empty, kept where not.
    assert (grace.name, grace.company_name, grace.job_title) == (
        "Grace Hopper",
        "Navy",
        "Rear Admiral",
    )
    summit, day = ("Community Summit 2026", "eventbrite"), at("2026-06-13T00:00:00")
    assert activities(community) == [
        # "Checked In" keeps no time: the attendance is on the event's date.
        ("Grace Hopper", "event_attended", day, *summit),
        ("Grace Hopper", "event_registered", at("2026-05-10T20:05:00"), *summit),
        # Two tickets of one order, both with the buyer's email: one attendee.
        ("Jonah Kim", "event_registered", at("2026-05-03T18:40:00"), *summit),
        ("Rosa Delgado", "event_attended", day, *summit),
        ("Rosa Delgado", "event_registered", at("2026-05-02T09:14:00"), *summit),
        # Bought at the door after the doors opened.
        ("Walt Inman", "event_attended", day, *summit),
        ("Walt Inman", "event_registered", at("2026-06-13T18:47:00"), *summit),
    ]
    assert dict(report.details)["Members updated"] == 1


def test_checked_in_without_the_events_date_is_counted_not_imported(community):
    options = ImportOptions(event="Community Summit 2026", date_format="month_first")

    report = run(community, EVENTBRITE, options)

    assert dict(report.details)["Attended, not imported: no check-in time and no event date"] == 3
    kinds = Activity.objects.filter(community=community).values_list("kind__slug", flat=True)
    assert sorted(set(kinds)) == ["event_registered"]
    with EVENTBRITE.open("rb") as file:
        preview = preview_events(community=community, file=file, options=options)
    assert preview.rows[0][1][-1] == "yes, but no time: give the event's date"

    # Given later, the date adds the attendances, and only them.
    again = run(community, EVENTBRITE, EVENTBRITE_OPTIONS)
    assert dict(again.details)["Activities created: event_attended"] == 3
    assert dict(again.details)["Activities created: event_registered"] == 0


def test_two_digit_years_are_read_only_with_a_declared_order(community):
    report = run(community, EVENTBRITE, ImportOptions(event="Community Summit 2026"))

    assert report.rolled_back
    assert report.errors[0].message == (
        'registered_at "5/2/26 9:14" is not ISO 8601: choose day first or month first for '
        "this file's dates"
    )
    assert not Member.objects.exists()
    assert parse_datetime("d", "11/29/24 22:28", "month_first") == datetime(
        2024, 11, 29, 22, 28, tzinfo=UTC
    )
    assert parse_datetime("d", "29.11.24", "day_first") == datetime(2024, 11, 29, tzinfo=UTC)


def test_an_eventbrite_attendee_list_of_two_events_in_their_time_zone(community, grace):
    report = run(community, EVENTBRITE_LIST, ImportOptions())

    assert report.errors == []
    spring, summer = ("Data Night: Spring", "eventbrite"), ("Data Night: Summer", "eventbrite")
    assert activities(community) == [
        # Order dates are the event's wall-clock time, America/Chicago: CST, then CDT.
        ("Ann Lee", "event_registered", at("2026-02-20T20:05:33"), *spring),
        ("Ann Lee", "event_registered", at("2026-06-01T13:30:00"), *summer),
        ("Ben Ode", "event_registered", at("2026-02-21T15:00:00"), *spring),
        ("Grace Hopper", "event_registered", at("2026-06-03T00:45:10"), *summer),
    ]
    # The buyer (Ann bought Ben's ticket) is not the attendee.
    assert Member.objects.filter(community=community).count() == 3


# Meetup --------------------------------------------------------------------------------------


def test_a_meetup_attendee_list(community):
    pat = MemberFactory(community=community, name="Pat Example", email="pat@example.org")
    IdentityFactory(member=pat, source="meetup", external_id="30000001")

    report = run(community, MEETUP, MEETUP_OPTIONS)

    assert report.errors == []
    assert [(skip.line, skip.message) for skip in report.skips] == [
        (4, 'status "No": not attending')
    ]
    # No emails in a Meetup list: the User ID ("user 12537919") is the identity.
    assert sorted(
        Identity.objects.filter(community=community).values_list("source", "external_id")
    ) == [
        ("meetup", "12537919"),
        ("meetup", "20011002"),
        ("meetup", "20011004"),
        ("meetup", "20011005"),
        ("meetup", "30000001"),
    ]
    night, day = ("Python Night", "meetup"), at("2026-04-16T00:00:00")
    assert activities(community) == [
        ("Ian Example", "event_attended", day, *night),
        ("Ian Example", "event_registered", at("2026-03-20T00:00:00"), *night),
        ("Kay Example", "event_registered", at("2026-04-01T00:00:00"), *night),
        ("Max Example", "event_attended", day, *night),  # on the waitlist, then let in
        ("Max Example", "event_registered", at("2026-04-10T00:00:00"), *night),
        ("Ned Example", "event_attended", day, *night),  # a walk-in: no RSVP at all
        ("Pat Example", "event_attended", day, *night),
        ("Pat Example", "event_registered", at("2026-04-03T00:00:00"), *night),
    ]
    pat.refresh_from_db()
    assert (pat.name, pat.email) == ("Pat Example", "pat@example.org")
    assert not Member.objects.filter(community=community, name="Lou Example").exists()


# Idempotence -------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "options"), FIXTURES)
def test_a_second_import_changes_nothing(community, grace, path, options):
    first = run(community, path, options)
    before = snapshot(community)

    again = run(community, path, options)

    assert first.created > 0
    assert (again.created, again.updated, again.invalid) == (0, 0, 0)
    assert again.unchanged == first.created + first.updated + first.unchanged
    assert snapshot(community) == before


def test_two_events_of_one_name_stay_apart_by_their_times(community):
    run(community, MEETUP, MEETUP_OPTIONS)
    text = MEETUP.read_text().replace("03/20/2026", "05/02/2026")
    report = import_events(
        community=community,
        file=io.BytesIO(text.encode()),
        options=ImportOptions(
            event="Python Night", event_date="2026-05-21", date_format="month_first"
        ),
    )

    # Next month's meetup of the same name: new registration and attendances, same people.
    assert dict(report.details)["Activities created: event_registered"] == 1
    assert dict(report.details)["Activities created: event_attended"] == 4
    assert dict(report.details)["Members created"] == 0


# Invalid rows and refused files -----------------------------------------------------------


BAD = (
    "name,email,created_at,approval_status,checked_in_at,Attendance,Event timezone\n"
    "Ann,ann@example.com,2026-04-01T10:00:00Z,approved,,,\n"
    "Bob,not-an-email,2026-04-01T10:00:00Z,approved,,,\n"
    "Cat,cat@example.com,yesterday,approved,,,\n"
    "Dan,dan@example.com,2026-04-01T10:00:00Z,approved,,maybe,\n"
    "Eve,eve@example.com,2026-04-01 10:00,approved,,,Mars/Olympus\n"
    ",,2026-04-01T10:00:00Z,approved,,,\n"
    "Fay,fay@example.com,2026-04-01T10:00:00Z\n"
    "Gus,gus@example.com,,approved,,,\n"
)


def test_invalid_rows_are_listed_by_line_and_nothing_is_written(community):
    options = ImportOptions(event="Launch")
    report = import_events(community=community, file=io.BytesIO(BAD.encode()), options=options)

    assert report.rolled_back
    assert [(error.line, error.message) for error in report.errors] == [
        (3, 'email "not-an-email" is not a valid email address'),
        (4, 'registered_at "yesterday" is not an ISO 8601 date or date-time'),
        (5, 'attended "maybe" is neither yes nor no'),
        (6, 'timezone "Mars/Olympus" is not a time zone such as Europe/Paris'),
        (7, "needs an email to find the attendee's member"),
        (8, "has 3 cells but the header has 7"),
    ]
    assert [(skip.line, skip.message) for skip in report.skips] == [
        (9, "no registration time and no attendance: nothing to import")
    ]
    assert not Member.objects.exists()
    assert not Activity.objects.exists()


def test_skipping_invalid_rows_imports_the_others(community):
    report = import_events(
        community=community,
        file=io.BytesIO(BAD.encode()),
        options=ImportOptions(event="Launch"),
        skip_invalid=True,
    )

    assert (report.invalid, report.rolled_back) == (6, False)
    assert list(Member.objects.values_list("name", flat=True)) == ["Ann"]
    assert Activity.objects.get().kind.slug == "event_registered"


def test_a_malformed_csv_names_its_line_and_writes_nothing(community):
    text = (
        b"email,created_at\n"
        b"ann@example.com,2026-04-01T10:00:00Z\n"
        b"bob@example.com,2026-04-01T10:00:00Z\x00\n"  # UTF-16 read as UTF-8 looks so
    )
    with pytest.raises(ImportFileError, match="NUL character on line 3"):
        import_events(
            community=community, file=io.BytesIO(text), options=ImportOptions(event="Launch")
        )
    assert not Member.objects.exists()


def test_a_file_that_is_no_attendee_list_is_refused(community):
    with pytest.raises(ImportFileError, match="with an email column"):
        import_events(
            community=community,
            file=io.BytesIO(b"name,created_at\nAnn,2026-04-01\n"),
            options=ImportOptions(event="Launch"),
        )


def test_a_zip_with_an_entry_outside_its_folder_is_refused_with_nothing_written(community):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.csv", LUMA.read_bytes())
    buffer.seek(0)

    with pytest.raises(ImportFileError, match="not an Excel workbook"):
        import_events(community=community, file=buffer, options=LUMA_OPTIONS)
    assert not Member.objects.exists()
    assert not Activity.objects.exists()


def test_an_invalid_event_date_is_refused(community):
    with pytest.raises(ImportFileError, match='The event date "next friday"'):
        run(community, MEETUP, ImportOptions(event="Python Night", event_date="next friday"))


# The options carry the event ---------------------------------------------------------------


def test_the_event_options_go_through_a_job_and_other_importers_do_not_show_them():
    options = ImportOptions(event="Launch Night", event_date="2026-05-01")
    assert ImportOptions.from_json(options.as_json()) == options
    assert "event" not in ImportOptions().as_json()  # other jobs' options stay as they were

    preview = type("P", (), {"columns": (), "mapping": {}})()
    members_form = MappingForm(importer=get_importer("members"), preview=preview)
    events_form = MappingForm(importer=get_importer("events"), preview=preview)
    assert "event" not in members_form.fields
    assert {"event", "event_date"} <= set(events_form.fields)


# The command ---------------------------------------------------------------------------------


def test_the_command_takes_the_event_from_lumas_file_name(community, grace):
    out = io.StringIO()
    call_command("import_events", "acme", str(LUMA), "--no-score", stdout=out, stderr=io.StringIO())

    assert "Read 8 rows: 12 created, 0 updated, 1 unchanged, 2 skipped." in out.getvalue()
    assert "Activities created: event_attended: 3" in out.getvalue()
    assert set(Activity.objects.values_list("title", flat=True)) == {"Launch Night"}
    job = ImportJob.objects.get()
    assert (job.importer, job.status, job.options["event"]) == ("events", "done", "Launch Night")
    assert not MemberScore.objects.exists()


def test_the_command_with_an_event_and_its_date_scores_the_community(community):
    call_command(
        "import_events",
        "acme",
        str(MEETUP),
        "--event",
        "Python Night",
        "--event-date",
        "04/16/2026",
        "--date-format",
        "month_first",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )

    assert Activity.objects.filter(kind__slug="event_attended").count() == 4
    assert MemberScore.objects.filter(member__community=community).count() == 5


def test_the_command_refuses_a_file_without_an_event(community):
    with pytest.raises(CommandError, match="no event column"):
        call_command("import_events", "acme", str(MEETUP), stdout=io.StringIO())
    assert not Member.objects.exists()


# The Imports page --------------------------------------------------------------------------


@pytest.fixture
def work(celery_calls, django_capture_on_commit_callbacks):
    """Run, as a worker would, every import task enqueued so far (once each)."""
    done: set[int] = set()

    def run_tasks():
        for index, (name, args, _kwargs, _options) in enumerate(list(celery_calls)):
            if name == "members.tasks.run_import_job" and index not in done:
                done.add(index)
                with django_capture_on_commit_callbacks(execute=True):
                    jobs.job_run(*args)

    return run_tasks


def post_job(client, job, capture, *, action, **choices):
    page = client.get(job.get_absolute_url())
    form = page.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data.update({"action": action, **choices})
    data.pop("skip_invalid", None)
    with capture(execute=True):
        return client.post(job.get_absolute_url(), {k: v for k, v in data.items() if v is not None})


def test_a_manager_uploads_a_luma_list_names_the_event_and_imports_it(
    alice_client, community, grace, work, django_capture_on_commit_callbacks
):
    url = reverse("members:imports", args=[community.slug]) + "?importer=events"
    page = alice_client.get(url).content.decode()
    assert '<label for="id_file">Attendees file (CSV or XLSX)</label>' in page
    assert "Luma (the event&#x27;s Guests tab, Download as CSV)" in page

    upload = SimpleUploadedFile(LUMA.name, LUMA.read_bytes(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(url, {"file": upload, "encoding": "utf-8"})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    work()
    job.refresh_from_db()
    # Without the event's name the check stops and says what to do; the form stays.
    assert job.status == "failed"
    assert "give the event's name" in job.message
    page = alice_client.get(job.get_absolute_url()).content.decode()
    assert '<label for="id_event">Event</label>' in page
    assert "<td>Ada Lovelace</td>" not in page  # the rows show the missing event instead

    post_job(
        alice_client, job, django_capture_on_commit_callbacks, action="check", event="Launch Night"
    )
    work()
    job.refresh_from_db()
    assert (job.status, job.invalid, job.options["event"]) == ("ready", 0, "Launch Night")
    assert not Activity.objects.exists()  # the check wrote nothing
    page = alice_client.get(job.get_absolute_url()).content.decode()
    assert "<td>Ada Lovelace</td>" in page
    assert 'value="Launch Night"' in page

    post_job(alice_client, job, django_capture_on_commit_callbacks, action="import")
    work()
    job.refresh_from_db()
    assert job.status == "done", job.message
    assert (job.created, job.skipped) == (12, 2)
    assert ["Activities created: event_attended", 3] in job.details
    assert Activity.objects.filter(community=community, title="Launch Night").count() == 8


# Memory -------------------------------------------------------------------------------------


def generated_list(path: Path, events: int, people: int = 60) -> None:
    """An Eventbrite attendee list of `events` events, each attended by the same `people`: a
    year of a community's weekly meetups is 50 times one of them."""
    with EVENTBRITE_LIST.open(encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        header, template = reader.fieldnames or [], next(reader)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, header)
        writer.writeheader()
        for event in range(events):
            for n in range(people):
                email = f"guest{n}@example.com"
                ordered = f"2026-{1 + event % 12:02d}-{1 + n % 28:02d} 10:{n % 60:02d}:00"
                writer.writerow(
                    {
                        **template,
                        "Order ID": f"{event:04d}{n:05d}",
                        "Order date": ordered,
                        "Attendee first name": "Guest",
                        "Attendee last name": str(n),
                        "Attendee email": email,
                        "Buyer email": email,
                        "Event name": f"Weekly Meetup #{event + 1}",
                        "Event ID": str(900_000 + event),
                        "Barcode number": f"{event:04d}{n:05d}001",
                    }
                )


def peak_memory(community, path: Path) -> int:
    peak, report = peak_of(lambda: run(community, path, ImportOptions(), dry_run=True))
    assert report.created > 0
    return peak


def test_peak_memory_stays_flat_in_the_size_of_the_list(community, tmp_path, monkeypatch):
    # Small batches, so that the small list fills several too: what an import holds at once
    # is one batch, whatever the list's length.
    monkeypatch.setattr("members.staging.BATCH_ROWS", 100)
    monkeypatch.setattr("platforms.events.CHUNK_ROWS", 100)
    monkeypatch.setattr("engagement.importing.CHUNK_SIZE", 100)
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    generated_list(small, events=1)
    generated_list(large, events=50)  # 50 times the rows
    small_peak = peak_memory(community, small)
    large_peak = peak_memory(community, large)
    assert large_peak < 1.5 * small_peak + 512 * 1024, (small_peak, large_peak)
