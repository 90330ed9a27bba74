"""The activities CSV importer and its command (docs/cli.md "Imports",
docs/scoring.md "Last Seen")."""

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engagement import importing
from engagement.importing import ImportFileError, import_activities
from engagement.models import Activity, HealthSnapshot, MemberScore
from members import staging
from members.mapping import ImportOptions
from members.models import Member
from members.signals import members_changed
from tests.commands import run_from_argv
from tests.factories import ActivityFactory, IdentityFactory, MemberFactory

pytestmark = pytest.mark.django_db


def run(community, text, *, skip_invalid=False):
    file = io.BytesIO(text.encode())
    return import_activities(community=community, file=file, skip_invalid=skip_invalid)


def messages(report):
    return [str(error) for error in report.errors]


@pytest.fixture
def ann(community):
    member = MemberFactory(community=community, name="Ann", email="ann@example.org")
    IdentityFactory(member=member, source="slack", external_id="U1")
    return member


@pytest.fixture
def bo(community):
    return MemberFactory(community=community, name="Bo", email="Bo@Example.org")


GOOD = (
    "\ufeffoccurred_at,kind,source,member_external_id,member_email,external_id,channel,title,url\n"
    "2026-05-01T10:00:00Z,message,slack,U1,,m1,#general,Hello,https://example.org/m1\n"
    "2026-05-02,post,,,bo@example.org,,,Ideas,\n"
    "2026-05-03T08:30:00+02:00,reaction_received,slack,U1,,m2,,,\n"
)


def test_a_good_file_creates_activities_with_exact_values(community, ann, bo):
    report = run(community, GOOD)

    assert (report.rows_read, report.created, report.unchanged, report.skipped) == (3, 3, 0, 0)
    assert report.errors == []
    message = Activity.objects.get(community=community, external_id="m1")
    assert (message.member, message.kind.slug, message.source) == (ann, "message", "slack")
    assert message.occurred_at == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert (message.channel, message.title, message.url) == (
        "#general",
        "Hello",
        "https://example.org/m1",
    )
    post = Activity.objects.get(community=community, kind__slug="post")
    # Matched by email case-insensitively; no source given means "csv".
    assert (post.member, post.source, post.external_id) == (bo, "csv", "")
    assert post.occurred_at == datetime(2026, 5, 2, tzinfo=UTC)
    received = Activity.objects.get(community=community, external_id="m2")
    assert received.occurred_at == datetime(2026, 5, 3, 6, 30, tzinfo=UTC)


def unknown_kind_on_line_12():
    rows = [f"slack,U1,message,2026-05-{day:02d}T12:00:00,a{day}\n" for day in range(1, 12)]
    rows[10] = "slack,U1,posted,2026-05-11T12:00:00,a11\n"  # Line 12: header + 10 rows before.
    rows.append("slack,U1,reply,2026-05-12T12:00:00,a12\n")
    return "source,member_external_id,kind,occurred_at,external_id\n" + "".join(rows)


def test_an_unknown_kind_on_line_12_exits_1_names_line_12_and_writes_nothing(
    community, ann, tmp_path
):
    path = tmp_path / "activities.csv"
    path.write_text(unknown_kind_on_line_12())

    status, out, err = run_from_argv("import_activities", "acme", str(path))

    assert status == 1
    assert err.splitlines()[0].startswith('line 12: unknown kind "posted"; known kinds: ')
    assert "answer_accepted" in err.splitlines()[0]
    assert "1 invalid row; nothing was imported" in err
    assert "Read 12 rows: 0 created, 0 updated, 11 skipped, 1 invalid." in out
    assert not Activity.objects.exists()
    ann.refresh_from_db()
    assert ann.last_seen_at is None


def test_skip_invalid_writes_the_good_rows(community, ann, tmp_path):
    path = tmp_path / "activities.csv"
    path.write_text(unknown_kind_on_line_12())

    status, out, err = run_from_argv("import_activities", "acme", str(path), "--skip-invalid")

    assert status == 1
    assert err.splitlines()[0].startswith("line 12: unknown kind")
    assert "Read 12 rows: 11 created, 0 updated, 0 skipped, 1 invalid." in out
    assert Activity.objects.filter(community=community, member=ann).count() == 11
    # What was imported is scored, even though the command reports the skipped row.
    assert "Scored 1 member" in out
    assert MemberScore.objects.get(member=ann).impact_raw > 0
    assert not Activity.objects.filter(external_id="a11").exists()


