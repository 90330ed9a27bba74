"""The Possible duplicates page, the merge screen and the profile's merges
(members/merge_views.py)."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from engagement.models import Activity
from members import duplicates
from members.merging import member_merge
from members.models import Member, MemberMerge
from tests.factories import ActivityFactory, IdentityFactory, MemberFactory

pytestmark = pytest.mark.django_db


def duplicates_url(community) -> str:
    return reverse("members:duplicates", args=[community.slug])


def merge_url(community, kept, other) -> str:
    kept_id = kept if isinstance(kept, (int, str)) else kept.pk
    other_id = other if isinstance(other, (int, str)) else other.pk
    return reverse("members:merge", args=[community.slug, kept_id, other_id])


def pairs_on(content: str) -> set[tuple[int, int]]:
    """The (kept, other) ids of the merge links on a page."""
    return {(int(a), int(b)) for a, b in re.findall(r"/members/(\d+)/merge/(\d+)/", content)}


def member(community, name, *, email="", company="", sources=()):
    found = MemberFactory(community=community, name=name, email=email, company_name=company)
    for source in sources:
        IdentityFactory(member=found, source=source)
    return found


@pytest.fixture
def people(community):
    """Pairs that are possible duplicates, and near misses that are not."""
    p = {
        # (a) the same name and company, case and spaces aside
        "ann": member(community, "Ann Lee", email="ann@acme.test", company="Acme"),
        "ann2": member(community, "ann lee ", email="ann.lee@home.test", company=" ACME"),
        # (b) the same name from different sources, one email between them
        "bo": member(community, "Bo Chen", sources=["slack"]),
        "bo2": member(community, "Bo Chen", email="bo@x.test", sources=["discourse", "github"]),
        # near misses: same name, different companies, both with an email
        "cy": member(community, "Cy Park", email="cy@a.test", company="Acme"),
        "cy2": member(community, "Cy Park", email="cy@b.test", company="Globex"),
        # same name, a shared source (two Slack accounts), no email
        "di": member(community, "Di Ng", sources=["slack"]),
        "di2": member(community, "Di Ng", sources=["slack", "csv"]),
        # same name, different sources, but two emails
        "ed": member(community, "Ed Ho", email="ed@a.test", sources=["slack"]),
        "ed2": member(community, "Ed Ho", email="ed@b.test", sources=["github"]),
        # same name, one source each, the same one
        "jo": member(community, "Jo Kim", sources=["slack"]),
        "jo2": member(community, "Jo Kim", sources=["slack"]),
        # several sources each, none shared (told apart without reading identities, or not)
        "lu": member(community, "Lu Wei", sources=["csv", "discourse"]),
        "lu2": member(community, "Lu Wei", sources=["github", "slack"]),
        "mo": member(community, "Mo Ali", sources=["csv", "slack"]),
        "mo2": member(community, "Mo Ali", sources=["discourse"]),
        # several sources each, one shared (github)
        "nat": member(community, "Nat Orr", sources=["csv", "github", "slack"]),
        "nat2": member(community, "Nat Orr", sources=["discourse", "github"]),
        # same name, no identity at all
        "flo": member(community, "Flo Ray"),
        "flo2": member(community, "Flo Ray"),
        # different names at the same company; no names at the same company
        "gus": member(community, "Gus Fry", company="Acme"),
        "hal": member(community, "Hal Fry", company="Acme"),
        "blank": member(community, "", email="blank1@x.test", company="Acme"),
        "blank2": member(community, "  ", email="blank2@x.test", company="Acme"),
    }
    return p


# --- The Possible duplicates page -----------------------------------------------------------


def test_the_page_lists_the_possible_duplicates_and_not_the_near_misses(alice_client, people):
    response = alice_client.get(duplicates_url(people["ann"].community))
    content = response.content.decode()
    assert response.status_code == 200
    assert pairs_on(content) == {
        (people["ann"].pk, people["ann2"].pk),
        (people["bo"].pk, people["bo2"].pk),
        (people["lu"].pk, people["lu2"].pk),
        (people["mo"].pk, people["mo2"].pk),
    }
    assert "Same name and company" in content
    assert "Same name, different sources" in content
    near_misses = ("Cy Park", "Di Ng", "Ed Ho", "Jo Kim", "Nat Orr", "Flo Ray", "Gus Fry")
    for near_miss in (*near_misses, "Hal Fry"):
        assert near_miss not in content


def test_the_service_gives_the_reasons_per_pair(community, people):
    page = duplicates.duplicate_groups(community)
    found = {
        (pair.first.name, pair.second.name): pair.reasons
        for group in page.groups
        for pair in group.pairs
    }
    assert found == {
        ("Ann Lee", "ann lee "): ["Same name and company"],
        ("Bo Chen", "Bo Chen"): ["Same name, different sources"],
        ("Lu Wei", "Lu Wei"): ["Same name, different sources"],
        ("Mo Ali", "Mo Ali"): ["Same name, different sources"],
    }
    assert [group.key for group in page.groups] == ["ann lee", "bo chen", "lu wei", "mo ali"]
    assert page.next_after is None


def test_a_name_shared_by_three_is_one_group_with_its_pairs(community):
    first, second, third = (member(community, "Kim Roe", company="Initech") for _ in range(3))
    (group,) = duplicates.duplicate_groups(community).groups
    assert group.pair_count == 3
    assert [(p.first.pk, p.second.pk) for p in group.pairs] == [
        (first.pk, second.pk),
        (first.pk, third.pk),
        (second.pk, third.pk),
    ]


def test_another_communitys_members_never_appear(alice_client, community, other_community):
    mine = member(community, "Ann Lee", company="Acme")
    theirs = member(other_community, "Ann Lee", company="Acme")
    member(other_community, "Ann Lee", company="Acme")
    content = alice_client.get(duplicates_url(community)).content.decode()
    assert pairs_on(content) == set()
    assert f"#{theirs.pk}" not in content
    MemberFactory(community=community, name="ANN LEE", company_name="acme")
    content = alice_client.get(duplicates_url(community)).content.decode()
    assert {a for a, _ in pairs_on(content)} == {mine.pk}
    assert f"#{theirs.pk}<" not in content


def test_pages_of_names_follow_each_other(alice_client, community, monkeypatch):
    monkeypatch.setattr(duplicates, "MAX_GROUPS", 2)
    for name in ("Cat One", "Abe Two", "Bea Three"):
        member(community, name, company="Acme")
        member(community, name, company="Acme")
    first = alice_client.get(duplicates_url(community)).content.decode()
    assert "Abe Two" in first and "Bea Three" in first and "Cat One" not in first
    (after,) = re.findall(r'href="[^"]*\?after=([^"]+)"', first)
    second = alice_client.get(f"{duplicates_url(community)}?after={after}").content.decode()
    assert "Cat One" in second and "Abe Two" not in second and "Bea Three" not in second
    assert "?after=" not in second  # the last page
    assert "First page" in second


def test_a_page_compares_a_bounded_number_of_members(alice_client, community, monkeypatch):
    """A page stops comparing after MAX_SCANNED_MEMBERS members, and a name compares its first
    MAX_COMPARED members only: one page's work is bounded whatever the community holds."""
    monkeypatch.setattr(duplicates, "MAX_SCANNED_MEMBERS", 4)
    monkeypatch.setattr(duplicates, "MAX_COMPARED", 3)
    member(community, "Abe Lone", email="a1@x.test", company="A")  # not duplicates
    member(community, "Abe Lone", email="a2@x.test", company="B")
    crowd = [member(community, "Bob", company="Acme") for _ in range(5)]
    member(community, "Cyd Pair", company="Acme")
    member(community, "Cyd Pair", company="Acme")

    first = duplicates.duplicate_groups(community)
    (group,) = first.groups  # "abe lone" (2) and "bob" (3 of 5 compared) fill the budget
    assert (group.key, group.size, group.compared, group.pair_count) == ("bob", 5, 3, 3)
    assert {m.pk for p in group.pairs for m in (p.first, p.second)} == {m.pk for m in crowd[:3]}
    assert first.next_after == "bob"
    second = duplicates.duplicate_groups(community, after=first.next_after)
    assert [g.key for g in second.groups] == ["cyd pair"]
    assert second.next_after is None

    content = alice_client.get(duplicates_url(community)).content.decode()
    assert "among the first 3 of the 5 members with this name" in content
    monkeypatch.setattr(duplicates, "MAX_SCANNED_MEMBERS", 2)  # only "abe lone": no pair
    content = alice_client.get(duplicates_url(community)).content.decode()
    assert "No possible duplicates among the names this page compared." in content
    assert "?after=abe%20lone" in content


