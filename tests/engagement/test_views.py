"""The Engagement page and the activity kinds settings: pages, partials, roles, tenancy."""

import re
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from engagement import charts
from engagement.models import ActivityKind, HealthSnapshot

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 6, 3, 12, tzinfo=UTC)
DISTRIBUTION = {
    "frequency": [40, 25, 15, 10, 6, 4],
    "recency": [30, 10, 10, 10, 15, 25],
    "impact": [50, 20, 15, 8, 5, 2],
    "engagement": [35, 25, 20, 10, 7, 3],
}


def _snapshot(community, week, *, members=100, super_users=7, active=20, inactive=45):
    return HealthSnapshot.objects.create(
        community=community,
        week=week,
        as_of=datetime.combine(week, datetime.min.time(), tzinfo=UTC) + timedelta(days=2),
        members=members,
        super_users=super_users,
        active=active,
        inactive=inactive,
        distribution=DISTRIBUTION,
    )


@pytest.fixture
def amy_client(client, amy):
    client.force_login(amy)
    return client


@pytest.fixture
def dashboard_url(community):
    return reverse("engagement:dashboard", args=[community.slug])


@pytest.fixture
def kinds_url(community):
    return reverse("engagement:kinds", args=[community.slug])


# --- Permissions, for every URL ------------------------------------------------------------


@pytest.mark.parametrize("name", ["dashboard", "kinds"])
def test_anonymous_users_go_to_the_login_page(client, community, name):
    url = reverse(f"engagement:{name}", args=[community.slug])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("name", ["dashboard", "kinds"])
def test_outsiders_get_404(otto_client, community, name):
    _snapshot(community, date(2026, 6, 1))
    url = reverse(f"engagement:{name}", args=[community.slug])
    assert otto_client.get(url).status_code == 404
    assert otto_client.post(url).status_code == 404


def test_the_dashboard_is_read_only(alice_client, dashboard_url):
    assert alice_client.post(dashboard_url).status_code == 405


# --- The Engagement page --------------------------------------------------------------------


def test_empty_state_says_how_to_score(victor_client, community, dashboard_url):
    response = victor_client.get(dashboard_url)
    assert response.status_code == 200
    content = response.content.decode()
    assert "No scores yet" in content
    assert "score_engagement acme" in content
    assert "every hour" in content
    assert 'role="img"' not in content


def test_health_cards_and_histograms(victor_client, community, other_community, dashboard_url):
    _snapshot(community, date(2026, 6, 1), members=200, super_users=14, active=50, inactive=90)
    _snapshot(other_community, date(2026, 6, 1), members=5, super_users=5)
    response = victor_client.get(dashboard_url)
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    content = response.content.decode()
    cards = re.findall(
        r'health-count">([\d,]+)</span> <span class="health-share">(\d+)% of members', content
    )
    assert cards == [("14", "7"), ("50", "25"), ("90", "45")]
    assert "Impact above 2" in content
    # One week of history: no trend yet, a sentence instead.
    assert "The trend appears after two weeks of scoring" in content
    assert "trend-chart" not in content
    # Four histograms with their numbers, labels and accessible summaries.
    assert content.count('class="chart histogram"') == 4
    buckets = ["0", "0.5", "1", "1.5", "2", "2.5", "3"]
    ranges = [f"{low}\N{EN DASH}{high}" for low, high in pairwise(buckets)]
    counts = ", ".join(f"{r}: {n}" for r, n in zip(ranges, [40, 25, 15, 10, 6, 4], strict=True))
    assert f'aria-label="Frequency distribution of 100 members: {counts}."' in content
    assert "<title>2.5\N{EN DASH}3: 25 members (25%)</title>" in content  # recency's last bucket
    assert ">2.5\N{EN DASH}3</text>" in content
    # The sidebar marks the page.
    assert re.search(r'href="/c/acme/engagement/"\s+aria-current="page">Engagement<', content)


