"""The members CSV importer (docs/cli.md "Imports"), called directly with in-memory files."""

import io
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members import importing, locks, staging
from members.importing import ImportFileError, import_members
from members.mapping import ImportOptions
from members.models import Identity, Member
from tests.factories import CommunityFactory, IdentityFactory, MemberFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent.parent / "data"


def run(community, text, *, encoding="utf-8", skip_invalid=False, **options):
    file = io.BytesIO(text.encode(encoding))
    return import_members(
        community=community,
        file=file,
        skip_invalid=skip_invalid,
        options=ImportOptions(**options),
    )


def messages(report):
    return [str(error) for error in report.errors]


FULL = (
    "external_id,source,name,email,company_name,job_title,location,city,country,bio,"
    "joined_at,last_seen_at\n"
    'U1,slack,Priya Raman,priya@example.org,Acme,Designer,"Austin, TX",Austin,United States,'
    '"Designs things.\nLikes <b>bold</b>.",2024-03-01,2025-01-02T10:30:00Z\n'
)


def test_a_good_file_creates_members_with_exact_values(community):
    report = run(community, FULL)

    assert (report.rows_read, report.created, report.updated, report.skipped) == (1, 1, 0, 0)
    assert report.errors == []
    member = Member.objects.get(community=community)
    assert member.name == "Priya Raman"
    assert member.email == "priya@example.org"
    assert member.company_name == "Acme"
    assert member.job_title == "Designer"
    assert member.location == "Austin, TX"
    assert member.city == "Austin"
    assert member.country == "United States"
    assert member.bio == "Designs things.\nLikes <b>bold</b>."
    assert member.joined_at == datetime(2024, 3, 1, tzinfo=UTC)
    assert member.last_seen_at == datetime(2025, 1, 2, 10, 30, tzinfo=UTC)
    assert member.attributes == {}
    identity = member.identities.get()
    assert (identity.community, identity.source, identity.external_id) == (
        community,
        "slack",
        "U1",
    )


def test_any_column_order_and_absent_columns_are_blank_not_null(community):
    run(community, "email,name\nbo@example.org,Bo\n")

    member = Member.objects.get(community=community)
    assert (member.name, member.email) == ("Bo", "bo@example.org")
    assert (member.company_name, member.bio, member.joined_at) == ("", "", None)
    assert not member.identities.exists()


def test_reimporting_the_same_file_updates_and_never_duplicates(community):
    run(community, FULL)
    report = run(community, FULL.replace("Designer", "Lead Designer"))

    assert (report.created, report.updated) == (0, 1)
    member = Member.objects.get(community=community)
    assert member.job_title == "Lead Designer"
    assert Identity.objects.filter(community=community).count() == 1


def test_identity_matches_before_email(community):
    by_identity = MemberFactory(community=community, name="Old", email="old@example.org")
    IdentityFactory(member=by_identity, source="slack", external_id="U7")

    report = run(community, "source,external_id,name,email\nslack,U7,New Name,NEW@example.org\n")

    assert (report.created, report.updated) == (0, 1)
    by_identity.refresh_from_db()
    assert (by_identity.name, by_identity.email) == ("New Name", "NEW@example.org")
    assert Member.objects.filter(community=community).count() == 1


def test_email_matches_case_insensitively_and_links_the_new_identity(community):
    member = MemberFactory(community=community, name="Ada", email="Ada@Example.org")

    report = run(community, "source,external_id,email,city\ndiscourse,42,ada@example.ORG,Paris\n")

    assert (report.created, report.updated) == (0, 1)
    member.refresh_from_db()
    # The same address in other letter case is not rewritten.
    assert (member.city, member.name, member.email) == ("Paris", "Ada", "Ada@Example.org")
    assert list(member.identities.values_list("source", "external_id")) == [("discourse", "42")]


def test_an_identity_and_an_email_of_two_different_members_is_an_error(community):
    first = MemberFactory(community=community, email="first@example.org")
    IdentityFactory(member=first, source="slack", external_id="U1")
    MemberFactory(community=community, email="second@example.org")

    report = run(community, "source,external_id,email\nslack,U1,second@example.org\n")

    assert messages(report) == [
        'line 2: email "second@example.org" belongs to another member than slack external_id "U1"'
    ]
    assert report.rolled_back
    first.refresh_from_db()
    assert first.email == "first@example.org"


