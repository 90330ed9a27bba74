"""The members CSV as a spreadsheet opens it (segments/exports.py): a UTF-8 byte-order mark
first, and a download named after the segment and the community's day."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from segments.exports import BOM, content_disposition, export_filename, write_members_csv
from segments.models import Segment
from tests.factories import CommunityFactory, MemberFactory

pytestmark = pytest.mark.django_db

# 23:30 in UTC on 5 December is already 6 December in Auckland and still 5 December in Denver.
NOW = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)


@pytest.fixture
def community():
    return CommunityFactory(slug="acme", name="Acme", timezone="Pacific/Auckland")


def segment(community, name):
    return Segment.objects.create(community=community, name=name, kind="manual")


def test_the_csv_starts_with_a_bom_and_accented_names_round_trip(community):
    MemberFactory(community=community, name="Zoë Müller", city="São Paulo", company_name="Ærø")
    out = io.StringIO()

    count = write_members_csv(out, community)

    data = out.getvalue().encode("utf-8")
    assert count == 1
    assert data.startswith(b"\xef\xbb\xbfname,email,")
    (row,) = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    assert (row["name"], row["city"], row["company_name"]) == ("Zoë Müller", "São Paulo", "Ærø")


def test_without_the_bom_when_asked(community):
    out = io.StringIO()

    write_members_csv(out, community, bom=False)

    assert out.getvalue().startswith("name,email,")
    assert BOM not in out.getvalue()


def test_the_file_is_named_after_the_segment_and_the_community_s_day(community):
    customers = segment(community, "Acme Customers")

    assert export_filename(community, segment=customers, now=NOW) == (
        "acme-customers-2026-12-06.csv"
    )
    community.timezone = "America/Denver"
    assert export_filename(community, segment=customers, now=NOW) == (
        "acme-customers-2026-12-05.csv"
    )


def test_a_whole_community_export_is_named_after_the_community(community):
    assert export_filename(community, now=NOW) == "acme-members-2026-12-06.csv"


def test_accents_are_folded_and_other_characters_dropped(community):
    name = 'Käufer / "Kunden" <script>; ../../etc'
    assert export_filename(community, segment=segment(community, name), now=NOW) == (
        "kaufer-kunden-script-etc-2026-12-06.csv"
    )


def test_a_name_with_nothing_to_keep_falls_back_to_the_segment_id(community):
    chosen = segment(community, "日本の会員 ★")

    assert export_filename(community, segment=chosen, now=NOW) == (
        f"segment-{chosen.pk}-2026-12-06.csv"
    )


def test_a_long_name_is_cut_to_100_characters(community):
    chosen = segment(community, ("word " * 20).strip())  # the longest name a segment may have

    filename = export_filename(community, segment=chosen, now=NOW)

    assert len(filename) == 99  # cut at 85, then the hyphen at the cut dropped
    assert filename == "word-" * 16 + "word" + "-2026-12-06.csv"


def test_an_unknown_time_zone_counts_as_utc(community):
    community.timezone = "Mars/Olympus"

    assert export_filename(community, now=NOW) == "acme-members-2026-12-05.csv"


def test_the_header_gives_the_name_both_ways():
    assert content_disposition("acme-customers-2026-12-06.csv") == (
        'attachment; filename="acme-customers-2026-12-06.csv"; '
        "filename*=UTF-8''acme-customers-2026-12-06.csv"
    )
