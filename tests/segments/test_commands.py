"""The segment commands of docs/cli.md: refresh_segments, import_segments, export_segments and
export_members, run as manage.py runs them (tests/commands.py)."""

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engagement.models import MemberScore
from segments.models import Kind, MembershipChange, Segment, SegmentMembership, Via
from segments.services import segment_add_members, segment_create
from tests.commands import run_from_argv
from tests.factories import IdentityFactory, MemberFactory

AS_OF = "2026-06-01T12:00:00"
AS_OF_UTC = datetime(2026, 6, 1, 12, tzinfo=UTC)


def write_json(tmp_path, data, name="segments.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def score(member, frequency, recency, impact):
    engagement = round((Decimal(frequency) + Decimal(recency) + Decimal(impact)) / 3, 2)
    return MemberScore.objects.create(
        member=member,
        community=member.community,
        frequency=frequency,
        recency=recency,
        impact=impact,
        engagement=engagement,
        as_of=AS_OF_UTC,
    )


def parse_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def people(community):
    """Five members of `community` with different jobs, places and dates."""
    at = lambda *args: datetime(*args, tzinfo=UTC)  # noqa: E731
    return {
        "ada": MemberFactory(
            community=community,
            name="Ada Lovelace",
            email="ada@example.org",
            company_name="Acme",
            job_title="Senior Designer",
            city="Austin",
            country="USA",
            location="Austin, TX",
            joined_at=at(2026, 5, 28),
            last_seen_at=at(2026, 5, 31),
        ),
        "grace": MemberFactory(
            community=community,
            name="Grace Hopper",
            email="grace@example.org",
            company_name="Navy",
            job_title="Engineer",
            city="Arlington",
            country="USA",
            location="Arlington, VA",
            joined_at=at(2026, 1, 10),
            last_seen_at=at(2026, 2, 1),
        ),
        "linus": MemberFactory(
            community=community,
            name="Linus",
            email="",
            company_name="acme",
            job_title="UX designer",
            city="Helsinki",
            country="Finland",
            location="Helsinki",
            joined_at=at(2025, 6, 1),
            last_seen_at=None,
        ),
        "eve": MemberFactory(
            community=community,
            name='=HYPERLINK("http://evil")',
            email="eve@example.org",
            company_name="+Evil Corp",
            job_title="-admin",
            city="@home",
            country="\tTabland",
            location="\rnowhere",
            joined_at=at(2024, 1, 1),
        ),
        "bob": MemberFactory(
            community=community,
            name="Bob",
            email="bob@example.org",
            company_name="Globex",
            job_title="Sales",
            city="Paris",
            country="France",
            location="Paris",
            joined_at=at(2026, 5, 30),
        ),
    }


# --- refresh_segments ---------------------------------------------------------------------------


def test_refresh_segments_prints_each_segment_and_a_second_run_writes_nothing(community, people):
    designers = segment_create(
        community=community,
        name="Designers",
        kind=Kind.SMART,
        rule={"all": [{"field": "job_title", "op": "contains", "value": "designer"}]},
    )
    segment_create(
        community=community,
        name="New",
        kind=Kind.SMART,
        rule={
            "all": [
                {"field": "joined_at", "op": "within_last", "value": {"amount": 7, "unit": "days"}}
            ]
        },
    )

    status, out, err = run_from_argv("refresh_segments", "acme", "--as-of", AS_OF)

    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "Designers: 2 entered, 0 left, 2 members",
        "New: 2 entered, 0 left, 2 members",
    ]
    assert set(
        SegmentMembership.objects.filter(segment=designers).values_list("member__name", flat=True)
    ) == {"Ada Lovelace", "Linus"}
    # The naive --as-of is UTC.
    designers.refresh_from_db()
    assert designers.refreshed_at == AS_OF_UTC

    memberships = SegmentMembership.objects.count()
    changes = MembershipChange.objects.count()
    status, out, _ = run_from_argv("refresh_segments", "acme", "--as-of", AS_OF)

    assert status == 0
    assert out.splitlines() == [
        "Designers: 0 entered, 0 left, 2 members",
        "New: 0 entered, 0 left, 2 members",
    ]
    assert SegmentMembership.objects.count() == memberships == 4
    assert MembershipChange.objects.count() == changes == 4
    for segment in Segment.objects.filter(community=community):
        assert segment.member_count == segment.memberships.count()