def test_two_rows_reaching_the_same_member_is_an_error(community):
    member = MemberFactory(community=community, email="m@example.org")
    IdentityFactory(member=member, source="slack", external_id="U1")

    text = "source,external_id,name,email\nslack,U1,Em,\nslack,U2,,m@example.org\n"

    report = run(community, text)

    assert messages(report) == ["line 3: matches the same member as line 2"]


def test_members_matched_only_in_this_community(community, other_community):
    stranger = MemberFactory(community=other_community, email="same@example.org")
    IdentityFactory(member=stranger, source="slack", external_id="U1")

    report = run(community, "source,external_id,email\nslack,U1,same@example.org\n")

    assert (report.created, report.updated) == (1, 0)
    stranger.refresh_from_db()
    assert stranger.email == "same@example.org"
    assert Member.objects.filter(community=community, email="same@example.org").exists()


def test_same_display_name_with_different_ids_stays_two_members(community):
    report = run(
        community,
        "source,external_id,name\nstackexchange,1,Chris\nstackexchange,2,Chris\n",
    )

    assert report.created == 2
    assert Member.objects.filter(community=community, name="Chris").count() == 2


def test_external_id_without_source_defaults_to_csv(community):
    run(community, "external_id,name\nA-1,Bo\n")

    assert Identity.objects.get(community=community).source == "csv"


def test_only_columns_in_the_file_are_overwritten(community):
    member = MemberFactory(
        community=community,
        email="bo@example.org",
        name="Bo",
        company_name="Acme",
        city="Lyon",
        joined_at=datetime(2020, 1, 1, tzinfo=UTC),
        last_seen_at=datetime(2024, 1, 1, tzinfo=UTC),
    )

    text = "email,company_name,last_seen_at,job_title\nbo@example.org,,,Chef\n"

    report = run(community, text)

    assert (report.updated, report.unchanged) == (1, 0)
    member.refresh_from_db()
    assert (member.name, member.city) == ("Bo", "Lyon")  # Columns not in the file: kept.
    assert member.joined_at == datetime(2020, 1, 1, tzinfo=UTC)
    # Empty cells keep the stored value by default.
    assert member.company_name == "Acme"
    assert member.last_seen_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert member.job_title == "Chef"

    run(community, text, blank="clear")

    member.refresh_from_db()
    assert member.company_name == ""  # "Empty clears": cleared, never NULL.
    assert member.last_seen_at is None
    assert (member.name, member.city, member.job_title) == ("Bo", "Lyon", "Chef")


def test_update_bumps_updated_at(community):
    member = MemberFactory(community=community, email="bo@example.org")
    before = Member.objects.get(pk=member.pk).updated_at

    run(community, "email,city\nbo@example.org,Oslo\n")

    assert Member.objects.get(pk=member.pk).updated_at > before


def test_unknown_columns_land_in_attributes_and_merge(community):
    member = MemberFactory(
        community=community, email="bo@example.org", attributes={"tshirt": "M", "team": "Red"}
    )

    report = run(
        community,
        "Email,Plan,team,T-Shirt Size\nbo@example.org,Pro,,L\nnew@example.org,Free,Blue,\n",
    )

    assert (report.created, report.updated) == (1, 1)
    member.refresh_from_db()
    # Kept, added, and an empty cell keeps the attribute.
    assert member.attributes == {"tshirt": "M", "team": "Red", "Plan": "Pro", "T-Shirt Size": "L"}
    assert Member.objects.get(email="new@example.org").attributes == {
        "Plan": "Free",
        "team": "Blue",
    }

    run(community, "Email,team\nbo@example.org,\nnew@example.org,\n", blank="clear")

    member.refresh_from_db()
    # With "empty clears" an empty cell removes it.
    assert member.attributes == {"tshirt": "M", "Plan": "Pro", "T-Shirt Size": "L"}
    assert Member.objects.get(email="new@example.org").attributes == {"Plan": "Free"}


