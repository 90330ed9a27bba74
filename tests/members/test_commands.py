"""create_community, grant_access and import_members (docs/cli.md)."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from members.models import Community, CommunityRole, Identity, Member, Role
from tests.commands import run_from_argv
from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parent.parent / "data"


def call(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# create_community ---------------------------------------------------------------------------


def test_create_community(db):
    out, _ = call(
        "create_community", "acme", "--name", "Acme Builders", "--timezone", "Europe/Paris"
    )

    community = Community.objects.get(slug="acme")
    assert (community.name, community.timezone) == ("Acme Builders", "Europe/Paris")
    assert 'Created community "Acme Builders" (acme).' in out


def test_create_community_defaults_to_utc(db):
    call("create_community", "acme", "--name", "Acme")

    assert Community.objects.get(slug="acme").timezone == "UTC"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["acme", "--name", "Again"], 'A community with the slug "acme" already exists.'),
        (["not a slug", "--name", "X"], "Invalid community. slug: Enter a valid “slug”"),
        (["x" * 61, "--name", "X"], "slug: Ensure this value has at most 60 characters"),
        (["new", "--name", " "], "name: This field cannot be blank."),
        (["new", "--name", "X", "--timezone", "Mars/Olympus"], 'Unknown time zone "Mars/Olympus"'),
    ],
)
def test_create_community_refuses_bad_input(community, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call("create_community", *args)
    assert Community.objects.count() == 1


# grant_access -------------------------------------------------------------------------------


def test_grant_access_creates_then_updates_the_role(community):
    user = UserFactory(username="bob")

    out, _ = call("grant_access", "acme", "bob", "--role", "viewer")
    assert out.strip() == "bob is now viewer of acme."
    out, _ = call("grant_access", "acme", "bob", "--role", "admin")

    assert out.strip() == "bob is now admin of acme (was viewer)."
    assert CommunityRole.objects.get(user=user).role == Role.ADMIN
    assert CommunityRole.objects.filter(user=user).count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere", "bob", "--role", "viewer"], 'No community with the slug "nowhere".'),
        (["acme", "nobody", "--role", "viewer"], 'No user named "nobody".'),
        (["acme", "bob", "--role", "owner"], "invalid choice: 'owner'"),
    ],
)
def test_grant_access_refuses_bad_input(community, args, message):
    UserFactory(username="bob")

    with pytest.raises(CommandError, match=re.escape(message)):
        call("grant_access", *args)
    assert not CommunityRole.objects.exists()


# import_members -----------------------------------------------------------------------------


@pytest.fixture
def csv_file(tmp_path):
    def write(text, name="members.csv"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


GOOD = "name,email,source,external_id\nAnn,ann@example.org,slack,U1\nBen,ben@example.org,,\n"

# Line 7 (the header is line 1) has an impossible date.
LINE_7_INVALID = (
    "name,email,joined_at\n"
    "Ann,ann@example.org,2024-01-01\n"
    "Ben,ben@example.org,2024-01-02\n"
    "Cat,cat@example.org,2024-01-03\n"
    "Dan,dan@example.org,2024-01-04\n"
    "Eve,eve@example.org,2024-01-05\n"
    "Fay,fay@example.org,2024-02-30\n"
    "Gus,gus@example.org,2024-01-07\n"
)


def test_import_members_prints_the_report(community, csv_file):
    out, err = call("import_members", "acme", csv_file(GOOD))

    assert out.strip() == "Read 2 rows: 2 created, 0 updated, 0 skipped."
    assert err == ""
    assert set(Member.objects.values_list("name", flat=True)) == {"Ann", "Ben"}
    assert Identity.objects.get().external_id == "U1"

    out, _ = call("import_members", "acme", csv_file(GOOD))
    assert out.strip() == "Read 2 rows: 0 created, 0 updated, 2 unchanged, 0 skipped."


def test_an_invalid_line_7_exits_1_names_the_line_and_writes_nothing(community, csv_file):
    status, out, err = run_from_argv("import_members", "acme", csv_file(LINE_7_INVALID))

    assert status == 1
    assert 'line 7: joined_at "2024-02-30" is not an ISO 8601 date or date-time' in err
    assert "nothing was imported" in err
    assert "Traceback" not in err
    assert "Read 7 rows: 0 created, 0 updated, 6 skipped, 1 invalid." in out
    assert not Member.objects.exists()


def test_a_good_file_exits_0(community, csv_file):
    status, out, _ = run_from_argv("import_members", "acme", csv_file(GOOD))

    assert status == 0
    assert "2 created" in out


def test_skip_invalid_writes_the_good_rows_and_still_exits_1(community, csv_file):
    status, out, err = run_from_argv(
        "import_members", "acme", csv_file(LINE_7_INVALID), "--skip-invalid"
    )

    assert status == 1
    assert err.splitlines()[0] == (
        'line 7: joined_at "2024-02-30" is not an ISO 8601 date or date-time'
    )
    assert "1 invalid row skipped; the valid rows were imported." in err
    assert "Read 7 rows: 6 created, 0 updated, 0 skipped, 1 invalid." in out
    assert Member.objects.count() == 6
    assert not Member.objects.filter(name="Fay").exists()


def test_every_bad_row_is_reported(community, csv_file):
    text = "name,email\nAnn,ann@example.org\n,\nBen,nope\nCy,ANN@example.org\n"

    with pytest.raises(CommandError, match="2 invalid rows; nothing was imported"):
        call("import_members", "acme", csv_file(text))


def test_import_members_output_lists_bad_rows(community, csv_file):
    text = "name,email\nAnn,ann@example.org\nBen,nope\nCy,ANN@example.org\n"
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_members", "acme", csv_file(text), stdout=StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        'line 3: email "nope" is not a valid email address',
        'line 4: email "ANN@example.org" repeats line 2',
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "The file is empty"),
        ("Ann,ann@example.org\n", "The first line must be a header"),
        ("name,Name\nA,B\n", 'names the column "Name" twice'),
    ],
)
def test_file_level_problems_are_a_command_error(community, csv_file, content, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call("import_members", "acme", csv_file(content))


def test_a_non_utf8_file_is_a_clear_error(community, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("name,city\nJosé,Zürich\n".encode("latin-1"))

    status, _, err = run_from_argv("import_members", "acme", str(path))

    assert status == 1
    assert "The file is not UTF-8 text" in err
    assert "Nothing was imported." in err
    assert "Traceback" not in err


def test_a_missing_file_is_a_clear_error(community, tmp_path):
    with pytest.raises(
        CommandError, match=r"Cannot read .*missing\.csv: No such file or directory\."
    ):
        call("import_members", "acme", str(tmp_path / "missing.csv"))


def test_a_directory_is_a_clear_error(community, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call("import_members", "acme", str(tmp_path))


def test_an_unknown_community_is_a_clear_error(db, csv_file):
    with pytest.raises(CommandError, match=re.escape('No community with the slug "nowhere".')):
        call("import_members", "nowhere", csv_file(GOOD))


def test_import_updates_members_of_the_named_community_only(community, other_community, csv_file):
    theirs = MemberFactory(community=other_community, email="ann@example.org", name="Other Ann")

    call("import_members", "acme", csv_file(GOOD))

    theirs.refresh_from_db()
    assert theirs.name == "Other Ann"
    assert Member.objects.filter(community=community).count() == 2


def test_import_the_stack_exchange_sample(community):
    out, _ = call("import_members", "acme", str(DATA / "stackexchange_members.csv"))

    assert out.strip() == "Read 200 rows: 200 created, 0 updated, 0 skipped."
    member = Member.objects.get(identities__source="stackexchange", identities__external_id="67")
    assert member.name == "Luis Valencia - MVP"
    assert member.location == "Medellín - Antioquia, Colombia"
