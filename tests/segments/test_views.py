"""Endpoint tests for the segment screens (segments/urls.py), the `?segment=` filter of the
members table and the pills above it (README "What it does", STYLE "Views and htmx", "Tests")."""

from __future__ import annotations

import csv
import html as html_module
import io
import json
import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from engagement.models import MemberScore
from segments import refresh, services, views
from segments.models import Kind, MembershipChange, Segment, SegmentMembership
from tests.factories import CommunityRoleFactory, IdentityFactory, MemberFactory

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def hx(target: str | None = None) -> dict[str, str]:
    return {**HX, "HX-Target": target} if target else dict(HX)


def smart(community, name, rule, **fields) -> Segment:
    """A smart segment, created through the service and refreshed (as the worker would)."""
    segment = services.segment_create(
        community=community, name=name, kind=Kind.SMART, rule=rule, **fields
    )
    refresh.refresh_segment(segment.pk)
    segment.refresh_from_db()
    return segment


def manual(community, name, members=(), **fields) -> Segment:
    segment = services.segment_create(community=community, name=name, kind=Kind.MANUAL, **fields)
    if members:
        services.segment_add_members(segment=segment, members=members)
    segment.refresh_from_db()
    return segment


def company_is(value) -> dict:
    return {"all": [{"field": "company_name", "op": "is", "value": value}]}


def snapshot() -> tuple:
    """Everything a segment write could change."""
    return (
        list(
            Segment.objects.order_by("pk").values_list(
                "pk", "name", "pinned", "position", "rule", "member_count", "color"
            )
        ),
        sorted(SegmentMembership.objects.values_list("segment_id", "member_id")),
        MembershipChange.objects.count(),
    )


def member_names(segment: Segment) -> set[str]:
    return set(
        SegmentMembership.objects.filter(segment=segment).values_list("member__name", flat=True)
    )


def table_names(response) -> list[str]:
    return [m.name for m in response.context["page"].rows]


def section(html: str, pattern: str) -> str:
    """The text of the first element whose opening tag matches `pattern`, to its closing tag."""
    match = re.search(pattern + r".*?>(.*?)</(?:ul|nav|section|dialog|div|form)>", html, re.S)
    assert match, f"nothing matches {pattern!r}"
    return match.group(1)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def hx_trigger(response) -> dict:
    return json.loads(response["HX-Trigger"])


@pytest.fixture
def people(community, other_community):
    """Five members of acme, one of globex; keyed by first name."""
    now = timezone.now()

    def member(name, email, company, title, city, days_ago, community=community):
        return MemberFactory(
            community=community,
            name=name,
            email=email,
            company_name=company,
            job_title=title,
            city=city,
            joined_at=now - timedelta(days=days_ago),
        )

    return {
        "ada": member("Ada Lovelace", "ada@example.org", "Acme", "Product Designer", "Austin", 10),
        "bea": member("Bea Boole", "bea@example.org", "Acme", "Engineer", "Berlin", 100),
        "cy": member("Cy Young", "cy@example.org", "Globex", "UX Designer", "Austin", 3),
        "dee": member("Dee Diaz", "dee@example.org", "Initech", "Designer", "Lagos", 400),
        "eve": member("Eve Adams", "eve@example.org", "Acme", "Designer", "Austin", 40),
        "olga": member(
            "Olga Other", "olga@example.org", "Acme", "Designer", "Austin", 5, other_community
        ),
    }


@pytest.fixture
def acme_smart(community, people):
    return smart(community, "Acme people", company_is("Acme"), pinned=True)


@pytest.fixture
def mentors(community, people):
    return manual(community, "Mentors", [people["ada"], people["cy"]], pinned=True)


# --- Full page and htmx partial -----------------------------------------------------------------


def test_segment_list_full_page_and_partial(alice_client, community, acme_smart, mentors):
    url = reverse("segments:list", args=[community.slug])
    page = alice_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert html.startswith("<!doctype html>")
    assert "HX-Request" in page["Vary"]
    row = section(html, rf'<tr id="segment-row-{acme_smart.pk}"')
    assert "Acme people" in row
    assert "Smart" in row
    assert "Company Name is Acme" in row
    assert ">3<" in row.replace(" ", "")
    assert "Hand-picked members" in section(html, rf'<tr id="segment-row-{mentors.pk}"')

    partial = alice_client.get(url, headers=hx("segments-table"))
    content = partial.content.decode()
    assert "<html" not in content
    assert content.lstrip().startswith('<section id="segments-table"')
    assert "Acme people" in content
    assert "HX-Request" in partial["Vary"]


def test_segment_list_shows_only_this_communitys_segments(
    alice_client, community, other_community, acme_smart
):
    smart(other_community, "Globex secret", company_is("Acme"))
    html = alice_client.get(reverse("segments:list", args=[community.slug])).content.decode()
    assert "Acme people" in html
    assert "Globex secret" not in html


def test_segment_detail_full_page_and_partial(alice_client, community, acme_smart):
    url = reverse("segments:detail", args=[community.slug, acme_smart.pk])
    page = alice_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert html.startswith("<!doctype html>")
    assert "HX-Request" in page["Vary"]
    assert "Company Name is Acme" in html
    assert "3 members" in text(html)
    assert "In the last 30 days 3 members entered and 0 left" in html
    # The smart segment's members load from the members table, filtered by the segment.
    assert f"?segment={acme_smart.pk}" in html
    for name in ("Ada Lovelace", "Bea Boole", "Eve Adams"):  # the history list
        assert name in html

    partial = alice_client.get(url, headers=hx("segment-summary"))
    content = partial.content.decode()
    assert "<html" not in content
    assert content.lstrip().startswith('<section id="segment-summary"')
    assert "HX-Request" in partial["Vary"]


def test_manual_segment_detail_lists_its_members(alice_client, community, mentors, people):
    html = alice_client.get(
        reverse("segments:detail", args=[community.slug, mentors.pk])
    ).content.decode()
    members = section(html, r'<section id="manual-members"')
    assert "Ada Lovelace" in members
    assert "Cy Young" in members
    assert "Bea Boole" not in members
    assert "Hand-picked members" in html


@pytest.mark.parametrize(("name", "heading"), [("new", "New segment"), ("edit", "Edit segment")])
def test_dialog_get_is_a_partial_for_htmx_and_a_page_otherwise(
    alice_client, community, acme_smart, name, heading
):
    args = [community.slug] + ([acme_smart.pk] if name == "edit" else [])
    url = reverse(f"segments:{name}", args=args)
    partial = alice_client.get(url, headers=hx("dialog-host"))
    content = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in content
    assert content.lstrip().startswith('<dialog id="segment-dialog"')
    assert "data-modal" in content
    assert f'<h2 id="segment-dialog-title">{heading}</h2>' in content
    assert "HX-Request" in partial["Vary"]

    page = alice_client.get(url)
    html = page.content.decode()
    assert html.startswith("<!doctype html>")
    assert f'<h2 id="segment-dialog-title">{heading}</h2>' in html
    assert "HX-Request" in page["Vary"]


