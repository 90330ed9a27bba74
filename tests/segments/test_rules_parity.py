"""to_q (SQL) and matches (Python) agree on generated members and rules
(docs/rules.md "SQL and Python agree").

Runs on SQLite locally and on PostgreSQL in CI. Text is ASCII: SQLite's LIKE folds ASCII case only.
Segment conditions name one of a few slots (SEGMENT_SLOTS) that the test maps to real segment
ids: two segments of the community holding some of the members, an empty one, a segment of the
other community and an id no segment has; `facts["segments"]` is read from SegmentMembership.
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.models import MemberScore
from members.models import Member
from segments.models import Segment, SegmentMembership, Via
from segments.rules import matches, parse, to_q
from tests.factories import IdentityFactory, MemberFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
TIMEZONES = ["UTC", "America/Chicago", "Asia/Kolkata"]

TEXTS = [
    "",
    " ",
    "Acme",
    "acme",
    "ACME Corp",
    "Globex",
    "Product Designer",
    "senior ux designer",
    "Austin",
    "austin, TX",
    "50% off",
    "x_y",
    "xay",
    "Lyon",
]
TEXT_VALUES = [
    "acme",
    " ACME ",
    "corp",
    "designer",
    "ux",
    "austin",
    "a",
    "e",
    "%",
    "_",
    "x_y",
    "tx",
]
ATTRIBUTE_KEYS = ["team", "level", "contains"]
# No stored text "null": SQLite (through Django's JSON lookups) cannot tell it from a JSON null.
ATTRIBUTE_VALUES = ["Red", "red", "", "Blue team", None, "NULLS"]
SCORES = [Decimal(x) for x in ("0", "0.50", "0.99", "1", "1.01", "1.50", "2", "2.01", "2.50", "3")]
SCORE_VALUES = [0, 0.5, 1, 1.01, 1.5, 2, 2.5, 3, -1, "0.99"]
SOURCES = ["slack", "discourse", "csv"]
DATE_VALUES = ["2026-03-07", "2026-03-08", "2026-03-24", "2026-03-30", "2026-03-31", "2026-04-01"]


def _moments():
    # Instants around day boundaries in UTC, Chicago (UTC-6/-5) and Kolkata (UTC+5:30), and
    # around the relative cut-offs from AS_OF.
    days = [datetime(2026, 3, d, tzinfo=UTC) for d in (7, 8, 9, 24, 25, 30, 31)]
    offsets = [timedelta(hours=h) for h in (-5.5, -1, 0, 4.99, 5, 6, 18.5)]
    moments = [day + offset for day in days for offset in offsets]
    moments += [AS_OF, AS_OF + timedelta(seconds=1), AS_OF - timedelta(days=7)]
    moments += [datetime(2026, 2, 28, 15, tzinfo=UTC), datetime(2026, 2, 28, 14, 59, tzinfo=UTC)]
    return moments


MOMENTS = _moments()


@pytest.fixture
def members(community, other_community):
    rng = random.Random(20260331)
    made = []
    for index in range(32):
        attributes = {}
        for key in ATTRIBUTE_KEYS:
            choice = rng.choice([*ATTRIBUTE_VALUES, "missing"])
            if choice != "missing":
                attributes[key] = choice
        member = MemberFactory(
            community=community,
            name=rng.choice(TEXTS),
            email=rng.choice([f"m{index}@acme.example", f"M{index}@Globex.example", ""]),
            company_name=rng.choice(TEXTS),
            job_title=rng.choice(TEXTS),
            location=rng.choice(TEXTS),
            city=rng.choice(TEXTS),
            country=rng.choice(TEXTS),
            bio=rng.choice(TEXTS),
            joined_at=None if index % 7 == 3 else rng.choice(MOMENTS),
            last_seen_at=None if index % 5 == 2 else rng.choice(MOMENTS),
            attributes=attributes,
        )
        if index % 4:  # every fourth member has no score row
            MemberScore.objects.create(
                member=member,
                community=community,
                frequency=rng.choice(SCORES),
                recency=rng.choice(SCORES),
                impact=rng.choice(SCORES),
                engagement=rng.choice(SCORES),
                active_days_90=rng.choice([0, 1, 3, 10]),
                as_of=AS_OF,
            )
        for source in rng.sample(SOURCES, rng.choice([0, 1, 1, 2, 3])):
            IdentityFactory(member=member, source=source)
            if rng.random() < 0.3:  # a second identity on the same source
                IdentityFactory(member=member, source=source)
        made.append(member)
    # A member of another community who matches everything must never appear.
    outsider = MemberFactory(community=other_community, company_name="Acme")
    _fill_segments(community, other_community, made, outsider, rng)
    return made


SEGMENT_SLOTS = ["mentors", "designers", "empty", "foreign", "missing"]
# slot -> segment id, set by the `members` fixture for the running example
_slot_ids: dict[str, int] = {}


def _fill_segments(community, other_community, made, outsider, rng):
    """Segments holding some members (manual rows and rule rows alike: to_q reads them all)."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    mentors = Segment.objects.create(community=community, name="Mentors", kind="manual")
    designers = Segment.objects.create(
        community=community, name="Designers", kind="smart", rule={"all": []}
    )
    empty = Segment.objects.create(community=community, name="Empty", kind="manual")
    foreign = Segment.objects.create(community=other_community, name="Foreign", kind="manual")
    rows = [
        SegmentMembership(
            community=other_community, segment=foreign, member=outsider, added_at=now, via="manual"
        )
    ]
    for member in made:
        for segment, via, share in [(mentors, Via.MANUAL, 0.4), (designers, Via.RULE, 0.5)]:
            if rng.random() < share:
                rows.append(
                    SegmentMembership(
                        community=community, segment=segment, member=member, added_at=now, via=via
                    )
                )
    SegmentMembership.objects.bulk_create(rows)
    _slot_ids.clear()
    _slot_ids.update(
        mentors=mentors.pk,
        designers=designers.pk,
        empty=empty.pk,
        foreign=foreign.pk,
        missing=2_000_000_000,
    )


