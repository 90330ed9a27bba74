"""The segment flows in a browser (docs/rules.md "The six segment ideas"; the dialog, pills,
Segments page and profile). Elements are found by role and label, as a user would."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from engagement.models import MemberScore
from segments import refresh, services
from segments.models import Kind, Segment, SegmentMembership
from tests.browser.conftest import ARTIFACTS
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    company: str
    title: str
    city: str
    joined_days_ago: int
    seen_days_ago: int | None
    impact: str | None


# Dates are kept far from every boundary the tests use (7 and 30 days, "before 60 days ago").
PEOPLE = [
    Person("Ada Lovelace", "ada@example.org", "Acme", "Product Designer", "Austin", 3, 1, "2.50"),
    Person("Bea Boole", "bea@example.org", "Acme", "Engineer", "Berlin", 12, 90, None),
    Person("Cy Young", "cy@example.org", "Globex", "UX Designer", "Austin", 20, 5, "3.00"),
    Person("Dee Diaz", "dee@example.org", "Initech", "Designer", "Lagos", 45, 200, "1.50"),
    Person("Eve Adams", "eve@example.org", "Acme", "Designer", "Austin", 200, 100, "2.00"),
    Person("Finn Fox", "finn@example.org", "Globex", "Engineer", "Austin", 5, None, None),
    Person("Gus Grant", "gus@example.org", "Hooli", "Graphic designer", "Berlin", 25, 70, "2.10"),
    Person("Hana Hill", "hana@example.org", "Acme", "Marketing", "Lagos", 400, 365, None),
    Person("Ivy Ito", "ivy@example.org", "Hooli", "Designer", "Austin", 6, 2, None),
    Person("Jon Jay", "jon@example.org", "Initech", "Founder", "Paris", 60, 10, "2.90"),
    Person("Kai Kim", "kai@example.org", "Acme Corp", "Sales", "Paris", 90, 40, "0.50"),
    Person("Lea Lund", "lea@example.org", "Umbrella", "Engineer", "Austin", 150, 150, None),
]


def expected(predicate) -> set[str]:
    return {p.name for p in PEOPLE if predicate(p)}


@pytest.fixture
def town(community):
    now = timezone.now()
    for person in PEOPLE:
        member = MemberFactory(
            community=community,
            name=person.name,
            email=person.email,
            company_name=person.company,
            job_title=person.title,
            city=person.city,
            joined_at=now - timedelta(days=person.joined_days_ago),
            last_seen_at=(
                now - timedelta(days=person.seen_days_ago)
                if person.seen_days_ago is not None
                else None
            ),
        )
        if person.impact is not None:
            MemberScore.objects.create(
                member=member, community=community, impact=Decimal(person.impact), as_of=now
            )
    return community


def smart(community, name, rule, **fields) -> Segment:
    segment = services.segment_create(
        community=community, name=name, kind=Kind.SMART, rule=rule, **fields
    )
    refresh.refresh_segment(segment.pk)
    return segment


def members_of(name: str) -> set[str]:
    return set(
        SegmentMembership.objects.filter(segment__name=name).values_list("member__name", flat=True)
    )


# --- Page helpers -------------------------------------------------------------------------------


def settled(page):
    """Wait until htmx has processed what it swapped in: for a moment after a swap the new
    controls are in the page but not yet wired (htmx marks them `htmx-added` until then)."""
    expect(page.locator(".htmx-added, .htmx-settling, .htmx-swapping")).to_have_count(0)


def open_new_dialog(page):
    page.get_by_role("button", name="+ New Segment").click()
    dialog = page.get_by_role("dialog", name="New segment")
    expect(dialog).to_be_visible()
    settled(page)
    return dialog


KINDS = {"joined_at": "date", "last_seen_at": "date", "impact_score": "number"}


def set_condition(dialog, path, field, op, value=None, unit=None):
    """Fill the row at `path` (e.g. "1.2") as a user does, waiting out each re-render."""
    row = dialog.get_by_role("group", name=f"Condition {path}")
    shape = row.locator(f'input[name="shape-{path}"]')
    kind = KINDS.get(field, "text")
    page = dialog.page
    expect(row).to_be_visible()  # e.g. the row "Add condition" asked for has come
    settled(page)
    row.get_by_label("Field").select_option(field)
    expect(shape).to_have_value(re.compile(rf"^{kind}:"))  # the row shows the field's kind
    settled(page)
    row.get_by_label("Operator").select_option(op)
    shown = "relative" if op in ("within_last", "more_than_ago") else kind
    expect(shape).to_have_value(f"{kind}:{shown}")
    expect(row.get_by_label("Operator")).to_have_value(op)
    settled(page)
    if value is not None:
        row.get_by_label("Value").fill(value)
    if unit is not None:
        row.get_by_label("Unit").select_option(unit)


def expect_count(dialog, count: int):
    expect(dialog.get_by_role("status")).to_contain_text(
        re.compile(rf"(^|\s){count} members? match")
    )


def name_and_pin(dialog, name):
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("Pin as a pill above the members table").check()


def save(page, dialog):
    dialog.get_by_role("button", name="Save segment", exact=True).click()
    expect(page.get_by_role("dialog")).to_have_count(0)


def pills(page):
    return page.get_by_role("navigation", name="Segment pills")


def pill(page, name, count=None):
    count_pattern = str(count) if count is not None else r"\d+"
    return pills(page).get_by_role("link", name=re.compile(rf"^{re.escape(name)} {count_pattern}$"))


def table_names(page) -> set[str]:
    return set(page.locator("#members-table tbody .person-name").all_inner_texts())


def show_pill(page, name, members: set[str]):
    """Click the pill; the table shows exactly `members`, in place."""
    link = pill(page, name, len(members))
    expect(link).to_be_visible()
    link.click()
    segment = Segment.objects.get(name=name)
    expect(page).to_have_url(re.compile(rf"[?&]segment={segment.pk}(&|$)"))
    expect(pill(page, name)).to_have_attribute("aria-current", "true")
    expect(page.locator("#members-table .count")).to_have_text(
        re.compile(rf"^\s*{len(members)} members?\s*$")
    )
    assert table_names(page) == members


def mark_page(page):
    """A flag that survives only as long as the document: a reload or navigation drops it."""
    page.evaluate("window.__segmentsTest = 'same document'")


def assert_same_document(page, url):
    assert page.evaluate("window.__segmentsTest") == "same document"
    assert page.url == url


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / name, full_page=True)


# --- Tests --------------------------------------------------------------------------------------


def test_the_six_segment_ideas_through_the_dialog(page, live_server, log_in, alice, town):
    log_in(page, "alice")
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    mark_page(page)
    today = timezone.now().date()
    cutoff = (today - timedelta(days=60)).isoformat()

    ideas = [
        ("Acme", [("company_name", "is", "acme", None)], lambda p: p.company == "Acme"),
        (
            "Designers",
            [("job_title", "contains", "designer", None)],
            lambda p: "designer" in p.title.lower(),
        ),
        (
            "New this week",
            [("joined_at", "within_last", "7", "days")],
            lambda p: p.joined_days_ago < 7,
        ),
        (
            "New this month",
            [("joined_at", "within_last", "30", "days")],
            lambda p: p.joined_days_ago < 30,
        ),
        (
            "Super users",
            [("impact_score", "gt", "2", None)],
            lambda p: p.impact is not None and Decimal(p.impact) > 2,
        ),
        (
            "Gone quiet",
            [("last_seen_at", "before", cutoff, None)],
            lambda p: p.seen_days_ago is not None and p.seen_days_ago > 60,
        ),
        ("Austin", [("city", "is", "Austin", None)], lambda p: p.city == "Austin"),
    ]
    for name, conditions, predicate in ideas:
        members = expected(predicate)
        assert 0 < len(members) < len(PEOPLE), name  # a segment that tells members apart
        url = page.url
        dialog = open_new_dialog(page)
        expect(dialog.get_by_role("radio", name="Smart")).to_be_checked()
        name_and_pin(dialog, name)
        for index, (field, op, value, unit) in enumerate(conditions, start=1):
            set_condition(dialog, f"1.{index}", field, op, value, unit)
        expect_count(dialog, len(members))
        save(page, dialog)
        expect(pill(page, name, len(members))).to_be_visible()
        assert_same_document(page, url)  # the pill came without a reload
        assert members_of(name) == members
        show_pill(page, name, members)

    # Idea 6: a manual sub-group from pasted names and emails.
    url = page.url
    dialog = open_new_dialog(page)
    dialog.get_by_role("radio", name="Manual").check()
    entries = dialog.get_by_label("Paste names or emails")
    expect(entries).to_be_visible()
    settled(page)
    name_and_pin(dialog, "Mentors")
    entries.fill("ada@example.org\nCy Young, jon@example.org")
    expect(dialog.get_by_role("status")).to_contain_text("3 members found")
    save(page, dialog)
    mentors = {"Ada Lovelace", "Cy Young", "Jon Jay"}
    expect(pill(page, "Mentors", 3)).to_be_visible()
    assert_same_document(page, url)
    assert members_of("Mentors") == mentors
    show_pill(page, "Mentors", mentors)

    # Every pill is there, in creation order, after "All members".
    names = [name for name, _, _ in ideas] + ["Mentors"]
    links = pills(page).get_by_role("link")
    expect(links).to_have_count(len(names) + 1)
    texts = [re.sub(r"\s+\d+$", "", t.strip()) for t in links.all_inner_texts()]
    assert texts == ["All members", *names]
    screenshot(page, "segments-pills.png")


def test_done_when_designers_who_joined_in_the_last_30_days(page, live_server, log_in, alice, town):
    log_in(page, "alice")
    mark_page(page)
    url = page.url
    designers = expected(lambda p: "designer" in p.title.lower())
    new_designers = expected(lambda p: "designer" in p.title.lower() and p.joined_days_ago < 30)
    assert len(designers) != len(new_designers)

    dialog = open_new_dialog(page)
    dialog.get_by_label("Name", exact=True).fill("New designers")
    set_condition(dialog, "1.1", "job_title", "contains")
    dialog.get_by_role("group", name="Condition 1.1").get_by_label("Value").press_sequentially(
        "designer", delay=20
    )
    expect_count(dialog, len(designers))  # the count follows the typing

    dialog.get_by_role("button", name="Add condition", exact=True).click()
    set_condition(dialog, "1.2", "joined_at", "within_last", "30", "days")
    expect_count(dialog, len(new_designers))
    sample = dialog.get_by_role("list", name="First matching members").get_by_role("listitem")
    expect(sample).to_have_count(len(new_designers))
    dialog.get_by_label("Pin as a pill above the members table").check()
    screenshot(page, "segments-dialog.png")

    save(page, dialog)
    expect(pill(page, "New designers", len(new_designers))).to_be_visible()
    # The sidebar lists it too, without a reload.
    expect(
        page.get_by_role("list", name="Smart segments").get_by_role("link", name="New designers")
    ).to_be_visible()
    assert_same_document(page, url)
    show_pill(page, "New designers", new_designers)
    assert Segment.objects.get(name="New designers").rule == {
        "all": [
            {"field": "job_title", "op": "contains", "value": "designer"},
            {"field": "joined_at", "op": "within_last", "value": {"amount": 30, "unit": "days"}},
        ]
    }


def test_editing_a_rule_previews_who_will_enter_and_leave(page, live_server, log_in, alice, town):
    rule = {"all": [{"field": "city", "op": "is", "value": "Austin"}]}
    smart(town, "Locals", rule, pinned=True)
    before = expected(lambda p: p.city == "Austin")
    after = expected(lambda p: p.company == "Acme")
    entering, leaving = len(after - before), len(before - after)
    assert entering and leaving and len(before) != len(after)

    log_in(page, "alice")
    expect(pill(page, "Locals", len(before))).to_be_visible()
    page.get_by_role("navigation", name="Community").get_by_role("link", name="Segments").click()
    row = page.locator("#segments-table tr", has_text="Locals")
    expect(row.get_by_role("cell").nth(3)).to_have_text(str(len(before)))
    page.get_by_role("button", name="Edit Locals").click()
    dialog = page.get_by_role("dialog", name="Edit segment")
    expect(dialog).to_be_visible()
    settled(page)
    expect(dialog.get_by_label("Name", exact=True)).to_have_value("Locals")
    expect_count(dialog, len(before))
    expect(dialog.get_by_role("status")).to_contain_text("0 will enter, 0 will leave")

    set_condition(dialog, "1.1", "company_name", "is")
    value = dialog.get_by_role("group", name="Condition 1.1").get_by_label("Value")
    value.fill("Acme")
    expect_count(dialog, len(after))
    expect(dialog.get_by_role("status")).to_contain_text(
        f"{entering} will enter, {leaving} will leave"
    )
    save(page, dialog)
    expect(row.get_by_role("cell").nth(3)).to_have_text(str(len(after)))
    expect(row).to_contain_text("Company Name is Acme")
    assert members_of("Locals") == after

    page.get_by_role("navigation", name="Community").get_by_role("link", name="Members").click()
    expect(pill(page, "Locals", len(after))).to_be_visible()
    show_pill(page, "Locals", after)


def test_deleting_a_segment_removes_its_pill_and_row(page, live_server, log_in, alice, town):
    smart(
        town, "Berliners", {"all": [{"field": "city", "op": "is", "value": "Berlin"}]}, pinned=True
    )
    smart(
        town, "Parisians", {"all": [{"field": "city", "op": "is", "value": "Paris"}]}, pinned=True
    )
    log_in(page, "alice")
    expect(pill(page, "Berliners")).to_be_visible()
    page.get_by_role("navigation", name="Community").get_by_role("link", name="Segments").click()
    expect(page.get_by_role("heading", name="Segments", level=1)).to_be_visible()
    screenshot(page, "segments-page.png")

    page.get_by_role("button", name="Delete Berliners").click()
    dialog = page.get_by_role("dialog", name="Delete Berliners?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Delete segment").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    table = page.get_by_role("main").get_by_role("region", name="Segments")
    expect(table.get_by_role("link", name="Berliners")).to_have_count(0)
    expect(table.get_by_role("link", name="Parisians")).to_be_visible()
    sidebar = page.locator("#segment-sidebar")
    expect(sidebar.get_by_role("link", name="Berliners")).to_have_count(0)
    assert not Segment.objects.filter(name="Berliners").exists()

    page.get_by_role("navigation", name="Community").get_by_role("link", name="Members").click()
    expect(pill(page, "Parisians")).to_be_visible()
    expect(pill(page, "Berliners")).to_have_count(0)


def test_a_request_that_fails_says_so_until_dismissed(page, live_server, log_in, alice, town):
    smart(town, "Berliners", {"all": [{"field": "city", "op": "is", "value": "Berlin"}]})
    smart(town, "Parisians", {"all": [{"field": "city", "op": "is", "value": "Paris"}]})
    log_in(page, "alice")
    page.goto(f"{live_server.url}/c/{town.slug}/segments/")
    problem = page.get_by_role("alert").filter(has_text="deleted it meanwhile")
    expect(problem).to_have_count(0)

    Segment.objects.filter(name="Parisians").delete()  # by someone else, meanwhile
    page.get_by_role("button", name="Move Parisians up").click()
    expect(problem).to_be_visible()
    screenshot(page, "request-failed.png")
    page.get_by_role("button", name="Dismiss").press("Enter")
    expect(problem).to_be_hidden()


def test_manual_segment_from_pasted_emails_reports_the_unknown_one(
    page, live_server, log_in, alice, town
):
    log_in(page, "alice")
    dialog = open_new_dialog(page)
    dialog.get_by_role("radio", name="Manual").check()
    entries = dialog.get_by_label("Paste names or emails")
    expect(entries).to_be_visible()
    settled(page)
    name_and_pin(dialog, "AMA hosts")
    entries.fill("bea@example.org\nnobody@example.org\nIVY@example.org")
    status = dialog.get_by_role("status")
    expect(status).to_contain_text("2 members found")
    expect(status).to_contain_text("Not found: nobody@example.org")
    save(page, dialog)
    assert members_of("AMA hosts") == {"Bea Boole", "Ivy Ito"}
    show_pill(page, "AMA hosts", {"Bea Boole", "Ivy Ito"})


def test_profile_shows_segments_and_adds_to_and_removes_from_manual_ones(
    page, live_server, log_in, alice, town
):
    smart(town, "Acme", {"all": [{"field": "company_name", "op": "is", "value": "Acme"}]})
    mentors = services.segment_create(community=town, name="Mentors", kind=Kind.MANUAL)
    log_in(page, "alice")
    page.get_by_role("link", name="Bea Boole").click()
    expect(page.get_by_role("heading", name="Bea Boole")).to_be_visible()
    segments = page.get_by_role("list", name="Segments of Bea Boole")
    expect(segments.get_by_role("link")).to_have_text(["Acme"])
    expect(page.get_by_role("button", name="Remove from Acme")).to_have_count(0)  # smart

    page.get_by_label("Add to a manual segment").select_option(label="Mentors")
    page.get_by_role("main").get_by_role("region", name="Segments").get_by_role(
        "button", name="Add", exact=True
    ).click()
    expect(segments.get_by_role("link")).to_have_text(["Acme", "Mentors"])
    assert members_of("Mentors") == {"Bea Boole"}

    page.get_by_role("button", name="Remove from Mentors").click()
    expect(segments.get_by_role("link")).to_have_text(["Acme"])
    assert members_of("Mentors") == set()
    mentors.refresh_from_db()
    assert mentors.member_count == 0


def test_viewer_sees_no_editing_controls(page, live_server, log_in, victor, town):
    smart(
        town, "Acme", {"all": [{"field": "company_name", "op": "is", "value": "Acme"}]}, pinned=True
    )
    log_in(page, "victor")
    expect(pill(page, "Acme", 4)).to_be_visible()
    expect(page.get_by_role("button", name="+ New Segment")).to_have_count(0)
    page.get_by_role("navigation", name="Community").get_by_role("link", name="Segments").click()
    table = page.get_by_role("main").get_by_role("region", name="Segments")
    expect(table.get_by_role("link", name="Acme")).to_be_visible()
    for control in ("New segment", "+ New Segment", "Edit Acme", "Delete Acme", "Pin Acme"):
        expect(page.get_by_role("button", name=control)).to_have_count(0)
    table.get_by_role("link", name="Acme").click()
    expect(page.get_by_role("heading", name="Acme")).to_be_visible()
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