def test_the_command_succeeds_on_a_good_file(community, ann, bo, tmp_path):
    path = tmp_path / "activities.csv"
    path.write_text(GOOD, encoding="utf-8")

    status, out, err = run_from_argv("import_activities", "acme", str(path))

    assert (status, err) == (0, "")
    # The community is scored right away: both members did too little, too long ago.
    assert out.splitlines() == [
        "Read 3 rows: 3 created, 0 updated, 0 skipped.",
        "Scored 2 members: 0 super users, 0 active, 2 inactive.",
    ]
    scores = MemberScore.objects.filter(community=community)
    assert set(scores.values_list("member", flat=True)) == {ann.pk, bo.pk}
    assert scores.get(member=ann).impact_raw > 0
    assert timezone.now() - scores.first().as_of < timedelta(minutes=1)


def test_the_score_counts_what_was_just_imported(community, ann, tmp_path):
    now = timezone.now().replace(microsecond=0)
    rows = [f"slack,U1,reply,{(now - timedelta(days=d)).isoformat()}\n" for d in range(1, 31)]
    path = tmp_path / "activities.csv"
    path.write_text("source,member_external_id,kind,occurred_at\n" + "".join(rows))

    status, out, _ = run_from_argv("import_activities", "acme", str(path))

    assert status == 0
    assert "Scored 1 member: 0 super users, 1 active, 0 inactive." in out
    score = MemberScore.objects.get(member=ann)
    assert (score.active_days_90, score.frequency, score.recency) == (30, Decimal("3.00"), 3)


def test_no_score_skips_the_scoring(community, ann, bo, tmp_path):
    path = tmp_path / "activities.csv"
    path.write_text(GOOD, encoding="utf-8")

    status, out, err = run_from_argv("import_activities", "acme", str(path), "--no-score")

    assert (status, err) == (0, "")
    assert out.strip() == "Read 3 rows: 3 created, 0 updated, 0 skipped."
    assert Activity.objects.filter(community=community).count() == 3
    assert not MemberScore.objects.exists()


def test_a_rolled_back_import_is_not_scored(community, ann, tmp_path):
    path = tmp_path / "activities.csv"
    path.write_text(unknown_kind_on_line_12())

    status, out, _ = run_from_argv("import_activities", "acme", str(path))

    assert status == 1
    assert "Scored" not in out
    assert not MemberScore.objects.exists()


def test_unknown_members_are_row_errors(community, ann, other_community):
    stranger = MemberFactory(community=other_community, email="stranger@example.org")
    IdentityFactory(member=stranger, source="slack", external_id="U9")
    text = (
        "source,member_external_id,member_email,kind,occurred_at\n"
        "slack,U1,,message,2026-05-01\n"
        "slack,U9,,message,2026-05-01\n"
        ",,stranger@example.org,message,2026-05-01\n"
        "discourse,U1,,message,2026-05-01\n"
    )

    report = run(community, text)

    assert messages(report) == [
        'line 3: unknown member: no slack member_external_id "U9"',
        'line 4: unknown member: no member_email "stranger@example.org"',
        'line 5: unknown member: no discourse member_external_id "U1"',
    ]
    assert report.rolled_back
    assert not Activity.objects.exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("slack,U1,,2026-05-01,", "line 2: needs a kind"),
        ("slack,U1,message,,", "line 2: needs an occurred_at"),
        (
            "slack,U1,message,yesterday,",
            'line 2: occurred_at "yesterday" is not an ISO 8601 date or date-time',
        ),
        ("slack,,message,2026-05-01,", "line 2: needs a member_external_id or a member_email"),
        ("slack,U1,message,2026-05-01", "line 2: has 4 cells but the header has 5"),
        (f"slack,U1,message,2026-05-01,{'x' * 201}", "line 2: external_id is longer than 200"),
    ],
)
def test_row_validation(community, ann, row, message):
    report = run(community, f"source,member_external_id,kind,occurred_at,external_id\n{row}\n")

    assert len(report.errors) == 1
    assert messages(report)[0].startswith(message)