def test_refresh_segments_as_of_moves_relative_dates(community, people):
    segment_create(
        community=community,
        name="New",
        kind=Kind.SMART,
        rule={
            "all": [
                {"field": "joined_at", "op": "within_last", "value": {"amount": 7, "unit": "days"}}
            ]
        },
    )
    run_from_argv("refresh_segments", "acme", "--as-of", AS_OF)

    # Ten days later Ada (May 28) and Bob (May 30) are no longer new.
    status, out, _ = run_from_argv("refresh_segments", "acme", "--as-of", "2026-06-10T12:00:00Z")

    assert status == 0
    assert out.splitlines() == ["New: 0 entered, 2 left, 0 members"]
    left = MembershipChange.objects.filter(change="left").values_list("member__name", flat=True)
    assert sorted(left) == ["Ada Lovelace", "Bob"]


def test_refresh_segments_names_the_failing_segment_and_exits_1(community, people):
    segment_create(
        community=community,
        name="Designers",
        kind=Kind.SMART,
        rule={"all": [{"field": "job_title", "op": "contains", "value": "designer"}]},
    )
    broken = segment_create(
        community=community,
        name="Broken",
        kind=Kind.SMART,
        rule={"all": [{"field": "city", "op": "is", "value": "Austin"}]},
    )
    # A rule edited behind the services' back (e.g. in the admin) that no longer parses.
    Segment.objects.filter(pk=broken.pk).update(rule={"all": [{"field": "shoe_size"}]})

    status, out, err = run_from_argv("refresh_segments", "acme", "--as-of", AS_OF)

    assert status == 1
    assert "Designers: 2 entered, 0 left, 2 members" in out
    assert "Broken: failed: The rule is not valid: condition 1 of group 1: unknown field" in err
    assert '1 segment could not be refreshed: "Broken".' in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("nope",), 'No community with the slug "nope".'),
        (("acme", "--as-of", "yesterday"), 'Invalid --as-of "yesterday"'),
    ],
)
def test_refresh_segments_bad_input(community, argv, message):
    status, _, err = run_from_argv("refresh_segments", *argv)

    assert status == 1
    assert message in err
    assert "Traceback" not in err


# --- import_segments ----------------------------------------------------------------------------


def test_import_segments_creates_smart_and_manual_segments(
    community, people, tmp_path, celery_calls, django_capture_on_commit_callbacks
):
    path = write_json(
        tmp_path,
        [
            {
                "name": "Acme designers",
                "kind": "smart",
                "rule": {
                    "all": [
                        {"field": "company_name", "op": "is", "value": "ACME"},
                        {"field": "segment", "op": "not_in", "value": "Mentors"},
                    ]
                },
                "pinned": True,
                "description": "Designers at Acme",
                "color": "green",
            },
            {
                "name": "Mentors",
                "kind": "manual",
                "members": ["GRACE@example.org", "linus", "Ada Lovelace"],
                "review_every_days": 30,
            },
        ],
    )

    with django_capture_on_commit_callbacks(execute=True):
        status, out, err = run_from_argv("import_segments", "acme", path)

    assert (status, err) == (0, "")
    assert 'Created smart segment "Acme designers".' in out
    assert 'Created manual segment "Mentors" (3 members added, 0 already in it).' in out
    mentors = Segment.objects.get(community=community, name="Mentors")
    smart = Segment.objects.get(community=community, name="Acme designers")
    # The reference by name became the id of the segment created later in the file.
    assert smart.rule == {
        "all": [
            {"field": "company_name", "op": "is", "value": "ACME"},
            {"field": "segment", "op": "not_in", "value": mentors.pk},
        ]
    }
    assert (smart.pinned, smart.description, smart.color) == (True, "Designers at Acme", "green")
    assert mentors.review_every_days == 30
    assert set(mentors.memberships.values_list("member__name", "via")) == {
        ("Grace Hopper", Via.IMPORT),
        ("Linus", Via.IMPORT),
        ("Ada Lovelace", Via.IMPORT),
    }
    assert mentors.member_count == 3
    # The smart segment's refresh was enqueued once the import committed.
    enqueued = [
        args[:2] for name, args, _, _ in celery_calls if name.endswith("refresh_segment_task")
    ]
    assert (community.pk, smart.pk) in enqueued

    run_from_argv("refresh_segments", "acme", "--as-of", AS_OF)
    # Acme (case-insensitive) minus the mentors Ada and Linus: no one.
    assert smart.memberships.count() == 0


