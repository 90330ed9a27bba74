"""GET /api/v1/membership-changes (the ledger as a feed) and GET /api/v1/import-jobs/{id}."""

from __future__ import annotations

from members.models import ImportJob
from segments import services
from tests.factories import MemberFactory


def test_the_feed_gives_every_change_once_in_order(api, community, other_community):
    board = services.segment_create(community=community, name="Board", kind="manual")
    members = [MemberFactory(community=community) for _ in range(3)]
    services.segment_add_members(segment=board, members=members)
    services.segment_remove_members(segment=board, member_ids=[members[0].pk])
    theirs = services.segment_create(community=other_community, name="Theirs", kind="manual")
    services.segment_add_members(segment=theirs, members=[MemberFactory(community=other_community)])

    first = api.get("membership-changes", query={"limit": 2}).json()
    assert len(first["items"]) == 2
    rest = api.get("membership-changes", query={"since": first["next"]}).json()
    items = first["items"] + rest["items"]
    assert [(i["member_id"], i["change"]) for i in items][-1] == (members[0].pk, "left")
    assert sorted((i["member_id"], i["change"]) for i in items[:3]) == sorted(
        (m.pk, "entered") for m in members
    )
    assert {i["segment_id"] for i in items} == {board.pk}
    assert {i["segment_name"] for i in items} == {"Board"}
    assert [i["id"] for i in items] == sorted(i["id"] for i in items)
    assert items[0]["via"] == "manual" and items[0]["at"]

    # Nothing new: the same cursor back, to poll with.
    empty = api.get("membership-changes", query={"since": rest["next"]}).json()
    assert empty == {"items": [], "next": rest["next"]}
    services.segment_add_members(segment=board, members=[members[0]])
    new = api.get("membership-changes", query={"since": rest["next"]}).json()
    assert [(i["member_id"], i["change"]) for i in new["items"]] == [(members[0].pk, "entered")]

    only = api.get("membership-changes", query={"segment": board.pk}).json()
    assert len(only["items"]) == 5
    assert api.get("membership-changes", query={"segment": theirs.pk}).status_code == 404
    bad = api.get("membership-changes", query={"since": "bWVtYmVyczox"})  # a members cursor
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "since"


def test_an_import_job(api, community, other_community):
    job = ImportJob.objects.create(
        community=community,
        importer="members",
        file_name="crm.csv",
        file_size=100,
        status="done",
        confirmed=True,
        rows_read=3,
        created=1,
        updated=1,
        invalid=1,
        problems=[[3, "invalid", 'email "x" is not a valid email address']],
        details=[["Members created", 1]],
    )
    body = api.get(f"import-jobs/{job.pk}").json()
    assert body["status"] == "done" and body["status_label"] == "Done"
    assert body["counts"] == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "skipped": 0,
        "invalid": 1,
    }
    assert body["report"] == [
        {"line": 3, "kind": "invalid", "message": 'email "x" is not a valid email address'}
    ]
    assert body["details"] == [{"label": "Members created", "count": 1}]
    assert body["percent"] == 100
    theirs = ImportJob.objects.create(community=other_community, importer="members", file_name="a")
    assert api.get(f"import-jobs/{theirs.pk}").status_code == 404