def test_edit_dialog_is_filled_from_the_segment(alice_client, community, acme_smart):
    content = alice_client.get(
        reverse("segments:edit", args=[community.slug, acme_smart.pk]), headers=hx("dialog-host")
    ).content.decode()
    assert 'value="Acme people"' in content
    row = section(content, r'<div class="rule-row" id="row-1-1"')
    assert '<option value="company_name" selected>' in row
    assert '<option value="is" selected>' in row
    assert 'name="value-1.1" value="Acme"' in row
    # The kind of an existing segment cannot change.
    assert '<fieldset class="kind-choice" disabled>' in content


def test_new_dialog_starts_with_one_empty_condition(alice_client, community):
    content = alice_client.get(
        reverse("segments:new", args=[community.slug]), headers=hx("dialog-host")
    ).content.decode()
    assert content.count('class="rule-row') == 1
    assert 'id="row-1-1"' in content
    assert 'id="kind-smart" name="kind" value="smart" checked' in content


# --- Preview ------------------------------------------------------------------------------------


def preview(client, community, data):
    return client.post(
        reverse("segments:preview", args=[community.slug]), data, headers=hx("segment-preview")
    )


def rule_form(*conditions, group="all", **extra) -> dict:
    """The builder's fields for a flat rule: conditions as (field, op, value) or dicts."""
    data = {"kind": "smart", "group-1": group, **extra}
    for index, condition in enumerate(conditions, start=1):
        path = f"1.{index}"
        if isinstance(condition, tuple):
            condition = dict(zip(("field", "op", "value"), condition, strict=True))
        for key, value in condition.items():
            data[f"{key}-{path}"] = value
    return data


def sample_names(html: str) -> list[str]:
    sample = section(html, r'<ul class="preview-sample"')
    return [text(item).split("  ")[0] for item in re.findall(r"<li>(.*?)(?: <span|</li>)", sample)]


def test_preview_counts_and_shows_the_first_ten_by_name(alice_client, community):
    names = [f"Member {letter}" for letter in "LKJIHGFEDCBA"]  # created in reverse order
    for name in names:
        MemberFactory(community=community, name=name, company_name="Acme")
    MemberFactory(community=community, name="Aaron Other", company_name="Globex")
    response = preview(alice_client, community, rule_form(("company_name", "is", "acme")))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "<strong>12</strong> members match" in html
    assert sample_names(html) == sorted(names)[:10]
    assert "and 2 more" in html
    assert "will enter" not in html  # only when editing


def test_preview_when_editing_says_who_will_enter_and_leave(
    alice_client, community, acme_smart, people
):
    # Acme people is Ada, Bea, Eve; "city is Austin" is Ada, Cy, Eve: Cy enters, Bea leaves.
    data = rule_form(("city", "is", "Austin"), segment=acme_smart.pk)
    html = preview(alice_client, community, data).content.decode()
    assert "<strong>3</strong> members match" in html
    assert '1 will enter</span>, <span class="leaving">1 will leave' in html
    data = rule_form(("job_title", "contains", "designer"), segment=acme_smart.pk)
    html = preview(alice_client, community, data).content.decode()
    # Designers: Ada, Cy, Dee, Eve (not Olga of globex): Cy and Dee enter, Bea leaves.
    assert "<strong>4</strong> members match" in html
    assert '2 will enter</span>, <span class="leaving">1 will leave' in html
    assert sample_names(html) == ["Ada Lovelace", "Cy Young", "Dee Diaz", "Eve Adams"]


def test_preview_shows_a_rule_error(alice_client, community, people):
    html = preview(
        alice_client, community, rule_form(("impact_score", "gt", "lots"))
    ).content.decode()
    assert "the value must be a number" in html
    assert "members match" not in html


def test_preview_waits_for_incomplete_conditions(alice_client, community, people):
    html = preview(alice_client, community, rule_form(("city", "is", ""))).content.decode()
    assert "Complete the conditions to see who matches." in html


def test_preview_of_a_manual_segment_reports_matched_unknown_and_ambiguous(
    alice_client, community, people
):
    MemberFactory(community=community, name="Sam Same", email="sam1@example.org")
    MemberFactory(community=community, name="Sam Same", email="sam2@example.org")
    entries = "ada@example.org\nCy Young, nobody@example.org\nsam same\nolga@example.org"
    html = preview(alice_client, community, {"kind": "manual", "entries": entries}).content.decode()
    assert "<strong>2</strong> members found" in html
    assert "Not found: nobody@example.org, olga@example.org" in html  # olga is of globex
    assert "More than one member is called: sam same (2)" in html
    assert sample_names(html) == ["Ada Lovelace", "Cy Young"]


# --- Builder actions ----------------------------------------------------------------------------


def builder_post(client, community, data, action, target="segment-form"):
    return client.post(
        reverse("segments:new", args=[community.slug]),
        {**data, "name": "Draft", "color": "blue", "action": action},
        headers=hx(target),
    )


def rows(html: str) -> list[str]:
    return re.findall(r'id="row-([\d-]+)"', html)


def test_a_manual_dialog_finds_members_of_its_community_and_picks_them_into_the_entries(
    alice_client, community, people
):
    def dialog(data, action):
        html = builder_post(alice_client, community, data, action).content.decode()
        entries = re.search(r'<textarea id="id_entries"[^>]*>(.*?)</textarea>', html, re.S)
        search = re.search(r'<input id="id_search"[^>]*value="([^"]*)"', html)
        offered = re.findall(r'aria-label="Add ([^"]+)"', html)
        return entries.group(1).strip(), search.group(1), offered

    MemberFactory.create_batch(10, community=community, name="Adam Many")
    data = {"kind": "manual", "entries": "bea@example.org", "search": "ad"}
    _entries, _search, offered = dialog(data, "refresh")
    assert offered[0] == "Ada Lovelace"  # by name, at most SEARCH_LIMIT of them
    assert len(offered) == views.SEARCH_LIMIT and "Olga Other" not in offered

    ada, olga = people["ada"], people["olga"]
    entries, search, offered = dialog(data, f"pick:{ada.pk}")
    assert entries == "bea@example.org\nada@example.org"
    assert (search, offered) == ("", [])  # the search is done
    picked = {**data, "entries": "bea@example.org\nADA@example.org"}
    assert dialog(picked, f"pick:{ada.pk}")[0] == "bea@example.org\nADA@example.org"
    assert dialog(data, f"pick:{olga.pk}")[0] == "bea@example.org"  # another community's