def test_import_segments_upserts_by_name(community, people, tmp_path):
    existing = segment_create(
        community=community,
        name="Designers",
        kind=Kind.SMART,
        rule={"all": [{"field": "job_title", "op": "contains", "value": "designer"}]},
        description="Old",
        color="rose",
    )
    path = write_json(
        tmp_path,
        [
            {
                "name": "designers",
                "kind": "smart",
                "rule": {"all": [{"field": "job_title", "op": "starts_with", "value": "senior"}]},
                "description": "New",
            }
        ],
    )

    status, out, _ = run_from_argv("import_segments", "acme", path)

    assert status == 0
    assert 'Updated smart segment "designers".' in out
    assert Segment.objects.filter(community=community).count() == 1
    existing.refresh_from_db()
    assert existing.name == "designers"
    assert existing.rule == {
        "all": [{"field": "job_title", "op": "starts_with", "value": "senior"}]
    }
    assert existing.rule_version == 2
    assert existing.description == "New"
    assert existing.color == "rose"  # absent from the file: left alone


def test_a_third_segment_with_an_unknown_field_saves_none(community, people, tmp_path):
    """The done-when case of the segments file."""
    path = write_json(
        tmp_path,
        [
            {"name": "Mentors", "kind": "manual", "members": ["ada@example.org"]},
            {
                "name": "Designers",
                "kind": "smart",
                "rule": {"all": [{"field": "job_title", "op": "contains", "value": "designer"}]},
            },
            {
                "name": "Brewers",
                "kind": "smart",
                "rule": {"all": [{"field": "favourite_beer", "op": "is", "value": "stout"}]},
            },
        ],
    )

    status, out, err = run_from_argv("import_segments", "acme", path)

    assert status == 1
    assert "segment 3 \"Brewers\": condition 1 of group 1: unknown field 'favourite_beer'" in err
    assert "1 problem; no segment was imported." in err
    assert "Traceback" not in err
    assert out == ""
    assert not Segment.objects.filter(community=community).exists()
    assert not SegmentMembership.objects.exists()


def test_every_problem_is_reported_by_segment(community, people, tmp_path):
    MemberFactory(community=community, name="Sam", email="sam1@example.org")
    MemberFactory(community=community, name="Sam", email="sam2@example.org")
    segment_create(community=community, name="Hosts", kind=Kind.MANUAL)
    path = write_json(
        tmp_path,
        [
            {
                "name": "A",
                "kind": "smart",
                "rule": {"all": [{"field": "segment", "op": "in", "value": "B"}]},
            },
            {
                "name": "B",
                "kind": "smart",
                "rule": {"any": [{"all": [{"field": "segment", "op": "in", "value": "A"}]}]},
            },
            {"name": "C", "kind": "manual", "members": ["Sam", "nobody@example.org", "Bob"]},
            {
                "name": "D",
                "kind": "smart",
                "rule": {"all": [{"field": "segment", "op": "in", "value": "Ghosts"}]},
            },
            {"name": "hosts", "kind": "smart", "rule": {"all": []}},
            {
                "name": "E",
                "kind": "smart",
                "rule": {"all": [{"field": "impact_score", "op": "gt", "value": "lots"}]},
                "colour": "red",
            },
            {"name": "a", "kind": "manual"},
        ],
    )

    status, _, err = run_from_argv("import_segments", "acme", path)

    assert status == 1
    problems = [line.split(": ", 1)[1] for line in err.splitlines() if line.startswith(path)]
    assert problems == [
        "segment 5 \"hosts\": the community's segment 'Hosts' is manual; a file cannot change "
        "a segment's kind",
        "segment 6 \"E\": unexpected key 'colour'; use name, kind, rule, members, pinned, "
        "description, color or review_every_days",
        'segment 7 "a": repeats the name of segment 1',
        'segment 4 "D": condition 1 of group 1: no segment called "Ghosts" in the file or the '
        "community",
        'segment 1 "A": the rules refer to each other in a circle: A → B → A',
        'segment 2 "B": the rules refer to each other in a circle: B → A → B',
        'segment 3 "C": "Sam" matches 2 members; use their emails',
        'segment 3 "C": no member with the email or name "nobody@example.org"',
    ]
    assert "8 problems; no segment was imported." in err
    assert list(Segment.objects.filter(community=community).values_list("name", flat=True)) == [
        "Hosts"
    ]