def test_a_byte_order_mark_is_tolerated(community):
    report = run(community, "\ufeffname,email\nBo,bo@example.org\n")

    assert report.created == 1
    assert Member.objects.get(community=community).name == "Bo"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01T09:15:00", datetime(2024, 3, 1, 9, 15, tzinfo=UTC)),
        ("2016-12-11T00:15:48.053", datetime(2016, 12, 11, 0, 15, 48, 53000, tzinfo=UTC)),
        ("2024-03-01T09:15:00Z", datetime(2024, 3, 1, 9, 15, tzinfo=UTC)),
        ("2024-03-01T09:15:00+02:00", datetime(2024, 3, 1, 7, 15, tzinfo=UTC)),
        ("2024-03-01 09:15", datetime(2024, 3, 1, 9, 15, tzinfo=UTC)),
        ("", None),
    ],
)
def test_dates_are_iso_8601_and_utc_without_an_offset(community, cell, expected):
    run(community, f"name,joined_at\nBo,{cell}\n")

    assert Member.objects.get(community=community).joined_at == expected


INVALID_LINE_7 = (
    "name,email,joined_at\n"
    "Ann,ann@example.org,2024-01-01\n"
    "Ben,ben@example.org,2024-01-02\n"
    "Cat,cat@example.org,2024-01-03\n"
    "Dan,dan@example.org,2024-01-04\n"
    "Eve,eve@example.org,2024-01-05\n"
    "Fay,fay@example.org,2024-13-45\n"
    "Gus,gus@example.org,2024-01-07\n"
)


def test_one_invalid_row_writes_nothing_and_names_its_line(community):
    report = run(community, INVALID_LINE_7)

    assert messages(report) == [
        'line 7: joined_at "2024-13-45" is not an ISO 8601 date or date-time'
    ]
    assert report.rolled_back
    assert (report.rows_read, report.created, report.updated, report.skipped) == (7, 0, 0, 6)
    assert report.invalid == 1
    assert not Member.objects.exists()
    assert not Identity.objects.exists()


def test_an_invalid_row_also_rolls_back_updates(community):
    member = MemberFactory(community=community, email="ann@example.org", name="Annie")

    run(community, INVALID_LINE_7)

    member.refresh_from_db()
    assert member.name == "Annie"


def test_skip_invalid_writes_the_valid_rows_and_reports_the_rest(community):
    report = run(community, INVALID_LINE_7, skip_invalid=True)

    assert messages(report) == [
        'line 7: joined_at "2024-13-45" is not an ISO 8601 date or date-time'
    ]
    assert not report.rolled_back
    assert (report.rows_read, report.created, report.updated, report.skipped) == (7, 6, 0, 0)
    assert report.invalid == 1
    names = set(Member.objects.filter(community=community).values_list("name", flat=True))
    assert names == {"Ann", "Ben", "Cat", "Dan", "Eve", "Gus"}


def test_every_invalid_row_is_reported_in_line_order(community):
    text = "name,email,last_seen_at\n,,\nBo,not-an-email,\nCy,cy@example.org,yesterday\n"

    report = run(community, text)

    assert messages(report) == [
        'line 3: email "not-an-email" is not a valid email address',
        'line 4: last_seen_at "yesterday" is not an ISO 8601 date or date-time',
    ]
    assert report.rows_read == 2  # The all-empty row is not a row.


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,email\n,\nBo,\n", None),  # Blank rows are ignored.
        ("name,city\n,Oslo\n", "line 2: needs a name or an email"),
        ("name,email\nBo,bo@example\n", 'line 2: email "bo@example" is not a valid email address'),
        ("name,email\nBo\n", "line 2: has 1 cells but the header has 2"),
        ("name,email\nBo,bo@example.org,extra\n", "line 2: has 3 cells but the header has 2"),
        (f"name\n{'x' * 201}\n", "line 2: name is longer than 200 characters"),
        (f"name,city\nBo,{'x' * 101}\n", "line 2: city is longer than 100 characters"),
        (
            f"name,external_id\nBo,{'x' * 201}\n",
            "line 2: external_id is longer than 200 characters",
        ),
        ("name,source\nBo,slack\n", "line 2: source is given without an external_id"),
        (
            "name,joined_at,last_seen_at\nBo,2024-02-30,soon\n",
            'line 2: joined_at "2024-02-30" is not an ISO 8601 date or date-time; '
            'last_seen_at "soon" is not an ISO 8601 date or date-time',
        ),
    ],
)
def test_row_validation(community, text, message):
    report = run(community, text)

    assert messages(report) == ([message] if message else [])