@pytest.mark.parametrize("after", ["\x00", "x" * 401, "zzzz"])
def test_a_forged_or_past_the_end_cursor_is_no_error(alice_client, community, after):
    member(community, "Ann Lee", company="Acme")
    member(community, "Ann Lee", company="Acme")
    response = alice_client.get(duplicates_url(community), {"after": after})
    assert response.status_code == 200
    shown = "Ann Lee" in response.content.decode()
    assert shown == (after != "zzzz")  # a forged one shows the first page


def test_the_page_costs_the_same_few_queries_however_many_pairs(
    alice_client, community, django_assert_max_num_queries
):
    for index in range(60):
        member(community, f"Person {index:02}", company="Acme")
        member(community, f"Person {index:02}", company="Acme")
    with django_assert_max_num_queries(20):
        content = alice_client.get(duplicates_url(community)).content.decode()
    assert len(pairs_on(content)) == duplicates.MAX_GROUPS
    assert "Person 49" in content and "Person 50" not in content


def test_viewers_see_the_duplicates_without_merge_links(victor_client, community, people):
    response = victor_client.get(duplicates_url(community))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Ann Lee" in content
    assert pairs_on(content) == set()


def test_outsiders_get_404(otto_client, community, people):
    assert otto_client.get(duplicates_url(community)).status_code == 404
    url = merge_url(community, people["ann"], people["ann2"])
    assert otto_client.get(url).status_code == 404
    assert otto_client.post(url, {"confirm": "on"}).status_code == 404
    assert Member.objects.filter(pk=people["ann2"].pk).exists()


