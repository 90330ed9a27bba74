"""`import_stackexchange` on the Beer, Wine & Spirits dump in tests/data (README there).

The dump is imported twice, once per module; the expected counts are computed here from the XML
files with ElementTree, independently of the importer.
"""

import shutil
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from engagement.models import Activity, ActivityKind, MemberScore
from members.models import Community, Identity, Member
from tests.engagement.reference import expected_score
from tests.factories import CommunityFactory

DUMP = Path(__file__).resolve().parent.parent / "data" / "beer-stackexchange-2016"


def _rows(name):
    return [row.attrib for row in ET.parse(DUMP / name).getroot()]  # noqa: S314 (our test data)


def expected_counts():
    users = {row["Id"] for row in _rows("Users.xml")} - {"-1"}  # -1 is the bot "Community".
    posts = {row["Id"]: row for row in _rows("Posts.xml")}

    def owner(post_id):
        post = posts.get(post_id)
        if post is None or post["PostTypeId"] not in ("1", "2"):
            return None
        return post.get("OwnerUserId") if post.get("OwnerUserId") in users else None

    votes = _rows("Votes.xml")
    return {
        "members": len(users),
        "post": sum(1 for p in posts.values() if p["PostTypeId"] == "1" and owner(p["Id"])),
        "reply": sum(1 for p in posts.values() if p["PostTypeId"] == "2" and owner(p["Id"])),
        "message": sum(1 for c in _rows("Comments.xml") if c.get("UserId") in users),
        "answer_accepted": sum(
            1
            for p in posts.values()
            if p["PostTypeId"] == "1" and p.get("AcceptedAnswerId") and owner(p["AcceptedAnswerId"])
        ),
        "reaction_received": sum(1 for v in votes if v["VoteTypeId"] == "2" and owner(v["PostId"])),
        "reaction_given": sum(
            1 for v in votes if v["VoteTypeId"] == "5" and v.get("UserId") in users
        ),
    }


def snapshot(community):
    members = sorted(
        Member.objects.filter(community=community).values_list(
            "pk", "name", "location", "bio", "joined_at", "last_seen_at", "avatar_url", "updated_at"
        )
    )
    identities = sorted(
        Identity.objects.filter(community=community).values_list(
            "member_id", "source", "external_id"
        )
    )
    activities = sorted(
        Activity.objects.filter(community=community).values_list(
            "pk", "member_id", "kind__slug", "occurred_at", "source", "external_id", "title"
        )
    )
    return members, identities, activities


@pytest.fixture(scope="module")
def beer(django_db_setup, django_db_blocker):
    """The dump imported twice into one community, with a snapshot after each import.

    Committed outside the tests' transactions, and deleted after the module; every test using
    it also uses `db`, so they all run together, before any transactional test.
    """
    # The import enqueues segment refreshes on commit; the tests' broker must stay empty (the
    # autouse celery_calls fixture of tests/conftest.py is per test, too late for this one).
    no_broker = mock.patch("celery.app.task.Task.apply_async")
    with django_db_blocker.unblock(), no_broker:
        community = CommunityFactory(name="Beer", slug="beer")
        outputs, snapshots, seconds = [], [], []
        for _ in range(2):
            out = StringIO()
            started = time.monotonic()
            call_command("import_stackexchange", "beer", str(DUMP), stdout=out)
            seconds.append(time.monotonic() - started)
            outputs.append(out.getvalue())
            snapshots.append(snapshot(community))
        yield community, outputs, snapshots, seconds
        community.delete()


@pytest.fixture
def counts():
    return expected_counts()


def test_the_import_gives_the_counts_the_files_hold(db, beer, counts):
    community, _, _, _ = beer

    members = Member.objects.filter(community=community)
    assert members.count() == counts["members"]
    assert (
        Identity.objects.filter(community=community, source="stackexchange").count()
        == (counts["members"])
    )
    activities = Activity.objects.filter(community=community)
    by_kind = {
        slug: activities.filter(kind__slug=slug).count() for slug in counts if slug != "members"
    }
    assert by_kind == {slug: n for slug, n in counts.items() if slug != "members"}
    assert set(activities.values_list("source", flat=True)) == {"stackexchange"}
    # The figures the dump's README states, as a check on the expectations themselves.
    assert counts["members"] == 3947


def test_the_first_import_reports_what_it_created(db, beer, counts):
    _, outputs, _, _ = beer

    total = sum(n for slug, n in counts.items() if slug != "members")
    assert f"Members: {counts['members']} created, 0 updated, 0 unchanged." in outputs[0]
    assert f"Activities: {total} created" in outputs[0]
    # Then the community is scored at once.
    assert f"Scored {counts['members']:,} members: " in outputs[0]
    assert f"Scored {counts['members']:,} members: " in outputs[1]