def test_duplicate_email_in_the_file_names_the_earlier_line(community):
    text = "name,email\nAnn,ann@example.org\nBen,ben@example.org\nAnnie,ANN@example.org\n"

    report = run(community, text)

    assert messages(report) == ['line 4: email "ANN@example.org" repeats line 2']
    assert not Member.objects.exists()


def test_duplicate_identity_in_the_file_names_the_earlier_line(community):
    text = "external_id,name\n7,Ann\n7,Ben\n"

    report = run(community, text, skip_invalid=True)

    assert messages(report) == ['line 3: csv external_id "7" repeats line 2']
    assert list(Member.objects.values_list("name", flat=True)) == ["Ann"]


def test_line_numbers_count_physical_lines_of_quoted_fields(community):
    text = 'name,bio\nAnn,"one\ntwo\nthree"\n\nBo,"x"\nCy,"a\nb",extra\n'

    report = run(community, text)

    assert messages(report) == ["line 7: has 3 cells but the header has 2"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"Ann,ann@example.org\nBen,ben@example.org\n", "The first line must be a header"),
        (b"name,email,name\nAnn,ann@example.org,Ann\n", 'names the column "name" twice'),
        (b"name,Plan,plan\nAnn,a,b\n", 'names the column "plan" twice'),
        (b"name,,email\nAnn,,a@example.org\n", "Column 2 of the header (line 1) has no name"),
        (
            "name,city\nJosé,Düsseldorf\n".encode("latin-1"),
            'The file is not UTF-8 text: line 2 has bytes that are not UTF-8 (byte 0xE9 in "Jos',
        ),
        # UTF-16 with its byte-order mark is read as UTF-16 (tests/members/test_formats.py).
        ("name\n".encode("utf-16-le"), "The file is not UTF-8 text (a NUL character on line 1)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "The file is not UTF-8 text: line 1 has bytes"),
    ],
)
def test_file_level_errors(community, data, message):
    with pytest.raises(ImportFileError, match=re.escape(message)):
        import_members(community=community, file=io.BytesIO(data))
    assert not Member.objects.exists()


def test_a_decoding_error_late_in_the_file_writes_nothing(community, monkeypatch):
    monkeypatch.setattr(staging, "BATCH_ROWS", 10)
    rows = "".join(f"Member {n},m{n}@example.org\n" for n in range(3000))
    data = f"name,email\n{rows}".encode() + b"Jos\xe9,jose@example.org\n"

    with pytest.raises(ImportFileError, match=r"^The file is not UTF-8 text: line 3002 has bytes"):
        import_members(community=community, file=io.BytesIO(data))
    assert not Member.objects.exists()


def test_the_callers_file_stays_open(community):
    file = io.BytesIO(b"name\nBo\n")

    import_members(community=community, file=file)

    assert not file.closed


def test_queries_are_per_chunk_not_per_row(community):
    rows = "".join(f"stackexchange,{n},Member {n},m{n}@example.org\n" for n in range(300))
    text = f"source,external_id,name,email\n{rows}"

    with CaptureQueriesContext(connection) as create:
        assert run(community, text).created == 300
    with CaptureQueriesContext(connection) as update:
        assert run(community, text.replace("@example", "@new.example")).updated == 300
    with CaptureQueriesContext(connection) as again:
        assert run(community, text.replace("@example", "@new.example")).unchanged == 300

    # A fixed number of set-based statements, whatever the number of rows.
    assert len(create) <= 40
    assert len(update) <= 40
    assert len(again) <= 40