def test_a_rule_error_inside_a_nested_group_names_the_path(community, tmp_path):
    path = write_json(
        tmp_path,
        [
            {"name": "Ok", "kind": "smart", "rule": {"all": []}},
            {
                "name": "Nested",
                "kind": "smart",
                "rule": {
                    "all": [
                        {"field": "city", "op": "is", "value": "Austin"},
                        {"any": [{"field": "country", "op": "is"}]},
                    ]
                },
            },
        ],
    )

    status, _, err = run_from_argv("import_segments", "acme", path)

    assert status == 1
    assert 'segment 2 "Nested": condition 1 of group 1.2: is needs a value' in err
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "the file is not valid JSON: Expecting property name enclosed in double "
         "quotes (line 1, column 2)"),
        ('{"name": "A", "kind": "smart"}', "the file must hold a JSON list of segments, not an "
         "object"),
        ('[{"name": "A", "kind": "manual"}, "B"]', "segment 2: must be an object with a name and "
         "a kind, not a string"),
        ('[{"kind": "manual"}]', 'segment 1: needs a "name" (text)'),
        ('[{"name": "A", "kind": "clever"}]', 'segment 1 "A": "kind" must be "smart" or '
         '"manual", not "clever"'),
        ('[{"name": "A"}]', 'segment 1 "A": "kind" must be "smart" or "manual", not null'),
        ('[{"name": "A", "kind": "smart"}]', 'segment 1 "A": a smart segment needs a "rule"'),
        ('[{"name": "A", "kind": "manual", "members": "ada"}]', 'segment 1 "A": "members" must '
         "be a list of names or emails"),
        ('[{"name": "A", "kind": "manual", "pinned": "yes"}]', 'segment 1 "A": "pinned" must be '
         "true or false"),
        (b"\xff\xfe[]", "the file is not UTF-8 text"),
    ],
)  # fmt: skip
def test_bad_files_give_a_clear_error_and_write_nothing(community, tmp_path, content, message):
    path = tmp_path / "segments.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")

    status, out, err = run_from_argv("import_segments", "acme", str(path))

    assert status == 1
    assert f"{path}: {message}\n" in err
    assert "no segment was imported." in err
    assert "Traceback" not in err
    assert out == ""
    assert not Segment.objects.exists()


def test_import_segments_missing_file_and_community(community, tmp_path):
    status, _, err = run_from_argv("import_segments", "acme", str(tmp_path / "missing.json"))
    assert status == 1
    assert f"Cannot read {tmp_path / 'missing.json'}: No such file or directory." in err

    status, _, err = run_from_argv("import_segments", "nope", str(tmp_path / "missing.json"))
    assert status == 1
    assert 'No community with the slug "nope".' in err


# --- export_segments ----------------------------------------------------------------------------


