"""Settings > Join page: admins switch the page on, edit and preview it; managers and viewers
read it; outsiders get 404; the app nav links it for admins only."""

import pytest
from django.urls import reverse

from signup.models import JoinPage

pytestmark = pytest.mark.django_db


@pytest.fixture
def url(community):
    return reverse("signup:settings", args=[community.slug])


def form_data(**overrides):
    data = {
        "enabled": "on",
        "title": "Join us",
        "intro": "Hello builders.",
        "company_name": "optional",
        "job_title": "off",
        "city": "required",
        "country": "off",
        "location": "off",
        "question_1": "What do you build?",
        "question_2": "plan",
        "question_2_required": "on",
        "question_3": "",
        "question_4": "",
        "question_5": "",
        "consent_text": "I agree.",
        "welcome_text": "Welcome!",
        "invite_url": "https://join.slack.com/t/acme/shared_invite/zt-1",
        "invite_label": "Join us on Slack",
        "action": "save",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_anonymous_goes_to_the_login_page(client, url):
    for response in (client.get(url), client.post(url, form_data())):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_outsider_gets_404(otto_client, url):
    assert otto_client.get(url).status_code == 404
    assert otto_client.post(url, form_data()).status_code == 404
    assert not JoinPage.objects.exists()


@pytest.mark.parametrize("who", ["victor", "alice"])
def test_viewers_and_managers_read_but_cannot_change(client, request, url, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get(url)
    content = response.content.decode()
    assert response.status_code == 200
    assert "Only a community admin can change the join page." in content
    assert 'name="title"' not in content
    assert "http://testserver/join/acme/" in content
    assert client.post(url, form_data()).status_code == 403
    assert not JoinPage.objects.exists()


def test_admin_sees_the_form_the_address_and_a_preview(client, amy, url):
    client.force_login(amy)
    response = client.get(url)
    content = response.content.decode()

    assert response.status_code == 200
    assert "<h1>Settings</h1>" in content
    assert '<nav class="settings-nav" aria-label="Settings">' in content
    assert 'aria-current="page">Join page</a>' in content
    assert "Not published" in content
    assert 'value="http://testserver/join/acme/"' in content
    assert '<label for="id_enabled">Publish the join page</label>' in content
    assert '<label for="id_question_5">Question 5</label>' in content
    # The preview of the page as it stands: name and email, disabled.
    assert '<fieldset class="join-fields" disabled>' in content
    assert '<label for="preview-name">Name</label>' in content
    assert "Join Acme Builders" in content


def test_admin_saves_and_publishes(client, amy, url, community):
    client.force_login(amy)
    response = client.post(url, form_data())

    assert response.status_code == 302
    assert response["Location"] == url
    page = JoinPage.objects.get(community=community)
    assert page.enabled
    assert (page.title, page.city, page.company_name, page.job_title) == (
        "Join us",
        "required",
        "optional",
        "off",
    )
    assert page.questions == [
        {"label": "What do you build?", "required": False},
        {"label": "plan", "required": True},
    ]
    assert page.updated_by == amy
    after = client.get(url).content.decode()
    assert "The join page is published." in after
    assert "Published" in after
    assert client.get("/join/acme/").status_code == 200


def test_the_questions_keep_their_order_without_gaps(client, amy, url, community):
    client.force_login(amy)
    client.post(
        url, form_data(question_1="", question_2="", question_2_required=None, question_4="Why?")
    )
    assert JoinPage.objects.get(community=community).questions == [
        {"label": "Why?", "required": False}
    ]


def test_preview_shows_the_changes_and_saves_nothing(client, amy, url, community):
    client.force_login(amy)
    JoinPage.objects.create(community=community, title="Old title")
    response = client.post(url, form_data(title="New title", action="preview"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "This preview shows your changes. They are not saved yet." in content
    assert '<h3 class="join-title">New title</h3>' in content
    assert '<label for="preview-question_1">What do you build?' in content
    assert '<label for="preview-consent">I agree.</label>' in content
    assert "Join us on Slack" in content
    page = JoinPage.objects.get(community=community)
    assert (page.title, page.enabled) == ("Old title", False)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"question_3": "PLAN"}, "question_3", "Question 2 is called the same"),
        ({"question_3_required": "on"}, "question_3", "A required question needs a label."),
        ({"question_1": "q" * 101}, "question_1", "at most 100 characters"),
        ({"invite_url": "javascript:alert(1)"}, "invite_url", "Enter a valid URL."),
        ({"invite_url": "ftp://files.example.org/"}, "invite_url", "Enter a valid URL."),
        ({"city": "sometimes"}, "city", "Select a valid choice."),
        ({"title": "Join\x00us"}, "title", "Null characters are not allowed."),
        ({"intro": "i" * 2001}, "intro", "at most 2000 characters"),
    ],
)
def test_bad_settings_are_field_errors_and_save_nothing(
    client, amy, url, community, overrides, field, message
):
    client.force_login(amy)
    response = client.post(url, form_data(**overrides))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert "Nothing was saved" in response.content.decode()
    assert not JoinPage.objects.exists()


def test_a_preview_of_bad_settings_shows_the_stored_page(client, amy, url, community):
    JoinPage.objects.create(community=community, title="Stored title")
    client.force_login(amy)
    response = client.post(url, form_data(title="Bad\x00", action="preview"))
    assert response.status_code == 200
    assert '<h3 class="join-title">Stored title</h3>' in response.content.decode()


def test_the_settings_link_is_in_the_nav_for_every_role(client, amy, alice, victor, url):
    # Managers and viewers read the Settings area (the join page, the team); admins edit it.
    for user in (amy, alice, victor):
        client.force_login(user)
        content = client.get(reverse("members:list", args=["acme"])).content.decode()
        assert f'<a href="{url}" >Settings</a>' in content, user
    client.force_login(amy)
    assert f'<a href="{url}" aria-current="page">Settings</a>' in client.get(url).content.decode()