def test_chunks_see_the_rows_written_by_earlier_chunks(community, monkeypatch):
    monkeypatch.setattr(staging, "BATCH_ROWS", 2)
    text = "external_id,name\n" + "".join(f"{n},Member {n}\n" for n in range(7))

    assert run(community, text).created == 7
    report = run(community, text)

    assert (report.created, report.updated, report.unchanged) == (0, 0, 7)
    assert Member.objects.count() == 7


def test_stack_exchange_users(community):
    """200 real users from the Beer, Wine & Spirits Stack Exchange dump (see tests/data)."""
    with (DATA / "stackexchange_members.csv").open("rb") as file:
        report = import_members(community=community, file=file)

    assert (report.rows_read, report.created, report.updated, report.errors) == (200, 200, 0, [])
    members = Member.objects.filter(community=community)
    assert members.count() == 200
    assert members.filter(location="").count() == 40
    assert members.filter(email="").count() == 200
    geoff = members.get(identities__source="stackexchange", identities__external_id="1")
    assert geoff.name == "Geoff Dalgas"
    assert geoff.location == "Corvallis, OR"
    assert geoff.joined_at == datetime(2014, 1, 21, 20, 21, 18, 797000, tzinfo=UTC)
    assert geoff.last_seen_at == datetime(2016, 5, 6, 20, 34, 57, 983000, tzinfo=UTC)
    michal = members.get(identities__external_id="103")
    assert (michal.name, michal.location) == ("Michał Rybak", "Warsaw, Poland")

    with (DATA / "stackexchange_members.csv").open("rb") as file:
        again = import_members(community=community, file=file)

    assert (again.created, again.updated, again.unchanged) == (0, 0, 200)
    assert members.count() == 200
    assert Identity.objects.filter(community=community, source="stackexchange").count() == 200


class RecordingFile(io.BytesIO):
    """A binary file that remembers how much each read asked for."""

    def __init__(self, data):
        super().__init__(data)
        self.reads = []

    def read(self, size=-1):
        self.reads.append(size)
        return super().read(size)

    def read1(self, size=-1):
        self.reads.append(size)
        return super().read1(size)


def test_the_file_is_streamed_not_read_whole(community):
    rows = "".join(f"Member {n},m{n}@example.org\n" for n in range(5000))
    file = RecordingFile(f"name,email\n{rows}".encode())

    import_members(community=community, file=file)

    assert len(file.reads) > 10
    assert all(0 < size <= 65536 for size in file.reads)


# --- Attributes are bounded -------------------------------------------------------------------


def attribute_header(count: int, width: int = 4) -> str:
    return "name,email," + ",".join(f"a{i:0{width}}" for i in range(count))


def test_a_file_may_have_100_attribute_columns(community):
    report = run(community, f"{attribute_header(100)}\nBo,bo@example.org,{','.join('x' * 100)}\n")

    assert (report.created, report.errors) == (1, [])
    attributes = Member.objects.get(community=community).attributes
    assert len(attributes) == 100
    assert (attributes["a0000"], attributes["a0099"]) == ("x", "x")


def test_a_file_with_101_attribute_columns_is_refused_and_writes_nothing(community):
    MemberFactory(community=community, email="bo@example.org", name="Bo")
    text = (
        f"{attribute_header(101)}\nBo,bo@example.org,{'y,' * 100}y\nCy,cy@example.org{',' * 101}\n"
    )

    with pytest.raises(ImportFileError) as error:
        run(community, text)

    assert str(error.value) == (
        "The header (line 1) has 101 columns that would become attributes; a members file may "
        f"have at most 100. Known columns: {', '.join(importing.COLUMNS)}."
    )
    assert list(Member.objects.values_list("name", "attributes")) == [("Bo", {})]


def test_an_attribute_name_of_100_characters_is_kept(community):
    name = "N" * 100

    report = run(community, f"name,{name}\nBo,x\n")

    assert report.created == 1
    assert Member.objects.get().attributes == {name: "x"}