def _with_segment_ids(node):
    """The rule with segment slots replaced by this example's segment ids."""
    if isinstance(node, dict) and ("all" in node or "any" in node):
        ((kind, items),) = node.items()
        return {kind: [_with_segment_ids(item) for item in items]}
    if node.get("field") == "segment":
        return {**node, "value": _slot_ids[node["value"]]}
    return node


def facts(member: Member) -> dict:
    score = MemberScore.objects.filter(member=member).first()
    result = {
        name: getattr(member, name)
        for name in (
            "name",
            "email",
            "company_name",
            "job_title",
            "location",
            "city",
            "country",
            "bio",
            "joined_at",
            "last_seen_at",
            "attributes",
        )
    }
    for name, column in [
        ("frequency_score", "frequency"),
        ("recency_score", "recency"),
        ("impact_score", "impact"),
        ("engagement_score", "engagement"),
        ("active_days_90", "active_days_90"),
    ]:
        result[name] = getattr(score, column) if score else None
    result["sources"] = set(member.identities.values_list("source", flat=True))
    result["segments"] = set(member.memberships.values_list("segment_id", flat=True))
    return result


TEXT_FIELDS = ["name", "email", "company_name", "job_title", "location", "city", "country", "bio"]
NUMBER_FIELDS = [
    "frequency_score",
    "recency_score",
    "impact_score",
    "engagement_score",
    "active_days_90",
]


def _condition(field, op, value=None):
    return st.fixed_dictionaries(
        {"field": st.just(field), "op": st.just(op), "value": st.none() if value is None else value}
    )


def _text_conditions(field):
    value = st.sampled_from([*TEXT_VALUES, "Red", "red team", "blue", "null", "NULL"])
    return st.one_of(
        *[
            _condition(field, op, value)
            for op in ("is", "is_not", "contains", "not_contains", "starts_with", "ends_with")
        ],
        _condition(field, "is_any_of", st.lists(value, min_size=1, max_size=3)),
        st.sampled_from(
            [{"field": field, "op": "is_empty"}, {"field": field, "op": "is_not_empty"}]
        ),
    )


def _number_conditions(field):
    values = [v for v in SCORE_VALUES if field != "active_days_90" or float(v) == int(float(v))]
    if field == "active_days_90":
        values += [3, 10, 11]
    value = st.sampled_from(values)
    return st.one_of(
        *[_condition(field, op, value) for op in ("eq", "ne", "gt", "gte", "lt", "lte")],
        _condition(
            field,
            "between",
            st.tuples(value, value).map(lambda p: sorted(p, key=lambda v: Decimal(str(v)))),
        ),
    )


def _date_conditions(field):
    day = st.sampled_from(DATE_VALUES)
    relative = st.fixed_dictionaries(
        {
            "amount": st.sampled_from([1, 7, 24, 30]),
            "unit": st.sampled_from(["days", "weeks", "months"]),
        }
    )
    return st.one_of(
        *[_condition(field, op, day) for op in ("before", "after", "on")],
        _condition(field, "between", st.tuples(day, day).map(sorted)),
        _condition(field, "within_last", relative),
        _condition(field, "more_than_ago", relative),
        st.sampled_from(
            [{"field": field, "op": "is_empty"}, {"field": field, "op": "is_not_empty"}]
        ),
    )