def test_the_trend_appears_with_two_weeks(victor_client, community, dashboard_url):
    _snapshot(community, date(2026, 5, 25), members=100, super_users=5, active=20, inactive=50)
    _snapshot(community, date(2026, 6, 1), members=200, super_users=20, active=60, inactive=80)
    content = victor_client.get(dashboard_url).content.decode()
    assert 'class="chart trend-chart"' in content
    assert "Latest: Super users 10%, Active 30%, Inactive 40%." in content
    assert "<title>Week of May 25, 2026: Active 20%</title>" in content
    assert "<title>Week of Jun 1, 2026: Inactive 40%</title>" in content
    assert "+15 since the week before" in content  # super users 5 → 20
    assert "\N{MINUS SIGN}20 since the week before" not in content
    assert "\N{MINUS SIGN}40 since the week before" not in content
    assert "+40 since the week before" in content  # active 20 → 60
    assert "+30 since the week before" in content  # inactive 50 → 80


def test_dashboard_query_count_does_not_grow_with_history(victor_client, community, dashboard_url):
    def queries_for(weeks):
        HealthSnapshot.objects.all().delete()
        for week in range(weeks):
            _snapshot(community, date(2026, 1, 5) + timedelta(weeks=week))
        with CaptureQueriesContext(connection) as captured:
            assert victor_client.get(dashboard_url).status_code == 200
        return len(captured)

    assert queries_for(2) == queries_for(12)