def test_an_attribute_name_over_100_characters_is_refused_naming_its_column(community):
    with pytest.raises(ImportFileError) as error:
        run(community, f"name,email,Plan,{'N' * 101}\nBo,bo@example.org,Pro,x\n")

    assert str(error.value) == (
        "Column 4 of the header (line 1) is named in 101 characters; an attribute's name may "
        "have at most 100."
    )
    assert not Member.objects.exists()


def test_an_attribute_value_of_2000_characters_is_kept(community):
    report = run(community, f"name,Plan\nBo,{'v' * 2000}\n")

    assert (report.created, report.errors) == (1, [])
    assert Member.objects.get().attributes == {"Plan": "v" * 2000}


def test_an_attribute_value_over_2000_characters_is_an_invalid_row(community):
    text = f"name,Plan,T-Shirt Size\nAnn,Pro,M\nBo,{'v' * 2001},L\nCy,Free,{'w' * 5000}\n"

    report = run(community, text)

    assert messages(report) == [
        'line 3: attribute "Plan" is longer than 2,000 characters',
        'line 4: attribute "T-Shirt Size" is longer than 2,000 characters',
    ]
    assert report.rolled_back
    assert not Member.objects.exists()

    report = run(community, text, skip_invalid=True)

    assert (report.created, report.skipped, report.invalid) == (1, 0, 2)
    assert Member.objects.get().attributes == {"Plan": "Pro", "T-Shirt Size": "M"}


def test_the_header_error_of_a_wide_file_without_name_or_email_stays_short(community):
    header = ",".join(["city", *(f"c{i}" for i in range(20)), "x" * 100])

    with pytest.raises(ImportFileError) as error:
        run(community, f"{header}\nOslo{',' * 21}\n")

    assert str(error.value) == (
        "The first line must be a header naming the columns, with at least a name or an email "
        "column; found: city, c0, c1, c2, c3, c4, c5, c6, c7, c8 and 12 more."
    )


# --- Two imports of one community at the same moment ------------------------------------------