conditions = st.one_of(
    *[_text_conditions(field) for field in TEXT_FIELDS],
    *[_text_conditions(f"attributes.{key}") for key in ATTRIBUTE_KEYS],
    *[_number_conditions(field) for field in NUMBER_FIELDS],
    *[_date_conditions(field) for field in ("joined_at", "last_seen_at")],
    _condition("source", "is", st.sampled_from([*SOURCES, "SLACK", "github"])),
    _condition("source", "is_not", st.sampled_from([*SOURCES, "github"])),
    _condition("segment", "in", st.sampled_from(SEGMENT_SLOTS)),
    _condition("segment", "not_in", st.sampled_from(SEGMENT_SLOTS)),
)
rules = st.recursive(
    conditions,
    lambda children: st.builds(
        lambda kind, items: {kind: items},
        st.sampled_from(["all", "any"]),
        st.lists(children, max_size=4),
    ),
    max_leaves=8,
).map(lambda node: node if ("all" in node or "any" in node) else {"all": [node]})


def _check_parity(community, members, rule_data, tz):
    rule = parse(_with_segment_ids(rule_data))
    queryset = Member.objects.filter(community=community).filter(to_q(rule, as_of=AS_OF, tz=tz))
    pks = list(queryset.values_list("pk", flat=True))
    assert len(pks) == len(set(pks)), "to_q must not repeat members"
    expected = {m.pk for m in members if matches(rule, facts(m), as_of=AS_OF, tz=tz)}
    assert set(pks) == expected, rule_data


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rule_data=rules, tz=st.sampled_from(TIMEZONES))
def test_to_q_and_matches_agree(community, members, rule_data, tz):
    _check_parity(community, members, rule_data, tz)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(condition=conditions, tz=st.sampled_from(TIMEZONES))
def test_single_conditions_agree(community, members, condition, tz):
    _check_parity(community, members, {"all": [condition]}, tz)


def test_every_generated_member_set_is_varied(members):
    # The parity tests mean something only if the members differ where rules look.
    facts_list = [facts(m) for m in members]
    assert any(f["impact_score"] is None for f in facts_list)
    assert any(f["last_seen_at"] is None for f in facts_list)
    assert any(len(f["sources"]) >= 2 for f in facts_list)
    assert any(f["company_name"] == "" for f in facts_list)
    assert any("team" not in f["attributes"] for f in facts_list)
    in_both = {_slot_ids["mentors"], _slot_ids["designers"]}
    assert any(f["segments"] == in_both for f in facts_list)
    assert any(f["segments"] == {_slot_ids["mentors"]} for f in facts_list)
    assert any(f["segments"] == {_slot_ids["designers"]} for f in facts_list)
    assert any(not f["segments"] for f in facts_list)


@pytest.mark.parametrize(
    "rule_data",
    [
        # Two conditions on one multi-valued relation must not share a joined row.
        {
            "all": [
                {"field": "source", "op": "is", "value": "slack"},
                {"field": "source", "op": "is", "value": "csv"},
            ]
        },
        {
            "any": [
                {"field": "source", "op": "is", "value": "slack"},
                {"field": "source", "op": "is_not", "value": "csv"},
            ]
        },
        {"all": [{"any": []}]},
        {"any": [{"all": []}, {"field": "city", "op": "is", "value": "nowhere"}]},
        {"all": [{"field": "impact_score", "op": "lt", "value": 1}]},
        {"all": [{"field": "attributes.team", "op": "not_contains", "value": "red"}]},
        {"all": [{"field": "attributes.contains", "op": "is_empty"}]},
        {"all": [{"field": "attributes.team", "op": "is", "value": "null"}]},
        {"all": [{"field": "attributes.level", "op": "is_any_of", "value": ["null", "red"]}]},
        {"all": [{"field": "attributes.level", "op": "not_contains", "value": "ul"}]},
        # Two conditions on memberships must not share a joined row either.
        {
            "all": [
                {"field": "segment", "op": "in", "value": "mentors"},
                {"field": "segment", "op": "in", "value": "designers"},
            ]
        },
        {
            "all": [
                {"field": "segment", "op": "in", "value": "mentors"},
                {"field": "segment", "op": "not_in", "value": "designers"},
            ]
        },
        {"any": [{"field": "segment", "op": "not_in", "value": "foreign"}]},
        {"all": [{"field": "segment", "op": "not_in", "value": "missing"}]},
    ],
)
def test_edge_rules_agree(community, members, rule_data):
    _check_parity(community, members, rule_data, "UTC")


def test_multi_valued_and_matches_the_member_with_both_sources(community):
    both = MemberFactory(community=community)
    IdentityFactory(member=both, source="slack")
    IdentityFactory(member=both, source="csv")
    IdentityFactory(member=both, source="csv")
    only_slack = MemberFactory(community=community)
    IdentityFactory(member=only_slack, source="slack")
    rule = parse(
        {
            "all": [
                {"field": "source", "op": "is", "value": "Slack"},
                {"field": "source", "op": "is", "value": "csv"},
            ]
        }
    )
    found = list(Member.objects.filter(to_q(rule, as_of=AS_OF)).values_list("pk", flat=True))
    assert found == [both.pk]
