"""The six segment ideas of docs/rules.md, end to end on the real Beer, Wine & Spirits Stack
Exchange dump (tests/data/README.md), through the commands a community manager or a script
would run:

import_stackexchange → score_engagement --as-of (SCORED_AT) → import_members (a CSV enriching a
dozen members with company, job, city and country, which the dump lacks) → import_segments →
refresh_segments --as-of → export_members --segment, for every segment.

Each exported member set is compared with an independent computation written here from the raw
XML (xml.etree), the enrichment rows and, for score conditions only, the MemberScore values the
scorer stored; the membership predicates are written out in Python below, not taken from
segments.rules. Every expected set must also be non-empty: an empty segment proves nothing.
"""

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from celery.app.task import Task
from django.core.management import call_command

from engagement.models import MemberScore
from segments.models import Segment, SegmentMembership
from tests.commands import run_from_argv
from tests.factories import CommunityFactory

DUMP = Path(__file__).resolve().parent.parent / "data" / "beer-stackexchange-2016"
SLUG = "beer-six"
# The dump ends on 2016-12-11: a week and a month before this instant both have new members.
T = datetime(2016, 12, 12, tzinfo=UTC)
T_ARG = "2016-12-12T00:00:00"
# Scores as of the site's busy launch weeks: nobody has Impact > 2 in 2016 (the maximum is
# 1.83 at T), so a super-user segment scored at T would be empty and prove nothing. The rules
# read the stored scores whatever instant they were computed at.
SCORED_AT = "2014-03-01T00:00:00"


def _rows(name):
    return [row.attrib for row in ET.parse(DUMP / name).getroot()]  # noqa: S314 (our test data)


