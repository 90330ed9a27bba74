"""The segment screens under hostile input and races: every answer is a page, a 404 or a clear
message, never a 500 (the reproductions of the hardening issue, one test each)."""

import pytest
from django.db import connection
from django.urls import reverse

from segments import files, services
from segments.models import Segment, SegmentMembership
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

EVERYONE = {"all": []}


@pytest.fixture
def ada(community):
    return MemberFactory(community=community, name="Ada Lovelace", email="ada@example.org")


@pytest.fixture
def mentors(community):
    return services.segment_create(community=community, name="Mentors", kind="manual")


def url(name, community, *args):
    return reverse(f"segments:{name}", args=[community.slug, *args])


@pytest.mark.parametrize("value", ["abc", "²", "\u0661", "99999999999999999999", "-1", "1\x00"])
def test_a_segment_field_that_is_not_an_id_is_a_404(alice_client, community, value):
    response = alice_client.post(url("preview", community), {"segment": value})
    assert response.status_code == 404


@pytest.mark.parametrize("value", ["²", "\u0661", "1e3", "99999999999999999999", "\x00"])
def test_digits_that_are_not_ascii_are_not_ids(alice_client, community, ada, mentors, value):
    remove = alice_client.post(url("remove", community, mentors.pk), {"member": value})
    assert remove.status_code == 302
    profile = alice_client.post(url("member", community, ada.pk), {"segment": value})
    assert profile.status_code == 200
    assert "Choose a segment." in profile.content.decode()
    pick = alice_client.post(
        url("new", community),
        {"kind": "manual", "name": "Picked", "action": f"pick:{value}", "entries": ""},
    )
    assert pick.status_code == 200
    assert not SegmentMembership.objects.filter(segment=mentors).exists()


def test_a_nul_in_pasted_entries_is_a_clear_error(alice_client, community, ada, mentors):
    preview = alice_client.post(
        url("preview", community), {"kind": "manual", "entries": "ada@example.org\ngr\x00ace"}
    )
    assert preview.status_code == 200
    assert "contains a NUL character" in preview.content.decode()
    added = alice_client.post(
        url("add", community, mentors.pk),
        {"entries": "ada@\x00example.org"},
        HTTP_HX_REQUEST="true",
    )
    assert added.status_code == 200
    assert "Null characters are not allowed" in added.content.decode()
    assert mentors.memberships.count() == 0


def test_a_nul_in_the_member_search_finds_nothing_and_does_not_crash(alice_client, community, ada):
    response = alice_client.post(
        url("new", community), {"kind": "manual", "search": "Ada\x00", "action": "refresh"}
    )
    assert response.status_code == 200
    assert "Ada Lovelace" in response.content.decode()  # the NUL is dropped from the words


def test_a_paste_of_too_many_or_too_long_entries_is_refused(community):
    with pytest.raises(services.SegmentError, match="at most 10,000 names or emails"):
        services.match_members(community, [f"m{i}" for i in range(10_001)])
    with pytest.raises(services.SegmentError, match="longer than 320 characters"):
        services.match_members(community, ["x" * 321])


def _dialog_save(client, community, segment, version, name):
    return client.post(
        url("edit", community, segment.pk),
        {
            "name": name,
            "color": "blue",
            "group-1": "all",
            "action": "save",
            "edit_version": version,
        },
        HTTP_HX_REQUEST="true",
    )


def test_a_stale_edit_dialog_is_told_someone_else_changed_the_segment(alice_client, community):
    segment = services.segment_create(
        community=community, name="Everyone", kind="smart", rule=EVERYONE
    )
    opened = segment.edit_version
    services.segment_update(segment=segment, name="Everyone (theirs)")

    response = _dialog_save(alice_client, community, segment, opened, "Everyone (mine)")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Someone else changed this segment since you opened it" in page
    assert Segment.objects.get(pk=segment.pk).name == "Everyone (theirs)"
    # The form now carries their version: saving again is a deliberate overwrite.
    current = Segment.objects.get(pk=segment.pk).edit_version
    assert f'value="{current}"' in page
    again = _dialog_save(alice_client, community, segment, current, "Everyone (mine)")
    assert again.status_code == 204
    assert Segment.objects.get(pk=segment.pk).name == "Everyone (mine)"


def test_a_save_with_an_unchanged_version_goes_through(alice_client, community):
    segment = services.segment_create(
        community=community, name="Everyone", kind="smart", rule=EVERYONE
    )
    response = _dialog_save(alice_client, community, segment, segment.edit_version, "All")
    assert response.status_code == 204
    assert Segment.objects.get(pk=segment.pk).name == "All"


def test_moving_or_adding_to_a_segment_deleted_meanwhile_is_a_404_or_a_message(
    alice_client, community, ada, mentors
):
    gone = services.segment_create(community=community, name="Gone", kind="manual")
    Segment.objects.filter(pk=gone.pk).delete()
    assert (
        alice_client.post(url("move", community, gone.pk), {"direction": "up"}).status_code == 404
    )
    with pytest.raises(services.SegmentGone, match="Gone was deleted meanwhile"):
        services.segment_add_members(segment=gone, members=[ada])


def test_import_segments_refuses_a_rule_nested_a_thousand_levels_deep(community):
    rule: dict = {"all": []}
    for _ in range(1000):
        rule = {"all": [rule]}
    data = [{"name": "Deep", "kind": "smart", "rule": rule}]
    with pytest.raises(files.SegmentsFileError, match="groups nest at most 8 levels"):
        files.import_segments(community=community, data=data)
    with pytest.raises(files.SegmentsFileError, match="nests too deeply"):
        files.loads("[" * 100_000 + "]" * 100_000)
    assert not Segment.objects.filter(community=community).exists()


def test_import_segments_refuses_a_nul_in_a_name_or_a_member(community, ada):
    with pytest.raises(files.SegmentsFileError, match="cannot contain a NUL character"):
        files.import_segments(community=community, data=[{"name": "Me\x00n", "kind": "manual"}])
    with pytest.raises(files.SegmentsFileError, match="contains a NUL character"):
        files.import_segments(
            community=community,
            data=[{"name": "Mentors", "kind": "manual", "members": ["ada@\x00example.org"]}],
        )
    assert not Segment.objects.filter(community=community).exists()


@pytest.mark.postgres
def test_an_export_streams_under_its_own_time_limit(alice_client, community, mentors, settings):
    settings.EXPORT_STATEMENT_TIMEOUT = 12.5
    seen = []

    def rows(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            seen.append(cursor.fetchone()[0])
        yield ["name"]

    from segments import views

    original = views.exports.member_rows
    views.exports.member_rows = rows
    try:
        response = alice_client.get(url("export", community, mentors.pk))
        assert b"".join(response.streaming_content) == b"\xef\xbb\xbfname\r\n"
    finally:
        views.exports.member_rows = original
    assert seen == ["12500ms"]