def test_export_then_import_into_another_community_gives_the_same_segments(
    community, other_community, people, tmp_path
):
    # The other community has the same people (matched by email, or name without one).
    for member in people.values():
        MemberFactory(community=other_community, name=member.name, email=member.email)
    mentors = segment_create(
        community=community, name="Mentors", kind=Kind.MANUAL, review_every_days=14, pinned=True
    )
    segment_add_members(segment=mentors, entries=["ada@example.org", "Linus"])
    segment_create(
        community=community,
        name="Designers not mentoring",
        kind=Kind.SMART,
        color="violet",
        description="For the AMA",
        rule={
            "all": [
                {"field": "job_title", "op": "contains", "value": "designer"},
                {
                    "any": [
                        {"field": "segment", "op": "not_in", "value": mentors.pk},
                        {"field": "impact_score", "op": "between", "value": [1.5, 2.25]},
                    ]
                },
            ]
        },
    )
    out_path = tmp_path / "export.json"

    status, out, err = run_from_argv("export_segments", "acme", "-o", str(out_path))

    assert (status, out, err) == (0, "", "")
    exported = json.loads(out_path.read_text(encoding="utf-8"))
    assert exported == [
        {
            "name": "Mentors",
            "kind": "manual",
            "members": ["ada@example.org", "Linus"],
            "pinned": True,
            "description": "",
            "color": "blue",
            "review_every_days": 14,
        },
        {
            "name": "Designers not mentoring",
            "kind": "smart",
            "rule": {
                "all": [
                    {"field": "job_title", "op": "contains", "value": "designer"},
                    {
                        "any": [
                            {"field": "segment", "op": "not_in", "value": "Mentors"},
                            {"field": "impact_score", "op": "between", "value": [1.5, 2.25]},
                        ]
                    },
                ]
            },
            "pinned": False,
            "description": "For the AMA",
            "color": "violet",
        },
    ]
    # Standard output gives the same text.
    assert run_from_argv("export_segments", "acme")[1] == out_path.read_text(encoding="utf-8")

    status, _, err = run_from_argv("import_segments", "globex", str(out_path))

    assert (status, err) == (0, "")
    status, again, _ = run_from_argv("export_segments", "globex")
    assert json.loads(again) == exported
    copied = Segment.objects.get(community=other_community, name="Mentors")
    assert copied.pk != mentors.pk
    assert set(copied.memberships.values_list("member__community", flat=True)) == {
        other_community.pk
    }


# --- export_members -----------------------------------------------------------------------------


def test_export_members_writes_every_column(community, people, tmp_path):
    IdentityFactory(member=people["ada"], source="slack", external_id="U123")
    IdentityFactory(member=people["ada"], source="discourse", external_id="42")
    score(people["ada"], "1.50", "3.00", "2.25")
    out_path = tmp_path / "members.csv"

    status, out, _ = run_from_argv("export_members", "acme", "-o", str(out_path))

    assert status == 0
    assert out == f"Wrote 5 members to {out_path}.\n"
    data = out_path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark, for Excel
    raw = data.decode("utf-8-sig")
    assert raw.startswith(
        "name,email,external_ids,company_name,job_title,location,city,country,joined_at,"
        "last_seen_at,frequency_score,recency_score,impact_score,engagement_score\r\n"
    )
    rows = parse_csv(raw)
    assert [row["email"] for row in rows] == [
        "ada@example.org",
        "grace@example.org",
        "",
        "eve@example.org",
        "bob@example.org",
    ]  # member id order
    assert rows[0] == {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "external_ids": "discourse:42; slack:U123",
        "company_name": "Acme",
        "job_title": "Senior Designer",
        "location": "Austin, TX",
        "city": "Austin",
        "country": "USA",
        "joined_at": "2026-05-28T00:00:00Z",
        "last_seen_at": "2026-05-31T00:00:00Z",
        "frequency_score": "1.50",
        "recency_score": "3.00",
        "impact_score": "2.25",
        "engagement_score": "2.25",
    }
    # No score row: zeros; no last seen: empty.
    assert rows[2]["name"] == "Linus"
    assert rows[2]["last_seen_at"] == ""
    assert [rows[2][f"{s}_score"] for s in ("frequency", "recency", "impact", "engagement")] == [
        "0.00"
    ] * 4