def test_the_members_page_links_to_the_duplicates(alice_client, community):
    content = alice_client.get(reverse("members:list", args=[community.slug])).content.decode()
    assert f'href="{duplicates_url(community)}"' in content


# --- The merge screen -----------------------------------------------------------------------


@pytest.fixture
def pair(community):
    kept = MemberFactory(
        community=community,
        name="Ann Lee",
        email="ann@acme.test",
        company_name="Acme",
        job_title="",
        joined_at=datetime(2024, 5, 1, tzinfo=UTC),
        attributes={"plan": "pro"},
    )
    other = MemberFactory(
        community=community,
        name="Ann Lee",
        email="",
        company_name="Acme",
        job_title="Designer",
        city=kept.city,
        country=kept.country,
        location=kept.location,
        joined_at=datetime(2023, 2, 1, tzinfo=UTC),
        attributes={"plan": "free"},
    )
    IdentityFactory(member=other, source="slack", external_id="U42")
    ActivityFactory(member=other)
    return kept, other


def checked(content: str) -> dict[str, str]:
    """The checked radio button of each field."""
    return dict(re.findall(r'name="field_(\w+)" value="(kept|merged)" checked', content))


def test_the_screen_shows_both_with_a_choice_for_each_difference(alice_client, community, pair):
    kept, other = pair
    response = alice_client.get(merge_url(community, kept, other))
    content = response.content.decode()
    assert response.status_code == 200
    assert checked(content) == {
        "email": "kept",
        "job_title": "merged",
        "joined_at": "merged",
        "attributes": "kept",
    }
    assert 'name="field_name"' not in content  # the same for both: no choice
    assert "U42" in content  # the identity that moves over
    assert "A merge cannot be undone" in content
    assert 'name="confirm"' in content
    assert 'name="csrfmiddlewaretoken"' in content
    assert merge_url(community, other, kept) in content  # "Keep #... instead"


def test_the_merge_needs_the_confirmation(alice_client, community, pair):
    kept, other = pair
    response = alice_client.post(merge_url(community, kept, other), {"field_job_title": "merged"})
    assert response.status_code == 400
    assert "Tick “I understand a merge cannot be undone” to merge." in response.content.decode()
    assert Member.objects.filter(pk=other.pk).exists()
    assert not MemberMerge.objects.exists()


def test_a_confirmed_merge_redirects_to_the_kept_profile(alice, alice_client, community, pair):
    kept, other = pair
    response = alice_client.post(
        merge_url(community, kept, other),
        {"confirm": "on", "field_job_title": "kept", "field_attributes": "merged"},
    )
    assert response.status_code == 302
    assert response["Location"] == kept.get_absolute_url()
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Ann Lee was merged into Ann Lee."
    ]
    assert not Member.objects.filter(pk=other.pk).exists()
    kept.refresh_from_db()
    assert kept.job_title == ""  # chosen: the kept member's (empty) one
    assert kept.attributes == {"plan": "free"}
    assert kept.joined_at == datetime(2023, 2, 1, tzinfo=UTC)  # the default: the earlier
    assert Activity.objects.filter(member=kept).count() == 1
    record = MemberMerge.objects.get()
    assert (record.kept, record.by, record.merged_member_id) == (kept, alice, other.pk)


def test_a_forged_choice_falls_back_to_the_default(alice_client, community, pair):
    kept, other = pair
    alice_client.post(
        merge_url(community, kept, other), {"confirm": "on", "field_job_title": "both"}
    )
    kept.refresh_from_db()
    assert kept.job_title == "Designer"


def test_a_member_merged_meanwhile_is_a_clear_message(alice_client, community, pair):
    kept, other = pair
    third = MemberFactory(community=community, name="Ann Lee")
    member_merge(community=community, kept=third, merged=other)
    for response in (
        alice_client.get(merge_url(community, kept, other)),
        alice_client.post(merge_url(community, kept, other), {"confirm": "on"}),
    ):
        content = response.content.decode()
        assert response.status_code == 404
        assert f"Member #{other.pk} was merged into Ann Lee on" in content
    assert Member.objects.filter(pk=kept.pk).exists()


