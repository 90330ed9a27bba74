import pytest
from playwright.sync_api import expect

from members.models import Member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GOOD = b"name,email,company_name,joined_at\nAda Lovelace,ada@example.org,Analytical,2024-05-01\n"
BAD = GOOD + b"Bad Date,bad@example.org,X,yesterday\n"


def upload(page, name, content):
    page.get_by_label("Members CSV file").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Import").click()


def test_a_bad_file_imports_nothing_then_a_good_one_imports(page, live_server, log_in, alice):
    log_in(page, "alice")
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", name="Imports")).to_be_visible()

    upload(page, "bad.csv", BAD)
    expect(page.get_by_text("Nothing was imported: 1 invalid row")).to_be_visible()
    invalid = page.get_by_role("table", name="Invalid rows")
    expect(invalid).to_contain_text("3")
    expect(invalid).to_contain_text('joined_at "yesterday" is not an ISO 8601 date')
    assert Member.objects.count() == 0

    upload(page, "good.csv", GOOD)
    expect(page.get_by_text("Import complete.")).to_be_visible()
    page.get_by_role("link", name="See the members").click()
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()


def test_viewer_sees_no_upload_form(page, live_server, log_in, victor):
    log_in(page, "victor")
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_text("Your role in this community is read-only")).to_be_visible()
    expect(page.get_by_label("Members CSV file")).to_have_count(0)