def test_a_repeated_external_id_names_the_earlier_line(community, ann):
    text = "member_email,kind,occurred_at,external_id\n" + (
        "ann@example.org,message,2026-05-01,x\n" * 2
    )

    report = run(community, text)

    assert messages(report) == ['line 3: csv external_id "x" repeats line 2']


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"member_email,kind\nann@example.org,message\n", "missing: occurred_at"),
        (b"kind,occurred_at\nmessage,2026-05-01\n", "missing: member_external_id or member_email"),
        (b"member_email,kind,occurred_at,mood\n", "unknown columns: mood"),
        ("member_email,kind,occurred_at\nJos\xe9\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_file_level_errors(community, data, message):
    with pytest.raises(ImportFileError, match=message):
        import_activities(community=community, file=io.BytesIO(data))


def test_reimporting_the_same_file_changes_nothing(community, ann, bo):
    run(community, GOOD)
    before = list(Activity.objects.order_by("pk").values())

    report = run(community, GOOD)

    # The row without an external_id cannot be recognised, so it is added again.
    assert (report.created, report.unchanged) == (1, 2)
    assert list(Activity.objects.filter(external_id__gt="").order_by("pk").values()) == [
        row for row in before if row["external_id"]
    ]


def test_reimporting_a_file_with_external_ids_only_changes_nothing(community, ann):
    text = unknown_kind_on_line_12().replace("posted", "post")
    run(community, text)
    before = list(Activity.objects.order_by("pk").values())
    ann.refresh_from_db()
    seen = ann.last_seen_at

    report = run(community, text)

    assert (report.rows_read, report.created, report.unchanged) == (12, 0, 12)
    assert report.summary() == "Read 12 rows: 0 created, 0 updated, 12 unchanged, 0 skipped."
    assert list(Activity.objects.order_by("pk").values()) == before
    ann.refresh_from_db()
    assert ann.last_seen_at == seen


def test_activities_are_matched_only_in_this_community(community, other_community, ann):
    text = "source,member_external_id,kind,occurred_at,external_id\nslack,U1,message,2026-05-01,x\n"
    ActivityFactory(
        member=MemberFactory(community=other_community), source="slack", external_id="x"
    )

    assert run(community, text).created == 1


def test_last_seen_moves_forward_for_initiated_kinds_only(community, ann, bo):
    Member.objects.filter(pk=ann.pk).update(last_seen_at=datetime(2026, 4, 1, tzinfo=UTC))
    text = (
        "member_email,kind,occurred_at\n"
        "ann@example.org,message,2026-05-01T09:00:00Z\n"
        "ann@example.org,reply,2026-05-03T09:00:00Z\n"
        "ann@example.org,reaction_received,2026-05-20T09:00:00Z\n"  # Received: not seen.
        "bo@example.org,reaction_received,2026-05-20T09:00:00Z\n"
    )

    run(community, text)

    ann.refresh_from_db()
    bo.refresh_from_db()
    assert ann.last_seen_at == datetime(2026, 5, 3, 9, tzinfo=UTC)
    assert bo.last_seen_at is None


def test_last_seen_never_moves_back(community, ann):
    later = datetime(2026, 6, 1, tzinfo=UTC)
    Member.objects.filter(pk=ann.pk).update(last_seen_at=later)

    run(community, "member_email,kind,occurred_at\nann@example.org,post,2026-05-01\n")

    ann.refresh_from_db()
    assert ann.last_seen_at == later


def test_last_seen_counts_earlier_activities_too(community, ann):
    ActivityFactory(member=ann, kind_slug="post", occurred_at=datetime(2026, 5, 9, tzinfo=UTC))

    run(community, "member_email,kind,occurred_at\nann@example.org,message,2026-05-01\n")

    ann.refresh_from_db()
    assert ann.last_seen_at == datetime(2026, 5, 9, tzinfo=UTC)


def test_a_members_import_does_not_set_last_seen_before_the_newest_activity(community, ann):
    from members.importing import import_members

    ActivityFactory(member=ann, kind_slug="post", occurred_at=datetime(2026, 5, 9, tzinfo=UTC))
    file = io.BytesIO(b"email,last_seen_at\nann@example.org,2026-01-01\n")

    import_members(community=community, file=file)

    ann.refresh_from_db()
    assert ann.last_seen_at == datetime(2026, 5, 9, tzinfo=UTC)


def test_the_statements_are_as_many_for_300_rows_as_for_30(community, ann):
    def statements(rows):
        lines = "".join(
            f"slack,U1,message,2026-05-01T00:{n % 60:02d}:00,e{rows}-{n}\n" for n in range(rows)
        )
        text = f"source,member_external_id,kind,occurred_at,external_id\n{lines}"
        with CaptureQueriesContext(connection) as first:
            assert run(community, text).created == rows
        with CaptureQueriesContext(connection) as again:
            assert run(community, text).unchanged == rows
        return len(first), len(again)

    # The kinds, the stage (created, written in one batch, dropped), the lock, two checks, the
    # insert (SQLite: the changed members first), the last seen update and scoring, the week's
    # Community Health (members_changed), savepoints.
    HealthSnapshot.objects.record(community, as_of=timezone.now())  # updated, not created, by both
    first, again = statements(30)
    assert (first, again) == statements(300)
    assert first <= 20
    assert again <= first


def test_reimporting_the_same_file_writes_no_rows(community, ann, bo):
    text = "source,member_external_id,member_email,kind,occurred_at,external_id\n" + "".join(
        f"slack,U1,,message,2026-05-01T10:{n:02}:00Z,m{n}\n"
        f",,bo@example.org,post,2026-05-02T10:{n:02}:00Z,p{n}\n"
        for n in range(20)
    )
    assert run(community, text).created == 40
    before = list(Activity.objects.order_by("pk").values())

    report = run(community, text)

    assert (report.rows_read, report.created, report.unchanged, report.errors) == (40, 0, 40, [])
    assert list(Activity.objects.order_by("pk").values()) == before


def test_a_repeat_within_the_file_is_invalid_and_the_first_one_counts(community, ann):
    text = (
        "source,member_external_id,member_email,kind,occurred_at,external_id\n"
        "slack,U1,,message,2026-05-01,x\n"  # line 2
        "slack,U1,,reply,2026-05-02,y\n"
        "discourse,,ann@example.org,message,2026-05-03,x\n"  # another source: no repeat
        "slack,U1,,post,2026-05-04,x\n"  # line 5
        "slack,U1,,post,2026-05-05,y\n"
        "slack,U1,,post,2026-05-06,\n"  # no external_id: never a repeat
        "slack,U1,,post,2026-05-07,\n"
        "slack,U1,,post,2026-05-08,x\n"
    )

    assert messages(run(community, text)) == [
        'line 5: slack external_id "x" repeats line 2',
        'line 6: slack external_id "y" repeats line 3',
        'line 9: slack external_id "x" repeats line 2',
    ]
    assert not Activity.objects.exists()

    report = run(community, text, skip_invalid=True)

    assert (report.created, report.unchanged, report.invalid) == (5, 0, 3)
    stored = Activity.objects.get(source="slack", external_id="x")
    assert (stored.kind.slug, stored.occurred_at) == ("message", datetime(2026, 5, 1, tzinfo=UTC))


def test_a_dry_run_counts_everything_and_writes_nothing(community, ann, bo):
    Member.objects.filter(pk=ann.pk).update(last_seen_at=datetime(2026, 4, 1, tzinfo=UTC))
    file = io.BytesIO(GOOD.encode())

    report = import_activities(community=community, file=file, dry_run=True)

    assert report.dry_run
    assert (report.rows_read, report.created, report.unchanged, report.errors) == (3, 3, 0, [])
    assert not Activity.objects.exists()
    ann.refresh_from_db()
    assert ann.last_seen_at == datetime(2026, 4, 1, tzinfo=UTC)

    run(community, GOOD)
    again = import_activities(community=community, file=io.BytesIO(GOOD.encode()), dry_run=True)

    assert (again.created, again.unchanged) == (1, 2)
    assert Activity.objects.count() == 3


def test_an_unknown_member_on_line_7_is_invalid(community, ann, bo):
    rows = [f"slack,U1,,message,2026-05-{day:02d},a{day}\n" for day in range(1, 10)]
    rows[5] = "slack,U2,,message,2026-05-06,a6\n"  # line 7
    rows[7] = ",,Nobody@Example.org,message,2026-05-08,a8\n"  # line 9
    rows[8] = "slack,U2,bo@example.org,message,2026-05-09,a9\n"  # the email finds Bo
    text = "source,member_external_id,member_email,kind,occurred_at,external_id\n" + "".join(rows)

    report = run(community, text)

    assert messages(report) == [
        'line 7: unknown member: no slack member_external_id "U2"',
        'line 9: unknown member: no member_email "Nobody@Example.org"',
    ]
    assert report.rolled_back
    assert (report.created, report.skipped) == (0, 7)
    assert not Activity.objects.exists()

    report = run(community, text, skip_invalid=True)

    assert (report.created, report.unchanged, report.invalid) == (7, 0, 2)
    assert Activity.objects.get(external_id="a9").member == bo
    assert not Activity.objects.filter(external_id__in=["a6", "a8"]).exists()


def test_members_are_matched_by_email_in_any_letter_case(community, ann, bo):
    text = (
        "member_email,kind,occurred_at\n"
        "BO@EXAMPLE.ORG,message,2026-05-01\n"
        "bo@example.org,message,2026-05-02\n"
        "Ann@Example.Org,message,2026-05-03\n"
    )

    report = run(community, text)

    assert (report.created, report.errors) == (3, [])
    by_member = Activity.objects.values_list("member", flat=True)
    assert sorted(by_member) == sorted([bo.pk, bo.pk, ann.pk])


def test_members_changed_names_only_members_with_a_new_initiated_activity(community, ann, bo):
    carl = MemberFactory(community=community, name="Carl", email="carl@example.org")
    ActivityFactory(member=carl, kind_slug="post", source="csv", external_id="old")
    sent = []

    def receiver(sender, community, member_ids, **kwargs):
        sent.append(set(member_ids))

    text = (
        "member_email,kind,occurred_at,external_id\n"
        "ann@example.org,message,2026-05-01,a\n"
        "ann@example.org,reaction_received,2026-05-02,b\n"
        "bo@example.org,reaction_received,2026-05-01,c\n"  # received: not their doing
        "carl@example.org,post,2026-05-01,old\n"  # already stored: nothing new
    )
    members_changed.connect(receiver, sender=Member, dispatch_uid="test_import_changed")
    try:
        report = run(community, text)
        import_activities(community=community, file=io.BytesIO(text.encode()), dry_run=True)
    finally:
        members_changed.disconnect(sender=Member, dispatch_uid="test_import_changed")

    assert (report.created, report.unchanged) == (3, 1)
    assert sent == [{ann.pk}]  # and nothing for the dry run


def test_progress_is_reported_after_each_staged_batch(community, ann, monkeypatch):
    monkeypatch.setattr(staging, "BATCH_ROWS", 10)
    rows = "".join(f"slack,U1,message,2026-05-01T00:{n:02d}:00,e{n}\n" for n in range(25))
    text = f"source,member_external_id,kind,occurred_at,external_id\n{rows}"
    seen = []

    file = io.BytesIO(text.encode())
    report = import_activities(community=community, file=file, progress=seen.append)

    assert report.created == 25
    assert seen == [10, 20, 25]


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/a",
        "https://example.org/a b",
        "https://example.org/a\u00a0b",
        "https://example.org?q=1",
        "https://example.org#top",
        "https://example.org",
        "https://example.org:8080/x",
        "https://example.org:123456/x",
        "https://exa mple.org/x",
        "https://user:pa?ss@example.org/x",
        "https://user:pa?ss/x",
        "https://u@example.org/x",
        "https://localhost:12?x@example.org/",
        "https://localhost:12?x@exa mple.org/",
        "https://[::1]/x",
        "https://[::1/x",
        "http://localhost/x",
        "ftp://example.org/x",
        "https:/example.org/x",
        "https://example.org/" + "x" * 2100,
        "https://bücher.example/x",
        "https://-bad.example/x",
    ],
)
def test_urls_are_validated_as_by_django_also_after_the_same_host(url):
    parser = importing._RowParser(("kind", "occurred_at", "url"), {}, ImportOptions())
    expected = True
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        expected = False
    scheme, _, rest = url.partition("://")
    host = rest.split("/")[0].split("?")[0].split("#")[0]
    parser._valid_url(f"{scheme}://{host}/seen")  # the host is known now, if it is valid

    assert parser._valid_url(url) is expected


def test_a_url_of_a_known_host_skips_the_regular_expression(monkeypatch):
    parser = importing._RowParser(("kind", "occurred_at", "url"), {}, ImportOptions())
    calls = []
    validate = importing._validate_url
    monkeypatch.setattr(importing, "_validate_url", lambda url: calls.append(url) or validate(url))

    valid = [parser._valid_url(f"https://example.org/t/{n}?page=2#post-{n}") for n in range(3)]

    assert valid == [True, True, True]
    assert calls == ["https://example.org/t/0?page=2#post-0"]
    assert not parser._valid_url("https://example.org/t/3 4")


def plan(sql, params):
    """The plan of a statement, with sequential scans made too dear to choose on PostgreSQL
    (the test's tables are tiny): what shows is which indexes the statement can use."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def plans_of(action, *starts):
    """The plans of the statements starting with one of `starts` that `action` runs."""
    plans = []

    def explain_first(execute, sql, params, many, context):
        if not many and sql.startswith(starts):
            plans.append(plan(sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain_first):
        action()
    return plans