def test_export_members_escapes_formula_cells(community, people):
    status, out, _ = run_from_argv("export_members", "acme")

    assert status == 0
    eve = next(row for row in parse_csv(out) if row["email"] == "eve@example.org")
    assert eve["name"] == '\'=HYPERLINK("http://evil")'
    assert eve["company_name"] == "'+Evil Corp"
    assert eve["job_title"] == "'-admin"
    assert eve["city"] == "'@home"
    assert eve["country"] == "'\tTabland"
    assert eve["location"] == "'\rnowhere"
    # Ordinary cells are left alone.
    ada = next(row for row in parse_csv(out) if row["email"] == "ada@example.org")
    assert ada["name"] == "Ada Lovelace"


def test_export_members_of_a_segment_adds_when_each_entered(community, people):
    segment = segment_create(
        community=community,
        name="Designers",
        kind=Kind.SMART,
        rule={"all": [{"field": "job_title", "op": "contains", "value": "designer"}]},
    )
    run_from_argv("refresh_segments", "acme", "--as-of", AS_OF)
    SegmentMembership.objects.filter(segment=segment, member=people["linus"]).update(
        added_at=datetime(2026, 4, 1, 8, 30, tzinfo=UTC)
    )

    status, out, _ = run_from_argv("export_members", "acme", "--segment", "designers")

    assert status == 0
    assert out.splitlines()[0].endswith(",engagement_score,entered_at")
    rows = parse_csv(out)
    assert [(row["name"], row["entered_at"]) for row in rows] == [
        ("Ada Lovelace", "2026-06-01T12:00:00Z"),
        ("Linus", "2026-04-01T08:30:00Z"),
    ]


def test_export_members_of_an_unknown_segment_writes_nothing(community, people, tmp_path):
    segment_create(community=community, name="Mentors", kind=Kind.MANUAL)
    out_path = tmp_path / "members.csv"

    status, out, err = run_from_argv(
        "export_members", "acme", "--segment", "Mentorz", "-o", str(out_path)
    )

    assert status == 1
    assert out == ""
    assert (
        'No segment called "Mentorz" in "Acme Builders" (its segments: "Mentors"). '
        "Nothing was written." in err
    )
    assert "Traceback" not in err
    assert not out_path.exists()


def test_export_members_streams_in_chunks(community, people, django_assert_max_num_queries):
    # Three queries however many members: the members with scores, their identities, and
    # nothing per member.
    with django_assert_max_num_queries(3):
        status, out, _ = run_from_argv("export_members", "acme")
    assert status == 0
    assert len(parse_csv(out)) == 5


@pytest.mark.parametrize(
    ("rule", "names"),
    [
        ({"all": [{"field": "last_seen_at", "op": "is_empty"}]}, {"Linus", "Bob", "eve"}),
        (
            {"all": [{"field": "source", "op": "is_not", "value": "Slack"}]},
            {"Grace Hopper", "Linus", "Bob", "eve"},
        ),
        ({"all": [{"field": "source", "op": "is", "value": "slack"}]}, {"Ada Lovelace"}),
        (
            {
                "any": [
                    {"field": "email", "op": "is_empty"},
                    {"field": "country", "op": "ends_with", "value": "ANCE"},
                ]
            },
            {"Linus", "Bob"},
        ),
    ],
)
def test_imported_rules_select_members_end_to_end(community, people, tmp_path, rule, names):
    """import_segments → refresh_segments → export_members, on operators the Stack Exchange
    test cannot exercise (no member there lacks a last-seen date or has a second source)."""
    IdentityFactory(member=people["ada"], source="slack", external_id="U1")
    people["eve"].name = "eve"
    people["eve"].save()
    path = write_json(tmp_path, [{"name": "S", "kind": "smart", "rule": rule}])

    assert run_from_argv("import_segments", "acme", path)[0] == 0
    assert run_from_argv("refresh_segments", "acme", "--as-of", AS_OF)[0] == 0
    status, out, _ = run_from_argv("export_members", "acme", "--segment", "S")

    assert status == 0
    assert {row["name"] for row in parse_csv(out)} == names