def test_a_second_import_changes_nothing(db, beer, counts):
    _, outputs, snapshots, _ = beer

    total = sum(n for slug, n in counts.items() if slug != "members")
    assert snapshots[1] == snapshots[0]
    assert f"Members: 0 created, 0 updated, {counts['members']} unchanged." in outputs[1]
    assert f"Activities: 0 created (none), {total} unchanged." in outputs[1]


def test_exact_member_values(db, beer):
    community, _, _, _ = beer

    member = Member.objects.get(
        community=community, identities__source="stackexchange", identities__external_id="73"
    )
    assert member.name == "Andrew Cheong"
    assert member.location == "San Diego, CA"
    assert member.joined_at == datetime(2014, 1, 21, 22, 3, 12, 533000, tzinfo=UTC)
    # HTML stripped, entities decoded, paragraphs kept apart.
    assert member.bio.startswith(
        "o/\n\nI am a C++ dev, and I enjoy reading, surfing, craft beer, Mathematica (sometimes)"
    )
    assert "<" not in member.bio
    assert member.avatar_url == ""  # ProfileImageUrl is never stored.
    assert member.last_seen_at >= datetime(2016, 11, 22, 1, 56, 5, 507000, tzinfo=UTC)


def test_no_member_for_the_bot_and_no_html_in_any_bio(db, beer):
    community, _, _, _ = beer

    members = Member.objects.filter(community=community)
    assert not members.filter(identities__external_id="-1").exists()
    assert not members.filter(name="Community").exists()
    assert not members.filter(bio__contains="<p>").exists()
    assert not members.exclude(avatar_url="").exists()


def test_last_seen_is_the_later_of_last_access_and_the_newest_initiated_activity(db, beer):
    community, _, _, _ = beer
    last_access = {
        row["Id"]: datetime.fromisoformat(row["LastAccessDate"]).replace(tzinfo=UTC)
        for row in _rows("Users.xml")
    }

    newest = {}
    for member_id, occurred_at in Activity.objects.filter(
        community=community, kind__initiated=True
    ).values_list("member_id", "occurred_at"):
        newest[member_id] = max(occurred_at, newest.get(member_id, occurred_at))

    identities = Identity.objects.filter(community=community)
    rows = identities.values_list("external_id", "member_id", "member__last_seen_at")
    assert len(rows) == 3947
    for external_id, member_id, last_seen in rows:
        expected = last_access[external_id]
        if member_id in newest:
            expected = max(expected, newest[member_id])
        assert last_seen == expected, external_id


def test_activities_have_stable_ids_and_titles(db, beer):
    community, _, _, _ = beer

    accepted = Activity.objects.filter(community=community, kind__slug="answer_accepted")
    assert all(a.external_id.startswith("accepted-") for a in accepted)
    question = Activity.objects.get(community=community, external_id="post-1")
    assert question.kind.slug == "post"
    assert question.title  # The question's title; answers and votes carry it too.


def test_the_import_is_reasonably_fast(db, beer):
    # `db` keeps this test with the module's others: pytest-django runs tests without it last,
    # after the transactional ones, and the module's data would outlive them.
    _, _, _, seconds = beer

    assert max(seconds) < 30


def test_a_missing_file_is_a_clear_error_and_writes_nothing(db, tmp_path):
    CommunityFactory(slug="acme")
    for name in ("Users.xml", "Posts.xml", "Comments.xml"):
        shutil.copy(DUMP / name, tmp_path / name)

    with pytest.raises(CommandError, match=r"has no Votes\.xml\. Nothing was imported\."):
        call_command("import_stackexchange", "acme", str(tmp_path))
    assert not Member.objects.filter(community__slug="acme").exists()


