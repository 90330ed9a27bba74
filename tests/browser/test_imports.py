"""The Imports page in Chromium: upload, check, map, confirm; and a big file with a real worker,
whose progress the page follows while the table keeps answering for another user."""

import time

import pytest
from django.db import connection
from playwright.sync_api import expect

from members.models import ImportJob, Member
from tests.worker import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GOOD = b"name,email,company_name,joined_at\nAda Lovelace,ada@example.org,Analytical,2024-05-01\n"
BAD = GOOD + b"Bad Date,bad@example.org,X,yesterday\n"


def upload(page, name, content):
    page.get_by_label("Members file (CSV or XLSX)").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Upload and check").click()


def test_a_file_is_checked_then_mapped_and_imported(page, live_server, log_in, alice):
    log_in(page, "alice")
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", name="Imports", exact=True)).to_be_visible()

    upload(page, "bad.csv", BAD)
    expect(page.get_by_text("Ready to import")).to_be_visible()
    problems = page.get_by_role("table", name="Rows with problems")
    expect(problems).to_contain_text("3")
    expect(problems).to_contain_text('joined_at "yesterday" is not an ISO 8601 date')
    expect(page.get_by_text("as things stand nothing would be imported")).to_be_visible()
    preview = page.get_by_role("table", name="The first 2 rows as they will be stored")
    expect(preview).to_contain_text("Ada Lovelace")
    assert Member.objects.count() == 0

    # Leave the company out, skip the bad row, check again, then import.
    page.get_by_label("company_name", exact=True).select_option("ignore")
    page.get_by_label("Skip invalid rows").check()
    page.get_by_role("button", name="Check again with these choices").click()
    expect(page.get_by_role("button", name="Import 2 rows")).to_be_visible()
    page.get_by_role("button", name="Import 2 rows").click()
    expect(page.get_by_text("Import complete")).to_be_visible()
    ada = Member.objects.get()
    assert (ada.name, ada.company_name) == ("Ada Lovelace", "")

    page.get_by_role("link", name="See the members").click()
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_role("table", name="Recent imports")).to_contain_text("bad.csv")


def test_viewer_sees_no_upload_form(page, live_server, log_in, victor):
    log_in(page, "victor")
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_text("Your role in this community is read-only")).to_be_visible()
    expect(page.get_by_label("Members file (CSV or XLSX)")).to_have_count(0)


ROWS = 30_000


@pytest.mark.postgres
@pytest.mark.real_worker
def test_a_big_file_runs_in_the_background_while_the_table_answers(
    browser, page, live_server, log_in, alice, amy, tmp_path
):
    rows = "".join(
        f"U{n},Member {n},m{n}@example.org,Company {n % 50},2024-01-{n % 28 + 1:02d}\n"
        for n in range(ROWS)
    )
    content = f"external_id,name,email,company_name,joined_at\n{rows}".encode()
    other = browser.new_context().new_page()
    log_in(other, "amy")
    log_in(page, "alice")
    page.goto(f"{live_server.url}/c/acme/imports/")

    with celery_worker(tmp_path) as worker:
        started = time.monotonic()
        upload(page, "big.csv", content)
        expect(page.get_by_role("heading", name="Import of big.csv")).to_be_visible()
        assert time.monotonic() - started < 5, "the upload waited for the import"
        job = ImportJob.objects.get()

        # Another user's table answers while the worker checks and imports.
        answered = []
        while ImportJob.objects.get(pk=job.pk).status in ("queued", "validating"):
            begin = time.monotonic()
            other.goto(f"{live_server.url}/c/acme/")
            expect(other.get_by_role("heading", name="Members")).to_be_visible()
            answered.append(time.monotonic() - begin)
            assert time.monotonic() - started < 120
        assert answered and max(answered) < 5, answered

        expect(page.get_by_text("Ready to import")).to_be_visible(timeout=60_000)
        expect(page.get_by_text(f"The check read {ROWS:,} rows")).to_be_visible()
        page.get_by_role("button", name=f"Import {ROWS:,} rows").click()
        expect(
            page.get_by_role("progressbar").or_(page.get_by_text("Import complete"))
        ).to_be_visible()
        expect(page.get_by_text("Import complete")).to_be_visible(timeout=90_000)
        worker.wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == "done")

    connection.close()
    assert Member.objects.filter(community__slug="acme").count() == ROWS
    job.refresh_from_db()
    assert (job.created, job.rows_read, job.uploaded_by.username) == (ROWS, ROWS, "alice")
    other.context.close()