def test_the_trend_partial(victor_client, community, dashboard_url):
    for week in range(30):
        _snapshot(community, date(2026, 6, 1) - timedelta(weeks=week))
    response = victor_client.get(
        dashboard_url + "?weeks=12", headers={"HX-Request": "true", "HX-Target": "health-trend"}
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert "HX-Request" in response["Vary"]
    assert content.lstrip().startswith('<section id="health-trend"')
    assert content.count('class="series-point"') == 3 * 12
    assert 'href="/c/acme/engagement/?weeks=12" ' in content
    assert re.search(r'\?weeks=12"[^>]*aria-current="true"', content)


def test_a_bad_range_falls_back_to_the_default(victor_client, community, dashboard_url):
    for week in range(30):
        _snapshot(community, date(2026, 6, 1) - timedelta(weeks=week))
    content = victor_client.get(dashboard_url + "?weeks=9999").content.decode()
    assert content.count('class="series-point"') == 3 * 26


def test_values_are_escaped(victor_client, community, dashboard_url):
    community.name = "<script>alert(1)</script>"
    community.save()
    _snapshot(community, date(2026, 6, 1))
    content = victor_client.get(dashboard_url).content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


# --- Chart geometry ------------------------------------------------------------------------


def test_histogram_scales_bars_to_the_largest_count():
    chart = charts.histogram([0, 5, 10], ["a", "b", "c"], name="X", width=300, height=120)
    heights = [bar.height for bar in chart.bars]
    assert heights[0] == 0
    assert heights[2] == pytest.approx(2 * heights[1], abs=0.1)
    assert chart.bars[2].y + chart.bars[2].height == chart.baseline
    assert chart.bars[1].title == "b: 5 members (33%)"
    assert chart.summary == "X distribution of 15 members: a: 0, b: 5, c: 10."


def test_histogram_of_nothing_is_flat():
    chart = charts.histogram([0, 0], ["a", "b"], name="X")
    assert [bar.height for bar in chart.bars] == [0, 0]
    assert chart.bars[0].title == "a: 0 members"


def test_trend_points_span_the_plot():
    chart = charts.trend(
        [date(2026, 5, 25), date(2026, 6, 1)], [("active", "Active", [0.0, 1.0])], width=200
    )
    (line,) = chart.lines
    assert [(p.x, p.y) for p in line.points] == [
        (chart.left, chart.bottom),
        (chart.right, chart.top),
    ]
    assert line.path == f"M{chart.left} {chart.bottom} L{chart.right} {chart.top}"
    assert [t.label for t in chart.y_ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert [t.label for t in chart.x_ticks] == ["May 25", "Jun 1"]


def test_trend_labels_at_most_eight_weeks_and_always_the_latest():
    weeks = [date(2026, 1, 5) + timedelta(weeks=i) for i in range(26)]
    chart = charts.trend(weeks, [("active", "Active", [0.5] * 26)])
    assert len(chart.x_ticks) <= 8
    assert chart.x_ticks[-1].label == "Jun 29"


# --- Activity kinds ------------------------------------------------------------------------


def kinds_formset_data(community, **changes):
    """The formset's POST data for the community's kinds, with `changes[slug] = {field: value}`."""
    kinds = list(ActivityKind.objects.for_community(community).order_by("-initiated", "label"))
    data = {
        "form-TOTAL_FORMS": str(len(kinds)),
        "form-INITIAL_FORMS": str(len(kinds)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for index, kind in enumerate(kinds):
        values = {"weight": kind.weight, "daily_cap": kind.daily_cap, "initiated": kind.initiated}
        values.update(changes.get(kind.slug, {}))
        data[f"form-{index}-id"] = str(kind.pk)
        data[f"form-{index}-weight"] = str(values["weight"])
        data[f"form-{index}-daily_cap"] = str(values["daily_cap"])
        if values["initiated"]:
            data[f"form-{index}-initiated"] = "on"
    return data


def _kind(community, slug):
    return ActivityKind.objects.get(community=community, slug=slug)


@pytest.mark.parametrize("client_fixture", ["victor_client", "alice_client"])
def test_viewers_and_managers_see_the_kinds_read_only(
    request, community, kinds_url, client_fixture
):
    client = request.getfixturevalue(client_fixture)
    response = client.get(kinds_url)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Save and rescore" not in content
    assert 'name="form-0-weight"' not in content
    assert "Only a community admin can change these." in content
    assert re.search(
        r"Event hosted</span> <code>event_hosted</code></th>\s*<td>10</td>\s*<td>2</td>", content
    )
    assert "Reaction received" in content and "0.25" in content


@pytest.mark.parametrize("client_fixture", ["victor_client", "alice_client"])
def test_viewers_and_managers_cannot_save_kinds(request, community, kinds_url, client_fixture):
    client = request.getfixturevalue(client_fixture)
    data = kinds_formset_data(community, message={"weight": 9})
    with mock.patch("engagement.tasks.score_community_task.delay") as delay:
        response = client.post(kinds_url, data)
    assert response.status_code == 403
    assert _kind(community, "message").weight == 1
    delay.assert_not_called()


def test_admins_see_the_form(amy_client, kinds_url):
    content = amy_client.get(kinds_url).content.decode()
    assert '<label class="visually-hidden" for="id_form-0-weight">Weight of ' in content
    assert "Save and rescore" in content


def test_admin_saves_and_a_rescore_is_enqueued(
    amy_client, community, kinds_url, django_capture_on_commit_callbacks
):
    data = kinds_formset_data(
        community, message={"weight": 1.5, "daily_cap": 30}, reply_received={"initiated": True}
    )
    with (
        mock.patch("engagement.tasks.score_community_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = amy_client.post(kinds_url, data)
    assert response.status_code == 302
    assert response["Location"] == kinds_url
    message = _kind(community, "message")
    assert (message.weight, message.daily_cap) == (1.5, 30)
    assert _kind(community, "reply_received").initiated is True
    delay.assert_called_once_with(community.id)
    follow = amy_client.get(kinds_url).content.decode()
    assert "The scores are being recomputed" in follow


def test_admin_saves_through_htmx(
    amy_client, community, kinds_url, django_capture_on_commit_callbacks
):
    data = kinds_formset_data(community, post={"weight": 4})
    with (
        mock.patch("engagement.tasks.score_community_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = amy_client.post(
            kinds_url, data, headers={"HX-Request": "true", "HX-Target": "kinds-form"}
        )
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert "HX-Request" in response["Vary"]
    assert content.lstrip().startswith('<section id="kinds-form"')
    assert "The scores are being recomputed" in content
    assert _kind(community, "post").weight == 4
    delay.assert_called_once_with(community.id)


def test_saving_nothing_changed_does_not_rescore(amy_client, community, kinds_url):
    with mock.patch("engagement.tasks.score_community_task.delay") as delay:
        response = amy_client.post(kinds_url, kinds_formset_data(community), follow=True)
    assert "Nothing changed." in response.content.decode()
    delay.assert_not_called()


WEIGHT_ERROR = "Weight must be a number from 0 to 1,000."
DAILY_CAP_ERROR = "Daily cap must be a whole number from 1 to 10,000."


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"weight": -1}, WEIGHT_ERROR),
        ({"weight": "-0.001"}, WEIGHT_ERROR),
        ({"weight": 1001}, WEIGHT_ERROR),
        ({"weight": "1000.0001"}, WEIGHT_ERROR),
        ({"weight": "1e308"}, WEIGHT_ERROR),
        ({"weight": "1e309"}, WEIGHT_ERROR),  # overflows to infinity
        ({"weight": "inf"}, WEIGHT_ERROR),
        ({"weight": "-inf"}, WEIGHT_ERROR),
        ({"weight": "Infinity"}, WEIGHT_ERROR),
        ({"weight": "nan"}, WEIGHT_ERROR),
        ({"weight": "NaN"}, WEIGHT_ERROR),
        ({"weight": "lots"}, WEIGHT_ERROR),
        ({"daily_cap": 0}, DAILY_CAP_ERROR),
        ({"daily_cap": -5}, DAILY_CAP_ERROR),
        ({"daily_cap": 10001}, DAILY_CAP_ERROR),
        ({"daily_cap": 2**63}, DAILY_CAP_ERROR),
        ({"daily_cap": "1e4"}, DAILY_CAP_ERROR),
        ({"daily_cap": "nan"}, DAILY_CAP_ERROR),
        ({"daily_cap": "2.5"}, DAILY_CAP_ERROR),
    ],
)
def test_invalid_values_are_refused(
    amy_client, community, kinds_url, changes, error, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:  # a rescore would wait for commit
        response = amy_client.post(kinds_url, kinds_formset_data(community, message=changes))
    assert response.status_code == 200
    content = response.content.decode()
    (field,) = changes
    form = _form_index(community, "message")
    # The message is under the field's own input, and the input is marked invalid.
    assert f'<p class="form-error" id="id_form-{form}-{field}-error">{error}</p>' in content
    assert content.count('aria-invalid="true"') == 1
    message = _kind(community, "message")
    assert (message.weight, message.daily_cap) == (1, 20)
    assert callbacks == []


def _form_index(community, slug):
    kinds = ActivityKind.objects.for_community(community).order_by("-initiated", "label")
    return [kind.slug for kind in kinds].index(slug)


def test_the_bounds_themselves_are_accepted(amy_client, community, kinds_url):
    data = kinds_formset_data(
        community, message={"weight": 1000, "daily_cap": 10000}, post={"weight": 0, "daily_cap": 1}
    )
    response = amy_client.post(kinds_url, data)  # the rescore waits for a commit that never comes
    assert response.status_code == 302
    message, post = _kind(community, "message"), _kind(community, "post")
    assert (message.weight, message.daily_cap, post.weight, post.daily_cap) == (1000, 10000, 0, 1)


def test_another_communitys_kind_cannot_be_edited(
    amy_client, community, other_community, kinds_url
):
    foreign = _kind(other_community, "message")
    data = kinds_formset_data(community)
    # Point the first form at the other community's kind.
    data["form-0-id"] = str(foreign.pk)
    data["form-0-weight"] = "99"
    with mock.patch("engagement.tasks.score_community_task.delay") as delay:
        response = amy_client.post(kinds_url, data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    foreign.refresh_from_db()
    assert foreign.weight == 1
    assert not ActivityKind.objects.filter(weight=99).exists()
    delay.assert_not_called()


def test_extra_forms_never_create_kinds(amy_client, community, kinds_url):
    data = kinds_formset_data(community)
    count = int(data["form-TOTAL_FORMS"])
    data["form-TOTAL_FORMS"] = str(count + 1)
    data[f"form-{count}-weight"] = "5"
    data[f"form-{count}-daily_cap"] = "5"
    before = ActivityKind.objects.count()
    with mock.patch("engagement.tasks.score_community_task.delay"):
        amy_client.post(kinds_url, data)
    assert ActivityKind.objects.count() == before


def test_kind_labels_are_escaped(victor_client, community, kinds_url):
    kind = _kind(community, "message")
    kind.label = "<b>Loud</b>"
    kind.save()
    content = victor_client.get(kinds_url).content.decode()
    assert "<b>Loud</b>" not in content
    assert "&lt;b&gt;Loud&lt;/b&gt;" in content


def test_the_dashboard_links_to_the_kinds(victor_client, community, dashboard_url, kinds_url):
    _snapshot(community, date(2026, 6, 1))
    assert f'href="{kinds_url}"' in victor_client.get(dashboard_url).content.decode()


def test_the_inputs_say_their_bounds(amy_client, kinds_url):
    page = amy_client.get(kinds_url).content.decode()
    assert 'type="number" step="any" min="0" max="1000"' in page
    assert 'type="number" step="1" min="1" max="10000"' in page