def test_a_member_deleted_during_the_merge_is_a_message_not_an_error(
    alice_client, community, pair, monkeypatch
):
    """Deleted after the screen read it, before the merge locked it."""
    kept, other = pair
    from members import merge_views

    real_merge = merge_views.merging.member_merge

    def delete_first(**kwargs):
        Member.objects.filter(pk=other.pk).delete()
        return real_merge(**kwargs)

    monkeypatch.setattr(merge_views.merging, "member_merge", delete_first)
    response = alice_client.post(merge_url(community, kept, other), {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"] == duplicates_url(community)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Ann Lee was deleted meanwhile; nothing was merged."
    ]
    assert Member.objects.filter(pk=kept.pk).exists()


def test_a_member_cannot_be_merged_with_itself_on_the_screen(alice_client, community, pair):
    kept, _ = pair
    for response in (
        alice_client.get(merge_url(community, kept, kept)),
        alice_client.post(merge_url(community, kept, kept), {"confirm": "on"}),
    ):
        assert response.status_code == 400
        assert "cannot be merged with themselves" in response.content.decode()
    assert Member.objects.filter(pk=kept.pk).exists()


@pytest.mark.parametrize("bad", ["abc", "0", "1²", str(2**63), "-1"])
def test_ids_that_are_not_ids_are_404(alice_client, community, pair, bad):
    kept, other = pair
    assert alice_client.get(merge_url(community, kept, bad)).status_code == 404
    assert alice_client.post(merge_url(community, bad, other), {"confirm": "on"}).status_code == 404
    assert Member.objects.filter(pk__in=[kept.pk, other.pk]).count() == 2


def test_another_communitys_member_is_404(alice_client, community, other_community, pair):
    kept, _ = pair
    stranger = MemberFactory(community=other_community, name="Ann Lee")
    response = alice_client.post(merge_url(community, kept, stranger), {"confirm": "on"})
    assert response.status_code == 404
    # Said as of any id that is not in this community: nothing tells where it is.
    assert f"Member #{stranger.pk} was deleted meanwhile" in response.content.decode()
    assert Member.objects.filter(pk=stranger.pk).exists()
    assert alice_client.get(merge_url(community, stranger, kept)).status_code == 404


def test_viewers_cannot_merge(victor_client, community, pair):
    kept, other = pair
    assert victor_client.get(merge_url(community, kept, other)).status_code == 403
    response = victor_client.post(merge_url(community, kept, other), {"confirm": "on"})
    assert response.status_code == 403
    assert Member.objects.filter(pk=other.pk).exists()


def test_admins_can_merge(client, amy, community, pair):
    kept, other = pair
    client.force_login(amy)
    response = client.post(merge_url(community, kept, other), {"confirm": "on"})
    assert response.status_code == 302
    assert not Member.objects.filter(pk=other.pk).exists()


def test_the_merge_needs_the_csrf_token(alice, community, pair):
    kept, other = pair
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(merge_url(community, kept, other), {"confirm": "on"})
    assert response.status_code == 403
    assert Member.objects.filter(pk=other.pk).exists()


# --- The profile ----------------------------------------------------------------------------


def test_the_profile_lists_possible_duplicates_with_a_merge_link(alice_client, community, pair):
    kept, other = pair
    content = alice_client.get(kept.get_absolute_url()).content.decode()
    assert "Possibly the same person" in content
    assert pairs_on(content) == {(kept.pk, other.pk)}
    assert f'href="{duplicates_url(community)}"' in content
    content = alice_client.get(other.get_absolute_url()).content.decode()
    assert pairs_on(content) == {(other.pk, kept.pk)}  # the profile's member is kept


def test_viewers_see_possible_duplicates_without_the_merge_link(victor_client, community, pair):
    kept, _ = pair
    content = victor_client.get(kept.get_absolute_url()).content.decode()
    assert "Possibly the same person" in content
    assert pairs_on(content) == set()


def test_the_profile_shows_each_merge(alice, alice_client, community, pair):
    kept, other = pair
    member_merge(community=community, kept=kept, merged=other, by=alice)
    gone = MemberFactory(community=community, name="", email="old@example.org")
    record = member_merge(community=community, kept=kept, merged=gone, by=None)
    content = alice_client.get(kept.get_absolute_url()).content.decode()
    day = f"{record.at:%b} {record.at.day}, {record.at.year}"
    assert re.search(
        rf"Merged from <strong>Ann Lee</strong> on <time[^>]*>{day} [0-9:]+</time> by alice",
        content,
    )
    assert re.search(
        rf"Merged from <strong>old@example.org</strong> on <time[^>]*>{day} [0-9:]+</time> "
        "by an unknown user",
        content,
    )
    assert "No possible duplicate of Ann Lee." in content