def waiting_for_the_import_lock(seconds: float = 10) -> bool:
    """Whether another connection waits for an import lock (members/locks.py), within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid::bigint = %s",
                [locks.NAMESPACE],
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


def race(first, second, *, writer, method="flush") -> tuple:
    """Run `first` and `second` on two connections at once: `first` stops after the first
    `writer.<method>` has written its rows, uncommitted, until `second` waits for the import
    lock. Returns what each returned or raised."""
    written, release = threading.Event(), threading.Event()
    original = getattr(writer, method)
    outcomes: dict = {}

    def flush_then_hold(self):
        result = original(self)
        if not written.is_set():  # the first import's first chunk only
            written.set()
            assert release.wait(timeout=30)
        return result

    def run(name, action):
        try:
            outcomes[name] = action()
        except Exception as error:  # reported by the test
            outcomes[name] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in [("1", first), ("2", second)]]
    with mock.patch.object(writer, method, flush_then_hold):
        threads[0].start()
        assert written.wait(timeout=30), "the first import did not reach its writes"
        threads[1].start()
        try:
            waited = waiting_for_the_import_lock()
        finally:
            release.set()
            for thread in threads:
                thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert waited, "the second import did not wait for the first"
    return outcomes["1"], outcomes["2"]


RACED = "source,external_id,name,email\n" + "".join(
    f"slack,U{n},Member {n},m{n}@example.org\n" for n in range(30)
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_the_same_file_at_once_run_one_after_the_other():
    community = CommunityFactory(slug="race-members")

    first, second = race(
        lambda: run(community, RACED),
        lambda: run(community, RACED),
        writer=importing._Merge,
        method="run",
    )

    assert not isinstance(first, Exception), first  # IntegrityError before the lock
    assert not isinstance(second, Exception), second
    assert (first.created, first.updated, first.errors) == (30, 0, [])
    assert (second.created, second.updated, second.unchanged, second.errors) == (0, 0, 30, [])
    assert Member.objects.filter(community=community).count() == 30
    assert Identity.objects.filter(community=community).count() == 30
    assert Member.objects.get(identities__external_id="U7").email == "m7@example.org"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_imports_of_two_communities_do_not_wait_for_each_other():
    community, other = CommunityFactory(slug="race-a"), CommunityFactory(slug="race-b")
    written, release = threading.Event(), threading.Event()
    original = importing._Merge.run

    def flush_then_hold(self):
        result = original(self)
        if self.community == community:
            written.set()
            assert release.wait(timeout=30)
        return result

    def held_import():
        try:
            run(community, RACED)
        finally:
            connection.close()

    thread = threading.Thread(target=held_import)
    with mock.patch.object(importing._Merge, "run", flush_then_hold):
        thread.start()
        try:
            assert written.wait(timeout=30)
            report = run(other, RACED)  # would wait for ever behind the held one
        finally:
            release.set()
            thread.join(timeout=60)

    assert report.created == 30
    assert Member.objects.filter(community=community).count() == 30


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_import_lock_needs_a_transaction():
    with pytest.raises(RuntimeError, match="inside a transaction"):
        locks.import_lock(1)


# --- Safe merges --------------------------------------------------------------------------------


def test_a_date_more_than_a_day_ahead_is_an_invalid_row(community):
    soon = (datetime.now(UTC) + timedelta(hours=20)).isoformat()
    text = f"name,joined_at\nAnn,2030-01-01\nBo,{soon}\n"

    report = run(community, text, skip_invalid=True)

    assert messages(report) == ['line 2: joined_at "2030-01-01" is in the future']
    assert list(Member.objects.values_list("name", flat=True)) == ["Bo"]  # a time zone ahead


def test_a_names_only_file_imported_twice_is_unchanged_the_second_time(community):
    text = "name,city\nAnn Lee,Oslo\nBo Chen,Lima\n"

    assert run(community, text).created == 2
    report = run(community, text.replace("Lima", "Quito"))

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert Member.objects.filter(community=community).count() == 2
    assert Member.objects.get(name="Bo Chen").city == "Quito"


def test_a_names_only_row_two_members_share_would_create_a_duplicate(community):
    MemberFactory(community=community, name="Sam Lee", email="sam1@example.org")
    MemberFactory(community=community, name="Sam Lee", email="sam2@example.org")

    report = run(community, "name,city\nSam Lee,Oslo\nNew Person,Rome\n")

    assert report.errors == []
    assert [str(skip) for skip in report.skips] == [
        'line 2: would create a duplicate: 2 members are called "Sam Lee"; give the row an '
        "email or an external_id"
    ]
    assert (report.created, report.updated, report.skipped) == (1, 0, 1)
    assert not report.rolled_back
    assert Member.objects.filter(community=community, name="Sam Lee").count() == 2


def test_a_names_only_row_repeating_an_earlier_new_one_is_skipped(community):
    report = run(community, "name\nAnn Lee\nAnn Lee\n")

    assert [str(skip) for skip in report.skips] == [
        "line 3: would create a duplicate of the member on line 2"
    ]
    assert Member.objects.filter(community=community, name="Ann Lee").count() == 1


def test_a_names_only_row_matches_by_exact_name_only(community):
    MemberFactory(community=community, name="Ann Lee", email="ann@example.org", city="")

    report = run(community, "name,city\nann lee,Oslo\nAnn Lee,Rome\n")

    # "ann lee" is not exactly anyone's name: a new member; "Ann Lee" is Ann.
    assert (report.created, report.updated) == (1, 1)
    assert Member.objects.get(email="ann@example.org").city == "Rome"


def test_an_email_in_other_letter_case_is_not_rewritten_but_a_new_one_is(community):
    member = MemberFactory(community=community, email="Ann.Lee@Example.org")
    IdentityFactory(member=member, source="slack", external_id="U1")

    report = run(community, "source,external_id,email\nslack,U1,ann.lee@example.org\n")

    assert (report.updated, report.unchanged) == (0, 1)
    member.refresh_from_db()
    assert member.email == "Ann.Lee@Example.org"

    run(community, "source,external_id,email\nslack,U1,ann@new.example\n")

    member.refresh_from_db()
    assert member.email == "ann@new.example"


def test_a_mapping_reads_aliases_and_first_and_last_names(community):
    text = (
        "First Name,Last Name,E-mail,Organization,Position,Created At,Last Seen\n"
        "Ann,Lee,ann@example.org,Acme,Designer,2024-03-01,2024-05-01\n"
    )

    assert run(community, text).created == 1

    ann = Member.objects.get()
    assert (ann.name, ann.email, ann.company_name, ann.job_title) == (
        "Ann Lee",
        "ann@example.org",
        "Acme",
        "Designer",
    )
    assert ann.joined_at == datetime(2024, 3, 1, tzinfo=UTC)
    assert ann.last_seen_at == datetime(2024, 5, 1, tzinfo=UTC)
    assert ann.attributes == {}


@pytest.mark.parametrize(
    ("date_format", "expected"),
    [
        ("day_first", datetime(2025, 12, 1, tzinfo=UTC)),
        ("month_first", datetime(2025, 1, 12, tzinfo=UTC)),
    ],
)
def test_a_declared_date_format_reads_slashed_dates(community, date_format, expected):
    run(community, "name,joined_at\nAnn,01/12/2025\n", date_format=date_format)

    assert Member.objects.get().joined_at == expected


def test_a_slashed_date_without_a_declared_format_is_never_guessed(community):
    report = run(community, "name,joined_at\nAnn,01/12/2025\n")

    assert messages(report) == [
        'line 2: joined_at "01/12/2025" is not ISO 8601: choose day first or month first for '
        "this file's dates"
    ]


def test_a_mapping_can_ignore_a_column_and_rename_another(community):
    text = "Handle,Secret,name\nann_l,hunter2,Ann\n"

    run(community, text, mapping={"Handle": "external_id", "Secret": "ignore"})

    ann = Member.objects.get()
    assert ann.attributes == {}
    assert list(ann.identities.values_list("source", "external_id")) == [("csv", "ann_l")]


def test_a_mapping_that_feeds_one_field_twice_is_a_file_error(community):
    with pytest.raises(ImportFileError, match="both mapped to email"):
        run(community, "email,E-mail\na@example.org,b@example.org\n", mapping={"E-mail": "email"})


def test_an_xlsx_workbook_imports_like_a_csv(community):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Name", "Email", "Member ID", "Joined"])
    sheet.append(["Ann Lee", "ann@example.org", 1042, datetime(2024, 3, 1)])  # noqa: DTZ001
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)

    report = import_members(community=community, file=buffer)

    assert (report.created, report.errors) == (1, [])
    ann = Member.objects.get()
    assert (ann.name, ann.email, ann.joined_at) == (
        "Ann Lee",
        "ann@example.org",
        datetime(2024, 3, 1, tzinfo=UTC),
    )
    assert list(ann.identities.values_list("external_id", flat=True)) == ["1042"]


def test_a_dry_run_counts_and_writes_nothing(community):
    MemberFactory(community=community, email="ann@example.org", city="Oslo")

    report = import_members(
        community=community,
        file=io.BytesIO(b"email,city\nann@example.org,Rome\nbo@example.org,Lima\n"),
        dry_run=True,
    )

    assert (report.created, report.updated, report.dry_run) == (1, 1, True)
    assert Member.objects.filter(community=community).count() == 1
    assert Member.objects.get().city == "Oslo"


def test_progress_is_reported_as_rows_are_read(community, monkeypatch):
    monkeypatch.setattr(staging, "BATCH_ROWS", 100)
    seen = []
    rows = "".join(f"Member {n}\n" for n in range(250))

    import_members(
        community=community, file=io.BytesIO(f"name\n{rows}".encode()), progress=seen.append
    )

    assert seen == [100, 200, 250]


def test_a_file_of_more_than_200_columns_is_refused_even_when_ignored(community):
    header = ",".join(["name", *(f"c{i}" for i in range(200))])
    ignored = {f"c{i}": "ignore" for i in range(200)}

    with pytest.raises(ImportFileError, match="has 201 columns; a file may have at most 200"):
        run(community, f"{header}\nAnn{',' * 200}\n", mapping=ignored)