def test_malformed_xml_is_a_clear_error_and_writes_nothing(db, tmp_path):
    community = CommunityFactory(slug="acme")
    for name in ("Users.xml", "Posts.xml", "Comments.xml", "Votes.xml"):
        shutil.copy(DUMP / name, tmp_path / name)
    votes = (tmp_path / "Votes.xml").read_bytes()
    (tmp_path / "Votes.xml").write_bytes(votes[: len(votes) // 2])  # Cut off mid-file.

    with pytest.raises(CommandError, match=r"Votes.xml is not well-formed XML: .*Nothing was"):
        call_command("import_stackexchange", "acme", str(tmp_path))
    assert not Member.objects.filter(community=community).exists()
    assert not Activity.objects.filter(community=community).exists()


def test_an_unknown_community_is_a_clear_error(db):
    assert not Community.objects.filter(slug="nope").exists()
    with pytest.raises(CommandError, match='No community with the slug "nope"'):
        call_command("import_stackexchange", "nope", str(DUMP))


# A tiny dump written here, for the mapping's details --------------------------------------

TINY = {
    "Users.xml": """\ufeff<?xml version="1.0" encoding="utf-8"?>
<users>
  <row Id="-1" CreationDate="2014-01-21T17:45:53.587" DisplayName="Community"
       LastAccessDate="2014-01-21T17:45:53.587" AboutMe="&lt;p&gt;Bot&lt;/p&gt;" />
  <row Id="5" CreationDate="2015-01-02T03:04:05.600" DisplayName="Asker" Location="Oslo"
       LastAccessDate="2015-01-03T00:00:00.000" Age="42"
       ProfileImageUrl="https://example.org/a.png"
       AboutMe="&lt;p&gt;&lt;b&gt;Stout&lt;/b&gt; &amp;amp; ale.&lt;/p&gt;&#xA;&#xA;&lt;p&gt;Hi" />
  <row Id="6" CreationDate="2015-01-05T00:00:00.000" DisplayName="Answerer"
       LastAccessDate="2016-01-01T00:00:00.000" Location="" />
</users>
""",
    "Posts.xml": """<?xml version="1.0" encoding="utf-8"?>
<posts>
  <row Id="1" PostTypeId="1" AcceptedAnswerId="2" CreationDate="2015-02-01T10:00:00.000"
       OwnerUserId="5" Title="Stout or porter?" />
  <row Id="2" PostTypeId="2" ParentId="1" CreationDate="2015-02-02T10:00:00.000"
       OwnerUserId="6" />
  <row Id="3" PostTypeId="2" ParentId="1" CreationDate="2015-02-03T10:00:00.000"
       OwnerDisplayName="gone" />
  <row Id="4" PostTypeId="5" CreationDate="2015-02-03T10:00:00.000" OwnerUserId="-1" />
</posts>
""",
    "Comments.xml": """<?xml version="1.0" encoding="utf-8"?>
<comments>
  <row Id="10" PostId="2" CreationDate="2015-02-04T10:00:00.000" UserId="5" Text="Thanks" />
  <row Id="11" PostId="2" CreationDate="2015-02-04T11:00:00.000" UserDisplayName="gone" />
</comments>
""",
    "Votes.xml": """<?xml version="1.0" encoding="utf-8"?>
<votes>
  <row Id="20" PostId="2" VoteTypeId="1" CreationDate="2015-02-06T00:00:00.000" />
  <row Id="21" PostId="2" VoteTypeId="2" CreationDate="2015-02-06T00:00:00.000" />
  <row Id="22" PostId="3" VoteTypeId="2" CreationDate="2015-02-06T00:00:00.000" />
  <row Id="23" PostId="2" VoteTypeId="3" CreationDate="2015-02-06T00:00:00.000" />
  <row Id="24" PostId="1" VoteTypeId="5" UserId="6" CreationDate="2015-02-07T00:00:00.000" />
  <row Id="25" PostId="99" VoteTypeId="5" UserId="5" CreationDate="2015-02-08T00:00:00.000" />
</votes>
""",
}


@pytest.fixture
def tiny(tmp_path):
    for name, text in TINY.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_mapping_on_a_tiny_dump(db, tiny):
    community = CommunityFactory(slug="acme")

    call_command("import_stackexchange", "acme", str(tiny), stdout=StringIO())

    members = {
        m.identities.get().external_id: m for m in Member.objects.filter(community=community)
    }
    assert set(members) == {"5", "6"}  # Not the bot.
    asker = members["5"]
    assert (asker.name, asker.location) == ("Asker", "Oslo")
    assert asker.bio == "Stout & ale.\n\nHi"  # Tags gone, entities decoded.
    assert asker.joined_at == datetime(2015, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    assert asker.avatar_url == ""
    assert "42" not in str(asker.attributes)
    activities = sorted(
        Activity.objects.filter(community=community).values_list(
            "external_id", "kind__slug", "member__name", "occurred_at", "title"
        )
    )
    day = lambda d, h=0: datetime(2015, 2, d, h, tzinfo=UTC)  # noqa: E731
    title = "Stout or porter?"
    assert activities == [
        ("accepted-2", "answer_accepted", "Answerer", day(6), title),  # When the vote came.
        ("comment-10", "message", "Asker", day(4, 10), title),
        ("post-1", "post", "Asker", day(1, 10), title),
        ("post-2", "reply", "Answerer", day(2, 10), title),
        ("vote-21", "reaction_received", "Answerer", day(6), title),
        ("vote-24", "reaction_given", "Answerer", day(7), title),
        ("vote-25", "reaction_given", "Asker", day(8), ""),  # On a post deleted since.
    ]
    asker.refresh_from_db()
    # The later of LastAccessDate and the newest initiated activity (vote-25, 2015-02-08).
    assert asker.last_seen_at == day(8)
    assert members["6"].last_seen_at == datetime(2016, 1, 1, tzinfo=UTC)


def test_a_changed_dump_updates_members_in_place(db, tiny):
    community = CommunityFactory(slug="acme")
    call_command("import_stackexchange", "acme", str(tiny), stdout=StringIO())
    users = (tiny / "Users.xml").read_text(encoding="utf-8")
    (tiny / "Users.xml").write_text(users.replace('Location="Oslo"', 'Location="Bergen"'))

    out = StringIO()
    call_command("import_stackexchange", "acme", str(tiny), stdout=out)

    assert "Members: 0 created, 1 updated, 1 unchanged." in out.getvalue()
    assert "Activities: 0 created (none), 7 unchanged." in out.getvalue()
    assert Member.objects.get(community=community, name="Asker").location == "Bergen"
    assert Member.objects.filter(community=community).count() == 2


def test_no_score_skips_the_scoring(db, tmp_path):
    community = CommunityFactory(name="Tiny", slug="tiny")
    (tmp_path / "Users.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<users>\n'
        '  <row Id="5" DisplayName="Ann" CreationDate="2024-01-01T00:00:00.000" />\n</users>\n'
    )
    # Ann asked a question: only a scoring run can score her (one without activity scores 0).
    (tmp_path / "Posts.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'
        '  <row Id="1" PostTypeId="1" OwnerUserId="5" CreationDate="2024-01-02T00:00:00.000" '
        'Title="Which hops?" />\n</posts>\n'
    )
    for name, root in [("Comments", "comments"), ("Votes", "votes")]:
        (tmp_path / f"{name}.xml").write_text(f'<?xml version="1.0"?>\n<{root}>\n</{root}>\n')
    out = StringIO()
    call_command("import_stackexchange", "tiny", str(tmp_path), "--no-score", stdout=out)
    assert "Members: 1 created" in out.getvalue()
    assert "Scored" not in out.getvalue()
    assert not MemberScore.objects.filter(community=community).exists()

    out = StringIO()
    call_command("import_stackexchange", "tiny", str(tmp_path), stdout=out)
    assert "Scored 1 member: 0 super users, 0 active, 1 inactive." in out.getvalue()
    assert MemberScore.objects.filter(community=community).count() == 1


def test_scores_of_every_member_match_an_independent_computation(db, beer):
    """Done-when of the engagement issue: score_engagement --as-of on real data equals
    docs/scoring.md."""
    community, _, _, _ = beer
    as_of = datetime(2016, 12, 12, tzinfo=UTC)  # the day after the dump's newest row
    call_command("score_engagement", "beer", "--as-of", as_of.isoformat(), stdout=StringIO())

    kinds = {
        k.slug: (k.weight, k.daily_cap, k.initiated)
        for k in ActivityKind.objects.for_community(community)
    }
    histories: dict[int, list] = {}
    for member_id, slug, at in Activity.objects.filter(community=community).values_list(
        "member_id", "kind__slug", "occurred_at"
    ):
        histories.setdefault(member_id, []).append((slug, at))
    scores = MemberScore.objects.filter(community=community)
    assert scores.count() == Member.objects.filter(community=community).count()
    mismatches = []
    for score in scores:
        expected = expected_score(histories.get(score.member_id, []), kinds, as_of)
        got = (score.frequency, score.recency, score.impact, score.engagement)
        wanted = (expected.frequency, expected.recency, expected.impact, expected.engagement)
        if any(abs(a - b) > Decimal("0.01") for a, b in zip(got, wanted, strict=True)):
            mismatches.append((score.member_id, got, wanted))
    assert mismatches == []
    # Real data reaches every part of the scale: the comparison is not all zeros.
    assert scores.filter(impact__gt=1).exists()
    assert scores.filter(recency=3).exists()
    assert scores.filter(frequency__gt=2).exists()
    assert scores.filter(impact__gt=0).count() > 400