def test_the_source_condition_offers_the_community_s_sources_and_only_it_reads_them(
    alice_client, community, other_community, people
):
    IdentityFactory(community=community, member=people["ada"], source="slack")
    IdentityFactory(community=community, member=people["bea"], source="discourse")
    IdentityFactory(community=other_community, member=people["olga"], source="github")
    data = rule_form(("source", "is", ""))
    html = builder_post(alice_client, community, data, "refresh").content.decode()
    assert re.findall(r'<option value="(\w+)">', section(html, r"<datalist")) == [
        "discourse",
        "slack",
    ]
    with CaptureQueriesContext(connection) as queries:
        builder_post(alice_client, community, rule_form(("city", "is", "")), "refresh")
    assert not [q for q in queries if "members_identity" in q["sql"]]


def test_add_condition_adds_an_empty_row_and_keeps_the_others(alice_client, community):
    data = rule_form(("job_title", "contains", "designer"))
    response = builder_post(alice_client, community, data, "add-condition:1")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<form id="segment-form"')
    assert rows(html) == ["1-1", "1-2"]
    assert 'name="value-1.1" value="designer"' in html
    assert 'name="value-1.2" value=""' in html
    assert 'value="Draft"' in html  # the name typed so far is kept


def test_add_group_nests_a_group_with_one_row(alice_client, community):
    data = rule_form(("job_title", "contains", "designer"))
    html = builder_post(alice_client, community, data, "add-group:1").content.decode()
    assert rows(html) == ["1-1", "1-2-1"]
    assert 'id="group-1.2"' in html
    assert '<select id="match-1.2" name="group-1.2"' in html
    assert 'aria-label="Add condition to group 1.2"' in html


def test_remove_drops_the_row_and_renumbers(alice_client, community):
    data = rule_form(("city", "is", "Austin"), ("job_title", "contains", "designer"))
    html = builder_post(alice_client, community, data, "remove:1.1").content.decode()
    assert rows(html) == ["1-1"]
    assert 'name="value-1.1" value="designer"' in html
    assert "Austin" not in html


def test_refresh_after_the_field_changed_kind_rerenders_the_row(alice_client, community):
    # The field went from City (text) to Joined (date): "is" is no date operator.
    data = rule_form({"field": "joined_at", "op": "is", "value": "Austin", "shape": "text:text"})
    response = builder_post(alice_client, community, data, "refresh", target="row-1-1")
    html = response.content.decode()
    assert response.status_code == 200
    row = section(html, r'<div class="rule-row" id="row-1-1"')
    assert '<option value="joined_at" selected>' in row
    assert '<option value="before" selected>' in row
    assert 'name="shape-1.1" value="date:date"' in row
    assert 'type="date" value=""' in row


def test_refresh_to_relative_date_shows_amount_and_unit(alice_client, community):
    data = rule_form({"field": "joined_at", "op": "within_last", "shape": "date:date"})
    html = builder_post(alice_client, community, data, "refresh", target="row-1-1").content.decode()
    row = section(html, r'<div class="rule-row" id="row-1-1"')
    assert 'name="amount-1.1"' in row
    assert '<select id="unit-1.1" name="unit-1.1">' in row


def test_field_change_with_the_same_row_shape_answers_204(alice_client, community):
    # City -> Company Name: both text fields with the same operator, so the row stays as is.
    data = rule_form({"field": "company_name", "op": "is", "value": "Acme", "shape": "text:text"})
    response = builder_post(alice_client, community, data, "refresh", target="row-1-1")
    assert response.status_code == 204
    assert response.content == b""


# --- Save ---------------------------------------------------------------------------------------


def save(client, community, data, segment=None):
    url = (
        reverse("segments:edit", args=[community.slug, segment.pk])
        if segment
        else reverse("segments:new", args=[community.slug])
    )
    return client.post(url, {"color": "blue", **data, "action": "save"}, headers=hx("segment-form"))