def _when(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def read_dump():
    """Users by Id with the facts a segment can read, from the XML alone."""
    users = {}
    for row in _rows("Users.xml"):
        if row["Id"] == "-1":  # the site's bot account, not a member
            continue
        users[row["Id"]] = {
            "id": row["Id"],
            "name": row.get("DisplayName", "").strip(),
            "location": row.get("Location", "").strip(),
            "joined_at": _when(row["CreationDate"]),
            "last_access": _when(row["LastAccessDate"]) if row.get("LastAccessDate") else None,
            "reputation": int(row.get("Reputation", "0")),
        }
    # Last Seen (docs/scoring.md "Last Seen"): the later of the imported value and the newest
    # activity the member did: questions and answers, comments, favourites, and having an answer
    # accepted.
    done: dict[str, list[datetime]] = {user_id: [] for user_id in users}
    posts = {row["Id"]: row for row in _rows("Posts.xml") if row["PostTypeId"] in ("1", "2")}
    for post in posts.values():
        if post.get("OwnerUserId") in users:
            done[post["OwnerUserId"]].append(_when(post["CreationDate"]))
    for comment in _rows("Comments.xml"):
        if comment.get("UserId") in users:
            done[comment["UserId"]].append(_when(comment["CreationDate"]))
    accept_votes: dict[str, datetime] = {}
    for vote in _rows("Votes.xml"):
        if vote["VoteTypeId"] == "5" and vote.get("UserId") in users:
            done[vote["UserId"]].append(_when(vote["CreationDate"]))
        if vote["VoteTypeId"] == "1":
            at = _when(vote["CreationDate"])
            accept_votes[vote["PostId"]] = max(at, accept_votes.get(vote["PostId"], at))
    for question in posts.values():
        answer = posts.get(question.get("AcceptedAnswerId") or "")
        if (
            question["PostTypeId"] == "1"
            and answer
            and answer["PostTypeId"] == "2"
            and answer.get("OwnerUserId") in users
        ):
            at = accept_votes.get(answer["Id"], _when(answer["CreationDate"]))
            done[answer["OwnerUserId"]].append(at)
    for user_id, user in users.items():
        moments = [m for m in (user["last_access"], *done[user_id]) if m is not None]
        user["last_seen_at"] = max(moments, default=None)
    return users


# The enrichment a community manager adds by CSV to the dozen members with the highest
# reputation: (company_name, job_title, city, country).
ENRICHMENT = [
    ("BrewDog", "Head Brewer", "London", "United Kingdom"),
    ("brewdog", "Brewery Owner", "Austin", "USA"),
    ("Heineken", "Sommelier", "Amsterdam", "Netherlands"),
    ("BrewDog Ltd", "Marketing lead", "London", "United Kingdom"),
    ("Carlsberg", "Homebrewer", "Copenhagen", "Denmark"),
    ("Heineken", "Beer writer", "Austin", "USA"),
    ("Duvel", "Cicerone", "Berlin", "Germany"),
    ("Guinness", "Master Brewer", "Dublin", "Ireland"),
    ("BREWDOG", "Barista", "london", "United Kingdom"),
    ("Carlsberg", "Data engineer", "Munich", "Germany"),
    ("Duvel", "brewer", "Brussels", "Belgium"),
    ("Guinness", "Bartender", "Dublin", "Ireland"),
]


def enrichment_rows(users):
    top = sorted(users.values(), key=lambda u: (-u["reputation"], int(u["id"])))[:12]
    rows = []
    for index, (user, (company, job, city, country)) in enumerate(
        zip(top, ENRICHMENT, strict=True)
    ):
        email = f"se{user['id']}@brew.example" if index < 6 else ""
        rows.append(
            {
                "source": "stackexchange",
                "external_id": user["id"],
                "name": user["name"],
                "email": email,
                "company_name": company,
                "job_title": job,
                "city": city,
                "country": country,
            }
        )
    return rows


def unique_names(users):
    counts: dict[str, int] = {}
    for user in users.values():
        counts[user["name"].lower()] = counts.get(user["name"].lower(), 0) + 1
    return {name for name, count in counts.items() if count == 1}


def mentor_entries(users, enriched):
    """Pasted the way a CM does: three emails, two names (unique ones), one typo."""
    emails = [row["email"] for row in enriched if row["email"]][:3]
    unique = unique_names(users)
    enriched_ids = {row["external_id"] for row in enriched}
    names = [
        u["name"]
        for u in sorted(users.values(), key=lambda u: -u["reputation"])
        if u["id"] not in enriched_ids and u["name"] and u["name"].lower() in unique
    ][:2]
    return [*emails, *names]


def relative(amount, unit):
    return {"amount": amount, "unit": unit}


def c(field, op, value=None):
    return (
        {"field": field, "op": op} if value is None else {"field": field, "op": op, "value": value}
    )


# name -> rule. References to other segments use their names, as the file format says.
SEGMENTS = {
    # 1. members at a company
    "At BrewDog": {"all": [c("company_name", "is", "brewdog")]},
    "Big brewers": {"all": [c("company_name", "is_any_of", ["Heineken", "Carlsberg"])]},
    # 2. members holding a role
    "Brewers": {"all": [c("job_title", "contains", "brewer")]},
    "Not brewers": {
        "all": [c("job_title", "is_not_empty"), c("job_title", "not_contains", "brew")]
    },
    # 3. new members
    "New this week": {"all": [c("joined_at", "within_last", relative(7, "days"))]},
    "New this month": {"all": [c("joined_at", "within_last", relative(30, "days"))]},
    "Joined on Dec 6": {"all": [c("joined_at", "on", "2016-12-06")]},
    "Joined after November": {"all": [c("joined_at", "after", "2016-11-30")]},
    "Founders": {"all": [c("joined_at", "between", ["2014-01-21", "2014-01-22"])]},
    # 4. super users, active, inactive, last seen
    "Super users": {"all": [c("impact_score", "gt", 2)]},
    "Active": {
        "all": [
            c("frequency_score", "gt", 1),
            c("recency_score", "gt", 1),
            c("impact_score", "gt", 1),
        ]
    },
    "Inactive": {
        "all": [
            c("frequency_score", "lt", 1),
            c("recency_score", "lt", 1),
            c("impact_score", "lt", 1),
        ]
    },
    "Silent": {"all": [c("engagement_score", "eq", 0)]},
    "Some frequency": {"all": [c("frequency_score", "ne", 0)]},
    "Recent": {"all": [c("recency_score", "gte", 2)]},
    "Low impact but known": {
        "all": [c("impact_score", "lte", 0.5), c("impact_score", "gte", 0.01)]
    },
    "Middling": {"all": [c("engagement_score", "between", [1, 2])]},
    "Seen before June": {"all": [c("last_seen_at", "before", "2016-06-01")]},
    "Gone for 6 months": {"all": [c("last_seen_at", "more_than_ago", relative(6, "months"))]},
    "Seen this quarter": {"all": [c("last_seen_at", "within_last", relative(12, "weeks"))]},
    # 5. members in a location
    "In London": {"any": [c("location", "contains", "london"), c("city", "is", "London")]},
    "Austin": {"all": [c("city", "is", "austin")]},
    "Germany": {"all": [c("country", "is", "Germany")]},
    "Outside the US": {
        "all": [
            c("location", "is_not_empty"),
            c("location", "not_contains", "united states"),
            c("country", "is_not", "USA"),
        ]
    },
    "No location": {"all": [c("location", "is_empty"), c("company_name", "is_empty")]},
    "New York": {"all": [c("location", "starts_with", "new york")]},
    "Indians": {"all": [c("location", "ends_with", "india")]},
    # 6. manual sub-groups, and segments built on them
    "Active mentors": {"all": [c("segment", "in", "Mentors"), c("segment", "in", "Active")]},
    "Enriched, not mentoring": {
        "all": [
            c("source", "is", "stackexchange"),
            c("company_name", "is_not_empty"),
            c("segment", "not_in", "Mentors"),
        ]
    },
    "Without an email": {
        "all": [
            c("email", "is_empty"),
            c("source", "is_not", "slack"),
            c("joined_at", "is_not_empty"),
        ]
    },
    "With an email": {"all": [c("email", "is_not_empty"), c("last_seen_at", "is_not_empty")]},
}


def _lower(value):
    return value.lower()


def expected_sets(users, enriched, scores, mentors):
    """Segment name -> the stackexchange ids of its members, computed here in Python."""
    extra = {row["external_id"]: row for row in enriched}

    def text(user, name):
        if name in ("company_name", "job_title", "city", "country", "email"):
            return extra.get(user["id"], {}).get(name, "")
        return user[name]

    def score(user, name) -> Decimal:
        return scores.get(user["id"], {}).get(name, Decimal(0))

    week_ago, month_ago = T - timedelta(days=7), T - timedelta(days=30)
    six_months_ago = datetime(2016, 6, 12, tzinfo=UTC)  # calendar months back from T
    twelve_weeks_ago = T - timedelta(weeks=12)
    june = datetime(2016, 6, 1, tzinfo=UTC)

    def seen(user, test):
        return user["last_seen_at"] is not None and test(user["last_seen_at"])

    def active(u):
        return all(score(u, s) > 1 for s in ("frequency", "recency", "impact"))

    predicates: dict[str, Callable[[dict], bool]] = {
        "At BrewDog": lambda u: _lower(text(u, "company_name")) == "brewdog",
        "Big brewers": lambda u: _lower(text(u, "company_name")) in ("heineken", "carlsberg"),
        "Brewers": lambda u: "brewer" in _lower(text(u, "job_title")),
        "Not brewers": lambda u: (
            text(u, "job_title") != "" and "brew" not in _lower(text(u, "job_title"))
        ),
        "New this week": lambda u: week_ago <= u["joined_at"] <= T,
        "New this month": lambda u: month_ago <= u["joined_at"] <= T,
        "Joined on Dec 6": lambda u: u["joined_at"].date() == date(2016, 12, 6),
        "Joined after November": lambda u: u["joined_at"] >= datetime(2016, 12, 1, tzinfo=UTC),
        "Founders": lambda u: (
            datetime(2014, 1, 21, tzinfo=UTC) <= u["joined_at"] < datetime(2014, 1, 23, tzinfo=UTC)
        ),
        "Super users": lambda u: score(u, "impact") > 2,
        "Active": active,
        "Inactive": lambda u: all(score(u, s) < 1 for s in ("frequency", "recency", "impact")),
        "Silent": lambda u: score(u, "engagement") == 0,
        "Some frequency": lambda u: score(u, "frequency") != 0,
        "Recent": lambda u: score(u, "recency") >= 2,
        "Low impact but known": lambda u: Decimal("0.01") <= score(u, "impact") <= Decimal("0.5"),
        "Middling": lambda u: 1 <= score(u, "engagement") <= 2,
        "Seen before June": lambda u: seen(u, lambda m: m < june),
        "Gone for 6 months": lambda u: seen(u, lambda m: m < six_months_ago),
        "Seen this quarter": lambda u: seen(u, lambda m: twelve_weeks_ago <= m <= T),
        "In London": lambda u: (
            "london" in _lower(u["location"]) or _lower(text(u, "city")) == "london"
        ),
        "Austin": lambda u: _lower(text(u, "city")) == "austin",
        "Germany": lambda u: _lower(text(u, "country")) == "germany",
        "Outside the US": lambda u: (
            u["location"] != ""
            and "united states" not in _lower(u["location"])
            and _lower(text(u, "country")) != "usa"
        ),
        "No location": lambda u: u["location"] == "" and text(u, "company_name") == "",
        "New York": lambda u: _lower(u["location"]).startswith("new york"),
        "Indians": lambda u: _lower(u["location"]).endswith("india"),
        "Mentors": lambda u: u["id"] in mentors,
        "Active mentors": lambda u: u["id"] in mentors and active(u),
        "Enriched, not mentoring": lambda u: (
            text(u, "company_name") != "" and u["id"] not in mentors
        ),
        "Without an email": lambda u: text(u, "email") == "",
        "With an email": lambda u: text(u, "email") != "" and u["last_seen_at"] is not None,
    }
    assert set(predicates) == {*SEGMENTS, "Mentors"}
    return {
        name: {u["id"] for u in users.values() if predicate(u)}
        for name, predicate in predicates.items()
    }


def write_csv(path, rows):
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def beer(django_db_setup, django_db_blocker, tmp_path_factory):
    """The whole pipeline, committed once for the module and deleted after it.

    Enqueued refreshes are dropped (the commands refresh explicitly), so no message reaches a
    broker from outside a test.
    """
    folder = tmp_path_factory.mktemp("six-ideas")
    users = read_dump()
    enriched = enrichment_rows(users)
    entries = mentor_entries(users, enriched)
    outputs = {}
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(Task, "apply_async", lambda *args, **kwargs: None)
        community = CommunityFactory(name="Beer six ideas", slug=SLUG)
        try:
            call_command("import_stackexchange", SLUG, str(DUMP), "--no-score", stdout=StringIO())
            call_command("score_engagement", SLUG, "--as-of", SCORED_AT, stdout=StringIO())
            write_csv(folder / "enrich.csv", enriched)
            outputs["enrich"] = run_from_argv("import_members", SLUG, str(folder / "enrich.csv"))

            smart = [
                {"name": name, "kind": "smart", "rule": rule} for name, rule in SEGMENTS.items()
            ]
            mentors = {
                "name": "Mentors",
                "kind": "manual",
                "members": [*entries, "nobody@brew.example"],
                "pinned": True,
                "description": "Answer newcomers' questions",
            }
            # The file as first pasted: the unknown entry stops the whole import.
            (folder / "first.json").write_text(json.dumps([*smart, mentors]), encoding="utf-8")
            outputs["first"] = run_from_argv("import_segments", SLUG, str(folder / "first.json"))
            outputs["segments_after_first"] = Segment.objects.filter(community=community).count()
            mentors["members"] = entries
            (folder / "fixed.json").write_text(json.dumps([*smart, mentors]), encoding="utf-8")
            outputs["fixed"] = run_from_argv("import_segments", SLUG, str(folder / "fixed.json"))
            outputs["refresh"] = run_from_argv("refresh_segments", SLUG, "--as-of", T_ARG)

            scores = {
                external_id: {"frequency": f, "recency": r, "impact": i, "engagement": e}
                for external_id, f, r, i, e in MemberScore.objects.filter(
                    community=community, member__identities__source="stackexchange"
                ).values_list(
                    "member__identities__external_id",
                    "frequency",
                    "recency",
                    "impact",
                    "engagement",
                )
            }
            mentor_ids = {
                row["external_id"] for row in enriched if row["email"] and row["email"] in entries
            } | {u["id"] for u in users.values() if u["name"] in entries}
            expected = expected_sets(users, enriched, scores, mentor_ids)
            yield community, outputs, expected, entries
        finally:
            community.delete()


def export(name):
    status, out, err = run_from_argv("export_members", SLUG, "--segment", name)
    assert (status, err) == (0, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    ids = set()
    for row in rows:
        (external_id,) = [
            ref.split(":", 1)[1]
            for ref in row["external_ids"].split("; ")
            if ref.startswith("stackexchange:")
        ]
        ids.add(external_id)
    assert len(ids) == len(rows)
    return ids, rows


def test_the_pipeline_runs_cleanly(db, beer):
    _, outputs, _, _ = beer

    assert outputs["enrich"][0] == 0
    assert "0 created, 12 updated" in outputs["enrich"][1]
    assert outputs["fixed"][0] == 0
    assert outputs["fixed"][2] == ""
    assert outputs["refresh"][0] == 0, outputs["refresh"][2]
    assert len(outputs["refresh"][1].splitlines()) == len(SEGMENTS)


def test_an_unknown_pasted_entry_is_reported_and_nothing_is_saved(db, beer):
    _, outputs, _, _ = beer

    status, _, err = outputs["first"]
    position = len(SEGMENTS) + 1
    assert status == 1
    assert (
        f'segment {position} "Mentors": no member with the email or name "nobody@brew.example"'
        in err
    )
    assert "1 problem; no segment was imported." in err
    assert outputs["segments_after_first"] == 0


def test_the_manual_segment_holds_the_pasted_members(db, beer):
    community, _, expected, entries = beer

    ids, rows = export("Mentors")

    assert len(entries) == 5
    assert ids == expected["Mentors"]
    assert len(ids) == 5
    # Everyone entered when the (second) import ran, through the import.
    assert all(row["entered_at"] for row in rows)
    mentors = Segment.objects.get(community=community, name="Mentors")
    assert set(mentors.memberships.values_list("via", flat=True)) == {"import"}
    assert mentors.pinned


@pytest.mark.parametrize("name", list(SEGMENTS))
def test_each_segment_matches_the_independent_computation(db, beer, name):
    community, _, expected, _ = beer

    ids, rows = export(name)

    assert expected[name], f"{name} is empty in the data: it would prove nothing"
    assert ids == expected[name]
    segment = Segment.objects.get(community=community, name=name)
    assert segment.member_count == len(ids) == segment.memberships.count()
    assert segment.refresh_error == ""
    # Smart members entered at the refresh's --as-of.
    assert {row["entered_at"] for row in rows} == {"2016-12-12T00:00:00Z"}


def test_a_second_refresh_at_the_same_instant_changes_nothing(db, beer):
    community, _, _, _ = beer
    memberships = SegmentMembership.objects.filter(community=community).count()

    status, out, _ = run_from_argv("refresh_segments", SLUG, "--as-of", T_ARG)

    assert status == 0
    assert all(" 0 entered, 0 left, " in line for line in out.splitlines())
    assert SegmentMembership.objects.filter(community=community).count() == memberships