def test_save_creates_a_smart_segment_and_triggers_segments_changed(
    alice_client, alice, community, people, celery_calls, django_capture_on_commit_callbacks
):
    data = rule_form(
        ("job_title", "contains", "designer"),
        {"field": "joined_at", "op": "within_last", "amount": "30", "unit": "days"},
        name="  New designers ",
        pinned="on",
        color="rose",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = save(alice_client, community, data)
    assert response.status_code == 204
    segment = Segment.objects.get(community=community)
    assert hx_trigger(response) == {"segmentsChanged": {"id": segment.pk}}
    assert segment.name == "New designers"
    assert segment.kind == Kind.SMART
    assert segment.pinned is True
    assert segment.color == "rose"
    assert segment.created_by == alice
    assert segment.rule == {
        "all": [
            {"field": "job_title", "op": "contains", "value": "designer"},
            {"field": "joined_at", "op": "within_last", "value": {"amount": 30, "unit": "days"}},
        ]
    }
    # The refresh was enqueued (through services, on commit).
    assert [call[0] for call in celery_calls] == ["segments.tasks.refresh_segment_task"]
    assert celery_calls[0][1][:2] == (community.pk, segment.pk)


def test_save_without_htmx_redirects_to_the_segment(alice_client, community, people):
    response = alice_client.post(
        reverse("segments:new", args=[community.slug]),
        {**rule_form(("city", "is", "Austin")), "name": "Austin", "color": "blue"},
    )
    segment = Segment.objects.get(name="Austin")
    assert response.status_code == 302
    assert response["Location"] == segment.get_absolute_url()


def test_save_creates_a_manual_segment_from_pasted_entries(alice_client, community, people):
    data = {
        "kind": "manual",
        "name": "AMA hosts",
        "entries": "ada@example.org, Bea Boole\nnobody@example.org",
        "review_every_days": "30",
    }
    response = save(alice_client, community, data)
    assert response.status_code == 204
    segment = Segment.objects.get(name="AMA hosts")
    assert segment.kind == Kind.MANUAL
    assert segment.rule is None
    assert segment.review_every_days == 30
    assert member_names(segment) == {"Ada Lovelace", "Bea Boole"}
    assert segment.member_count == 2


def test_save_edit_updates_the_rule(
    alice_client, community, acme_smart, celery_calls, django_capture_on_commit_callbacks
):
    data = rule_form(("city", "is", "Austin"), name="Austin people", pinned="on")
    data["kind"] = "manual"  # ignored: the kind of a segment never changes
    with django_capture_on_commit_callbacks(execute=True):
        response = save(alice_client, community, data, segment=acme_smart)
    assert response.status_code == 204
    assert hx_trigger(response) == {"segmentsChanged": {"id": acme_smart.pk}}
    acme_smart.refresh_from_db()
    assert acme_smart.kind == Kind.SMART
    assert acme_smart.name == "Austin people"
    assert acme_smart.rule == {"all": [{"field": "city", "op": "is", "value": "Austin"}]}
    assert acme_smart.rule_version == 2
    assert celery_calls[-1][1][:2] == (community.pk, acme_smart.pk)


@pytest.mark.parametrize(
    ("name", "error"),
    [("", "This field is required."), ("acme PEOPLE", "There is already a segment called")],
)
def test_save_with_a_bad_name_rerenders_the_form_and_saves_nothing(
    alice_client, community, acme_smart, name, error
):
    before = snapshot()
    data = rule_form(("city", "is", "Austin"), name=name)
    response = save(alice_client, community, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    assert html.lstrip().startswith('<form id="segment-form"')
    name_error = section(html, r'<p class="field-error" id="name-error"')
    assert error in name_error
    assert 'name="value-1.1" value="Austin"' in html  # the rule typed so far is kept
    assert snapshot() == before


def test_save_with_a_bad_value_puts_the_error_on_its_row(alice_client, community, people):
    data = rule_form(("city", "is", "Austin"), ("impact_score", "gt", "lots"), name="Broken")
    response = save(alice_client, community, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="rule-row" id="row-1-1"' in html  # row 1 is fine
    row = section(html, r'<div class="rule-row has-error" id="row-1-2"')
    assert "The value must be a number, not a string" in row
    assert not Segment.objects.exists()


def test_save_with_a_missing_value_marks_the_row(alice_client, community, people):
    data = rule_form(("city", "is", "Austin"), ("job_title", "contains", "  "), name="Half")
    html = save(alice_client, community, data).content.decode()
    assert "Some conditions are not complete yet." in html
    assert "Enter a value." in section(html, r'<div class="rule-row has-error" id="row-1-2"')
    assert not Segment.objects.exists()


def test_save_with_a_segment_of_another_community_in_the_rule_is_refused(
    alice_client, community, other_community, people
):
    foreign = manual(other_community, "Globex mentors")
    data = rule_form(("segment", "in", str(foreign.pk)), name="Sneaky")
    html = save(alice_client, community, data).content.decode()
    assert "which is not in this community" in html
    assert not Segment.objects.filter(community=community).exists()


# --- Delete -------------------------------------------------------------------------------------


def test_delete_get_is_a_confirmation(alice_client, community, acme_smart):
    url = reverse("segments:delete", args=[community.slug, acme_smart.pk])
    partial = alice_client.get(url, headers=hx("dialog-host"))
    content = partial.content.decode()
    assert content.lstrip().startswith('<dialog id="delete-dialog"')
    assert "<html" not in content
    assert "Delete Acme people?" in content
    assert "its 3 memberships" in content
    assert "HX-Request" in partial["Vary"]
    page = alice_client.get(url).content.decode()
    assert page.startswith("<!doctype html>")
    assert "Delete Acme people?" in page
    assert Segment.objects.filter(pk=acme_smart.pk).exists()


def test_delete_post_deletes(alice_client, community, acme_smart, mentors):
    url = reverse("segments:delete", args=[community.slug, acme_smart.pk])
    response = alice_client.post(url, headers=hx("delete-dialog"))
    assert response.status_code == 204
    assert hx_trigger(response) == {"segmentsChanged": {"id": acme_smart.pk, "deleted": True}}
    assert "HX-Redirect" not in response
    assert list(Segment.objects.values_list("name", flat=True)) == ["Mentors"]
    assert not SegmentMembership.objects.filter(segment_id=acme_smart.pk).exists()
    assert not MembershipChange.objects.filter(segment_id=acme_smart.pk).exists()


def test_delete_from_the_segment_page_redirects_to_the_list(alice_client, community, mentors):
    url = reverse("segments:delete", args=[community.slug, mentors.pk])
    response = alice_client.post(url, {"then": "segments"}, headers=hx("delete-dialog"))
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("segments:list", args=[community.slug])
    plain = alice_client.post(
        reverse("segments:delete", args=[community.slug, mentors.pk])
    )  # already gone
    assert plain.status_code == 404


def test_delete_is_refused_while_another_rule_refers_to_it(
    alice_client, community, acme_smart, mentors
):
    rule = {"all": [{"field": "segment", "op": "in", "value": acme_smart.pk}]}
    smart(community, "Acme mentors", rule)
    before = snapshot()
    url = reverse("segments:delete", args=[community.slug, acme_smart.pk])
    response = alice_client.post(url, headers=hx("delete-dialog"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    assert "Acme people is used in the rules of Acme mentors; change those first." in html
    assert snapshot() == before


# --- Pin, move ----------------------------------------------------------------------------------


def test_pin_and_unpin(alice_client, community, people):
    segment = smart(
        community, "Austin", {"all": [{"field": "city", "op": "is", "value": "Austin"}]}
    )
    url = reverse("segments:pin", args=[community.slug, segment.pk])
    response = alice_client.post(url, {"pinned": "1"}, headers=hx())
    assert response.status_code == 204
    assert hx_trigger(response) == {"segmentsChanged": {"id": segment.pk}}
    segment.refresh_from_db()
    assert segment.pinned is True
    response = alice_client.post(url, {"pinned": "0"})
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.pinned is False


def test_move_up_and_down_swaps_positions(alice_client, community):
    first, second, third = (manual(community, name) for name in ("First", "Second", "Third"))

    def order():
        return list(Segment.objects.for_community(community).values_list("name", flat=True))

    def move(segment, direction):
        url = reverse("segments:move", args=[community.slug, segment.pk])
        return alice_client.post(url, {"direction": direction}, headers=hx())

    assert order() == ["First", "Second", "Third"]
    response = move(third, "up")
    assert response.status_code == 204
    assert "segmentsChanged" in hx_trigger(response)
    assert order() == ["First", "Third", "Second"]
    move(first, "down")
    assert order() == ["Third", "First", "Second"]
    assert list(Segment.objects.for_community(community).values_list("position", flat=True)) == [
        0,
        1,
        2,
    ]
    # The ends do not move further.
    move(third, "up")
    move(second, "down")
    assert order() == ["Third", "First", "Second"]


# --- Export -------------------------------------------------------------------------------------


def test_export_csv_has_the_segments_members_with_escaped_cells(alice_client, community, people):
    MemberFactory(
        community=community,
        name='=HYPERLINK("http://x")',
        email="evil@example.org",
        company_name="Acme",
        job_title="+SUM(1)",
    )
    segment = smart(community, "Acme people", company_is("Acme"))
    MemberScore.objects.create(
        member=people["ada"],
        community=community,
        impact=Decimal("2.50"),
        as_of=timezone.now(),
    )
    response = alice_client.get(reverse("segments:export", args=[community.slug, segment.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    day = timezone.localdate(timezone=zoneinfo.ZoneInfo(community.timezone)).isoformat()
    assert response["Content-Disposition"] == (
        f"attachment; filename=\"acme-people-{day}.csv\"; filename*=UTF-8''acme-people-{day}.csv"
    )
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbfname,email,")  # a UTF-8 byte-order mark first
    table = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert {row["name"] for row in table} == {
        "Ada Lovelace",
        "Bea Boole",
        "Eve Adams",
        '\'=HYPERLINK("http://x")',
    }
    evil = next(row for row in table if row["email"] == "evil@example.org")
    assert evil["job_title"] == "'+SUM(1)"
    ada = next(row for row in table if row["email"] == "ada@example.org")
    assert ada["impact_score"] == "2.50"
    assert ada["entered_at"].endswith("Z")


def test_an_exported_accented_name_round_trips(alice_client, community, people):
    MemberFactory(community=community, name="Zoë Müller-Łukasiewicz", company_name="Acme")
    segment = smart(community, "Acme people", company_is("Acme"))

    response = alice_client.get(reverse("segments:export", args=[community.slug, segment.pk]))

    content = b"".join(response.streaming_content)
    assert content[:3] == b"\xef\xbb\xbf"
    assert "Zoë Müller-Łukasiewicz".encode() in content
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert next(iter(rows[0])) == "name"  # the mark is not part of the first column's name
    assert "Zoë Müller-Łukasiewicz" in {row["name"] for row in rows}


def test_the_export_is_named_after_the_segment_and_the_community_s_day(
    alice_client, community, monkeypatch
):
    community.timezone = "Pacific/Auckland"  # 13 hours ahead of UTC in December
    community.save()
    segment = manual(community, "Käufer & Kunden: 2026!")
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 12, 5, 11, 30, tzinfo=UTC))

    response = alice_client.get(reverse("segments:export", args=[community.slug, segment.pk]))

    assert response["Content-Disposition"] == (
        'attachment; filename="kaufer-kunden-2026-2026-12-06.csv"; '
        "filename*=UTF-8''kaufer-kunden-2026-2026-12-06.csv"
    )


# --- Manual add and remove ----------------------------------------------------------------------


def test_add_members_reports_added_already_and_unknown(
    alice_client, alice, community, mentors, people
):
    url = reverse("segments:add", args=[community.slug, mentors.pk])
    entries = "bea@example.org\nAda Lovelace\nnobody@example.org, Eve Adams"
    response = alice_client.post(url, {"entries": entries}, headers=hx("add-members"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="add-members"')
    assert "<strong>2</strong> added, 1 already in the segment." in html
    assert "Not found: nobody@example.org" in html
    assert hx_trigger(response) == {"segmentsChanged": {"id": mentors.pk}}
    assert member_names(mentors) == {"Ada Lovelace", "Cy Young", "Bea Boole", "Eve Adams"}
    mentors.refresh_from_db()
    assert mentors.member_count == 4
    assert SegmentMembership.objects.get(segment=mentors, member=people["bea"]).added_by == alice


def test_add_members_of_nobody_known_changes_nothing(alice_client, community, mentors):
    before = snapshot()
    url = reverse("segments:add", args=[community.slug, mentors.pk])
    response = alice_client.post(url, {"entries": "olga@example.org"}, headers=hx("add-members"))
    assert "<strong>0</strong> added" in response.content.decode()
    assert "Not found: olga@example.org" in response.content.decode()
    assert "HX-Trigger" not in response
    assert snapshot() == before


def test_add_members_to_a_smart_segment_is_refused(alice_client, community, acme_smart):
    before = snapshot()
    url = reverse("segments:add", args=[community.slug, acme_smart.pk])
    response = alice_client.post(url, {"entries": "cy@example.org"}, headers=hx("add-members"))
    assert "is a smart segment" in response.content.decode()
    assert snapshot() == before


def test_remove_members(alice_client, community, mentors, people):
    url = reverse("segments:remove", args=[community.slug, mentors.pk])
    response = alice_client.post(url, {"member": [people["ada"].pk]}, headers=hx())
    assert response.status_code == 204
    assert hx_trigger(response) == {"segmentsChanged": {"id": mentors.pk}}
    assert member_names(mentors) == {"Cy Young"}
    mentors.refresh_from_db()
    assert mentors.member_count == 1


def test_remove_from_a_smart_segment_is_refused(alice_client, community, acme_smart, people):
    before = snapshot()
    url = reverse("segments:remove", args=[community.slug, acme_smart.pk])
    response = alice_client.post(url, {"member": [people["ada"].pk]}, headers=hx())
    assert response.status_code == 400
    assert snapshot() == before


# --- Sidebar ------------------------------------------------------------------------------------


def test_sidebar_lists_smart_and_manual_apart_with_counts(
    alice_client, community, acme_smart, mentors
):
    response = alice_client.get(reverse("segments:sidebar", args=[community.slug]), headers=hx())
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="segment-sidebar"')
    smart_list = text(section(html, r'<ul class="side-segment-list" role="list" aria-label="Smart'))
    manual_list = text(section(html, r'<ul class="side-segment-list" role="list" aria-label="Manu'))
    assert smart_list == "Acme people 3"
    assert manual_list == "Mentors 2"
    assert "+ New Segment" in html
    assert 'hx-trigger="segmentsChanged from:body"' in html


def test_the_cached_sidebar_follows_every_change_it_shows(
    alice_client, victor, community, acme_smart, mentors
):
    """The sidebar's HTML is cached under what it shows: any change to that shows at once."""
    url = reverse("segments:sidebar", args=[community.slug])

    def smart_list():
        html = alice_client.get(url, headers=hx()).content.decode()
        return text(section(html, r'<ul class="side-segment-list" role="list" aria-label="Smart'))

    assert smart_list() == "Acme people 3"
    Segment.objects.filter(pk=acme_smart.pk).update(member_count=4)
    assert smart_list() == "Acme people 4"
    Segment.objects.filter(pk=acme_smart.pk).update(name="Acme folks")
    assert smart_list() == "Acme folks 4"
    Segment.objects.filter(pk=acme_smart.pk).update(refreshed_at=None)
    assert smart_list() == "Acme folks …"
    Segment.objects.filter(pk=acme_smart.pk).update(color="rose")
    assert "dot-rose" in alice_client.get(url, headers=hx()).content.decode()
    # A viewer gets no "+ New Segment", whatever the manager's visits cached.
    alice_client.force_login(victor)
    assert "+ New Segment" not in alice_client.get(url, headers=hx()).content.decode()


def test_two_communities_without_segments_do_not_share_a_cached_sidebar(
    alice_client, alice, community, other_community
):
    CommunityRoleFactory(user=alice, community=other_community, role="manager")
    alice_client.get(reverse("segments:sidebar", args=[community.slug]), headers=hx())
    html = alice_client.get(
        reverse("segments:sidebar", args=[other_community.slug]), headers=hx()
    ).content.decode()
    assert f"/c/{other_community.slug}/segments/" in html
    assert f"/c/{community.slug}/" not in html


def test_every_page_has_the_sidebar(alice_client, community, acme_smart):
    html = alice_client.get(reverse("members:list", args=[community.slug])).content.decode()
    assert 'id="segment-sidebar"' in html
    assert "+ New Segment" in html
    assert '<div id="dialog-host"></div>' in html


# --- The profile's segments ---------------------------------------------------------------------


def test_member_segments_lists_the_members_segments(
    alice_client, community, acme_smart, mentors, people
):
    smart(community, "Berliners", {"all": [{"field": "city", "op": "is", "value": "Berlin"}]})
    url = reverse("segments:member", args=[community.slug, people["ada"].pk])
    html = alice_client.get(url, headers=hx()).content.decode()
    assert html.lstrip().startswith('<section id="member-segments"')
    pills = text(section(html, r'<ul class="pills member-pills"'))
    assert pills.replace("\u00d7", "").split() == ["Acme", "people", "Mentors"]
    # Only manual segments can be left here, and only those Ada is not in can be joined.
    assert 'aria-label="Remove from Mentors"' in html
    assert 'aria-label="Remove from Acme people"' not in html
    assert re.findall(r'<option value="\d+">([^<]+)</option>', html) == []  # no other manual

    profile = alice_client.get(people["ada"].get_absolute_url()).content.decode()
    assert 'id="member-segments"' in profile
    assert "Mentors" in profile


def test_member_segments_add_and_remove_for_manual_segments(
    alice_client, community, mentors, people
):
    hosts = manual(community, "AMA hosts")
    url = reverse("segments:member", args=[community.slug, people["bea"].pk])
    html = alice_client.get(url, headers=hx()).content.decode()
    assert re.findall(r'<option value="\d+">([^<]+)</option>', html) == ["Mentors", "AMA hosts"]

    response = alice_client.post(url, {"segment": hosts.pk, "action": "add"}, headers=hx())
    assert response.status_code == 200
    assert hx_trigger(response) == {"segmentsChanged": {"member": people["bea"].pk}}
    assert "AMA hosts" in section(response.content.decode(), r'<ul class="pills member-pills"')
    assert member_names(hosts) == {"Bea Boole"}

    response = alice_client.post(url, {"segment": hosts.pk, "action": "remove"}, headers=hx())
    assert response.status_code == 200
    assert "Not in any segment." in response.content.decode()
    assert member_names(hosts) == set()
    hosts.refresh_from_db()
    assert hosts.member_count == 0


def test_member_segments_refuses_smart_segments(alice_client, community, acme_smart, people):
    before = snapshot()
    url = reverse("segments:member", args=[community.slug, people["cy"].pk])
    response = alice_client.post(url, {"segment": acme_smart.pk, "action": "add"}, headers=hx())
    assert "Acme people is a smart segment: its rule decides who is in it." in (
        response.content.decode()
    )
    assert "HX-Trigger" not in response
    url = reverse("segments:member", args=[community.slug, people["ada"].pk])
    response = alice_client.post(url, {"segment": acme_smart.pk, "action": "remove"}, headers=hx())
    assert "is a smart segment" in response.content.decode()
    assert snapshot() == before


# --- The members table with ?segment= -----------------------------------------------------------


def list_url(community, **params) -> str:
    url = reverse("members:list", args=[community.slug])
    return f"{url}?{urlencode(params)}" if params else url


def test_members_table_with_segment_shows_exactly_its_members(
    alice_client, community, acme_smart, mentors
):
    response = alice_client.get(list_url(community, segment=acme_smart.pk))
    assert sorted(table_names(response)) == ["Ada Lovelace", "Bea Boole", "Eve Adams"]
    response = alice_client.get(
        list_url(community, segment=mentors.pk), headers=hx("members-table")
    )
    assert sorted(table_names(response)) == ["Ada Lovelace", "Cy Young"]
    assert "<html" not in response.content.decode()
    assert "HX-Request" in response["Vary"]


def test_members_table_segment_combines_with_search_filter_and_sort(
    alice_client, community, acme_smart, people
):
    # Acme people: Ada (Austin, Product Designer), Bea (Berlin, Engineer), Eve (Austin, Designer).
    response = alice_client.get(
        list_url(community, segment=acme_smart.pk, q="designer", city="austin", sort="-name")
    )
    assert table_names(response) == ["Eve Adams", "Ada Lovelace"]
    response = alice_client.get(list_url(community, segment=acme_smart.pk, sort="name"))
    assert table_names(response) == ["Ada Lovelace", "Bea Boole", "Eve Adams"]
    response = alice_client.get(list_url(community, segment=acme_smart.pk, q="engineer"))
    assert table_names(response) == ["Bea Boole"]
    # Narrowed by a search, the pill's stored count no longer applies: the matches are counted.
    assert response.context["page"].count == 1
    assert "1 member" in response.content.decode()


def test_a_pill_alone_shows_its_stored_count_capped_like_any_count(
    alice_client, community, acme_smart, people, settings
):
    Segment.objects.filter(pk=acme_smart.pk).update(member_count=99)  # what the table shows
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(list_url(community, segment=acme_smart.pk))
    assert "99 members" in response.content.decode()
    assert not [q for q in queries if q["sql"].startswith("SELECT COUNT(*)")]
    settings.MEMBERS_COUNT_CAP = 2
    content = alice_client.get(list_url(community, segment=acme_smart.pk)).content.decode()
    assert "2+ members" in content and "Count all" in content
    content = alice_client.get(list_url(community, segment=acme_smart.pk, count="all")).content
    assert "99 members" in content.decode()


def test_members_table_with_a_segment_of_another_community_shows_nobody(
    alice_client, community, other_community, people
):
    foreign = smart(other_community, "Globex Acme", company_is("Acme"))
    response = alice_client.get(list_url(community, segment=foreign.pk))
    # Not a segment of acme: reported as a filter it did not understand, never applied, and
    # only acme's members are listed.
    assert response.context["filter_errors"] == [
        "Segment: Select a valid choice. That choice is not one of the available choices."
    ]
    assert "Olga Other" not in table_names(response)
    assert "Some filters were not understood" in response.content.decode()


# --- Pills --------------------------------------------------------------------------------------


def pill_links(html: str) -> list[tuple[str, str, bool]]:
    """(text, href, current) for each link in the pills nav."""
    nav = re.search(r'<nav class="pills" aria-label="Segment pills".*?</nav>', html, re.S)
    assert nav, "no pills"
    return [
        (text(inner), html_module.unescape(href), "aria-current" in attrs)
        for attrs, inner in re.findall(r"<a (.*?)>(.*?)</a>", nav.group(0), re.S)
        for href in re.findall(r'href="([^"]*)"', attrs)
    ]


def test_pills_show_all_members_and_pinned_segments_in_order_with_counts(
    alice_client, community, acme_smart, mentors
):
    manual(community, "Not pinned")
    services.segment_reorder(community=community, segment_ids=[mentors.pk, acme_smart.pk])
    html = alice_client.get(list_url(community)).content.decode()
    pills = pill_links(html)
    assert [(label, current) for label, _, current in pills] == [
        ("All members", True),
        ("Mentors 2", False),
        ("Acme people 3", False),
    ]
    assert pills[1][1] == f"{list_url(community)}?segment={mentors.pk}"


def test_active_pill_has_aria_current_and_links_keep_query_but_not_cursors(
    alice_client, community, acme_smart, mentors
):
    response = alice_client.get(
        list_url(community, q="ada", city="austin", sort="name", after="abc", segment=mentors.pk),
        headers=hx("members-table"),
    )
    html = response.content.decode()
    pills = pill_links(html)
    assert [(label, current) for label, _, current in pills] == [
        ("All members", False),
        ("Acme people 3", False),
        ("Mentors 2", True),
    ]
    for label, href, _ in pills:
        query = parse_qs(urlsplit(href).query)
        assert query["q"] == ["ada"]
        assert query["city"] == ["austin"]
        assert query["sort"] == ["name"]
        assert "after" not in query
        assert "before" not in query
        expected = {"All members": None, "Acme people 3": acme_smart.pk, "Mentors 2": mentors.pk}
        assert query.get("segment") == ([str(expected[label])] if expected[label] else None)
    assert "Mentors</a>:" in html  # the caption of the active segment
    assert "hand-picked" in html


def test_an_active_unpinned_segment_gets_a_pill_too(alice_client, community, people):
    unpinned = manual(community, "Quiet ones", [people["dee"]])
    html = alice_client.get(list_url(community, segment=unpinned.pk)).content.decode()
    assert [(label, current) for label, _, current in pill_links(html)] == [
        ("All members", False),
        ("Quiet ones 1", True),
    ]


def test_the_table_on_a_segment_page_has_no_pills(alice_client, community, acme_smart):
    detail = reverse("segments:detail", args=[community.slug, acme_smart.pk])
    response = alice_client.get(
        list_url(community, segment=acme_smart.pk),
        headers={**hx("members-table"), "HX-Current-URL": f"http://testserver{detail}"},
    )
    html = response.content.decode()
    assert 'aria-label="Segment pills"' not in html
    assert sorted(table_names(response)) == ["Ada Lovelace", "Bea Boole", "Eve Adams"]


# --- Query counts -------------------------------------------------------------------------------


def _pinned_segments(community, how_many):
    for index in range(how_many):
        kind = Kind.SMART if index % 2 else Kind.MANUAL
        Segment.objects.create(
            community=community,
            name=f"Segment {index:02d}",
            kind=kind,
            rule=company_is("Acme") if kind == Kind.SMART else None,
            pinned=True,
            position=index,
            member_count=index,
            refreshed_at=timezone.now() if kind == Kind.SMART else None,
        )


def _count_queries(client, url, **kwargs) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **kwargs)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "table-partial"])
def test_members_page_with_pills_runs_as_many_queries_for_2_as_for_12_pinned(
    alice_client, community, other_community, people, htmx
):
    headers = hx("members-table") if htmx else {}
    url = list_url(community, q="a")
    _pinned_segments(community, 2)
    with_two = _count_queries(alice_client, url, headers=headers)
    _pinned_segments(other_community, 1)  # another community's segments are not read
    Segment.objects.filter(community=community).delete()
    _pinned_segments(community, 12)
    with_twelve = _count_queries(alice_client, url, headers=headers)
    html = alice_client.get(url, headers=headers).content.decode()
    assert len(pill_links(html)) == 13
    assert with_two == with_twelve


def test_sidebar_runs_as_many_queries_for_2_as_for_12_segments(alice_client, community):
    url = reverse("segments:sidebar", args=[community.slug])
    _pinned_segments(community, 2)
    with_two = _count_queries(alice_client, url, headers=hx())
    Segment.objects.all().delete()
    _pinned_segments(community, 12)
    with_twelve = _count_queries(alice_client, url, headers=hx())
    assert "Segment 11" in alice_client.get(url).content.decode()
    assert with_two == with_twelve


# --- Permissions --------------------------------------------------------------------------------

# (url name, method); every URL of segments/urls.py, each method it answers.
ENDPOINTS = [
    ("list", "get"),
    ("new", "get"),
    ("new", "post"),
    ("preview", "post"),
    ("sidebar", "get"),
    ("detail", "get"),
    ("edit", "get"),
    ("edit", "post"),
    ("delete", "get"),
    ("delete", "post"),
    ("pin", "post"),
    ("move", "post"),
    ("export", "get"),
    ("add", "post"),
    ("remove", "post"),
    ("member", "get"),
    ("member", "post"),
]
WITH_SEGMENT = {"detail", "edit", "delete", "pin", "move", "export"}
WITH_MANUAL = {"add", "remove"}


@pytest.fixture
def world(community, people, acme_smart, mentors):
    """What each endpoint needs: a smart and a manual segment of acme, and an acme member."""
    return {"smart": acme_smart, "manual": mentors, "member": people["bea"], "ada": people["ada"]}


def endpoint_url(name, slug, world) -> str:
    if name in WITH_SEGMENT:
        args = [slug, world["smart"].pk]
    elif name in WITH_MANUAL:
        args = [slug, world["manual"].pk]
    elif name == "member":
        args = [slug, world["member"].pk]
    else:
        args = [slug]
    return reverse(f"segments:{name}", args=args)


def endpoint_data(name, world) -> dict:
    """POST data that would change something, were the user allowed to."""
    return {
        "new": {**rule_form(("city", "is", "Austin")), "name": "Austin", "action": "save"},
        "preview": rule_form(("city", "is", "Austin"), segment=world["smart"].pk),
        "edit": {**rule_form(("city", "is", "Lagos")), "name": "Renamed", "action": "save"},
        "delete": {},
        "pin": {"pinned": "0"},
        "move": {"direction": "down"},
        "add": {"entries": "bea@example.org"},
        "remove": {"member": world["ada"].pk},
        "member": {"segment": world["manual"].pk, "action": "add"},
    }[name]


def request(client, name, method, url, world):
    if method == "get":
        return client.get(url)
    return client.post(url, endpoint_data(name, world))


@pytest.mark.parametrize(("name", "method"), ENDPOINTS)
def test_anonymous_goes_to_login(client, community, world, name, method):
    before = snapshot()
    url = endpoint_url(name, community.slug, world)
    response = request(client, name, method, url, world)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    assert snapshot() == before


@pytest.mark.parametrize(("name", "method"), ENDPOINTS)
def test_outsider_gets_404(otto_client, community, world, name, method):
    before = snapshot()
    url = endpoint_url(name, community.slug, world)
    assert request(otto_client, name, method, url, world).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "method"), [e for e in ENDPOINTS if e[0] in WITH_SEGMENT | WITH_MANUAL | {"member"}]
)
def test_another_communitys_objects_under_ones_own_slug_are_404(
    otto_client, other_community, world, name, method
):
    """otto manages globex: acme's segments and members under /c/globex/ do not exist."""
    before = snapshot()
    url = endpoint_url(name, other_community.slug, world)
    assert request(otto_client, name, method, url, world).status_code == 404
    assert snapshot() == before


def test_another_communitys_segment_in_a_post_is_404(otto_client, other_community, world):
    before = snapshot()
    globex_member = MemberFactory(community=other_community)
    member_url = reverse("segments:member", args=[other_community.slug, globex_member.pk])
    data = {"segment": world["manual"].pk, "action": "add"}
    assert otto_client.post(member_url, data).status_code == 404
    assert otto_client.get(member_url).status_code == 200
    preview_url = reverse("segments:preview", args=[other_community.slug])
    data = rule_form(("city", "is", "Austin"), segment=world["smart"].pk)
    assert otto_client.post(preview_url, data).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(("name", "method"), [e for e in ENDPOINTS if e[1] == "post"])
def test_viewer_cannot_post(victor_client, community, world, name, method):
    before = snapshot()
    url = endpoint_url(name, community.slug, world)
    response = request(victor_client, name, method, url, world)
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("name", ["new", "edit", "delete"])
def test_viewer_cannot_open_the_editing_dialogs(victor_client, community, world, name):
    url = endpoint_url(name, community.slug, world)
    assert victor_client.get(url).status_code == 403
    assert victor_client.get(url, headers=hx("dialog-host")).status_code == 403


EDITING_CONTROLS = (
    "+ New Segment",
    ">New segment</a>",
    ">Edit</a>",
    ">Delete</a>",
    'aria-label="Pin ',
    'aria-label="Unpin ',
    'aria-label="Edit ',
    'aria-label="Delete ',
    'aria-label="Move ',
    'aria-label="Remove ',
    "Add members",
    "Add to a manual segment",
)


def test_viewer_reads_every_page_without_editing_controls(victor_client, community, world):
    pages = [
        endpoint_url("list", community.slug, world),
        endpoint_url("sidebar", community.slug, world),
        endpoint_url("detail", community.slug, world),
        reverse("segments:detail", args=[community.slug, world["manual"].pk]),
        endpoint_url("member", community.slug, world),
        reverse("members:detail", args=[community.slug, world["ada"].pk]),
        list_url(community),
        list_url(community, segment=world["manual"].pk),
    ]
    for url in pages:
        response = victor_client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        for control in EDITING_CONTROLS:
            assert control not in html, (url, control)
    # They still read the data: the segments and their members.
    html = victor_client.get(endpoint_url("list", community.slug, world)).content.decode()
    assert "Acme people" in html
    assert "Mentors" in html
    profile = victor_client.get(world["ada"].get_absolute_url()).content.decode()
    assert "Mentors" in section(profile, r'<ul class="pills member-pills"')
    export = victor_client.get(endpoint_url("export", community.slug, world))
    assert export.status_code == 200
    assert b"Bea Boole" in b"".join(export.streaming_content)


def test_manager_and_admin_see_the_editing_controls(alice_client, client, amy, community, world):
    html = alice_client.get(endpoint_url("list", community.slug, world)).content.decode()
    for control in ("+ New Segment", 'aria-label="Edit Acme people"', 'aria-label="Unpin Mentors"'):
        assert control in html
    client.force_login(amy)
    html = client.get(endpoint_url("list", community.slug, world)).content.decode()
    assert 'aria-label="Delete Mentors"' in html


def test_segments_page_runs_as_many_queries_for_2_as_for_12_segments(alice_client, community):
    url = reverse("segments:list", args=[community.slug])
    _pinned_segments(community, 2)
    with_two = _count_queries(alice_client, url)
    Segment.objects.all().delete()
    _pinned_segments(community, 12)
    with_twelve = _count_queries(alice_client, url)
    assert with_two == with_twelve


def test_segment_page_runs_as_many_queries_for_2_as_for_20_members(alice_client, community):
    """Its history and its member list link every member's profile (the community's slug)."""
    segment = manual(community, "Picked", MemberFactory.create_batch(2, community=community))
    url = reverse("segments:detail", args=[community.slug, segment.pk])
    with_two = _count_queries(alice_client, url)
    services.segment_add_members(
        segment=segment, members=MemberFactory.create_batch(18, community=community)
    )
    with_twenty = _count_queries(alice_client, url)
    assert len(re.findall(r'href="/c/acme/members/\d+/"', alice_client.get(url).content.decode()))
    assert with_two == with_twenty


def test_profile_segments_run_as_many_queries_for_2_as_for_12_segments(
    alice_client, community, people
):
    ada = people["ada"]
    url = reverse("segments:member", args=[community.slug, ada.pk])

    def join_all():
        for segment in Segment.objects.manual():
            services.segment_add_members(segment=segment, members=[ada])

    _pinned_segments(community, 4)  # 2 manual
    join_all()
    with_two = _count_queries(alice_client, url, headers=hx())
    Segment.objects.all().delete()
    _pinned_segments(community, 24)  # 12 manual
    join_all()
    with_twelve = _count_queries(alice_client, url, headers=hx())
    assert with_two == with_twelve


def test_a_segment_due_for_review_can_be_marked_reviewed(alice_client, victor, community):
    victor_client = Client()  # alice_client and victor_client would be one client
    victor_client.force_login(victor)
    mentors = manual(community, "Mentors", review_every_days=30)
    Segment.objects.filter(pk=mentors.pk).update(created_at=timezone.now() - timedelta(days=31))
    page = mentors.get_absolute_url()
    listing = reverse("segments:list", args=[community.slug])
    reviewed = reverse("segments:reviewed", args=[community.slug, mentors.pk])
    assert "due for review" in alice_client.get(page).content.decode()
    assert "Review due" in alice_client.get(listing).content.decode()
    # A viewer sees the reminder but cannot answer it.
    viewer_page = victor_client.get(page).content.decode()
    assert "due for review" in viewer_page and "Mark as reviewed" not in viewer_page
    assert victor_client.post(reviewed).status_code == 403
    assert Segment.objects.get(pk=mentors.pk).reviewed_at is None

    response = alice_client.post(reviewed, headers=hx())
    assert response.status_code == 204
    assert "segmentsChanged" in hx_trigger(response)
    marked = Segment.objects.get(pk=mentors.pk)
    assert timezone.now() - marked.reviewed_at < timedelta(minutes=1)
    assert not marked.is_due_for_review()
    assert "due for review" not in alice_client.get(page).content.decode()
    assert "Review due" not in alice_client.get(listing).content.decode()
