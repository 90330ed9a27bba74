from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from members.access import CommunityRequest, community_view, has_role
from members.models import Role

from . import charts
from .forms import TREND_RANGES, ActivityKindFormSet, TrendRangeForm
from .models import BUCKET_COUNT, SCORES, ActivityKind, HealthSnapshot, bucket_bounds
from .tasks import rescore_later


@dataclass(frozen=True)
class HealthCard:
    key: str
    name: str
    count: int
    share: float
    change: int | None  # since the previous week's snapshot
    explanation: str

    @property
    def change_text(self) -> str:
        if self.change is None:
            return ""
        if self.change == 0:
            return "No change since the week before"
        sign = "+" if self.change > 0 else "\N{MINUS SIGN}"
        return f"{sign}{abs(self.change):,} since the week before"


# One line per group, from docs/scoring.md "Readings".
HEALTH_GROUPS = (
    (
        "super_users",
        "Super users",
        "Impact above 2: over 100 weighted contributions in the last year "
        "(each Impact point is \N{MULTIPLICATION SIGN}10).",
    ),
    (
        "active",
        "Active",
        "Frequency, Recency and Impact all above 1: active on 5+ days a quarter, "
        "seen within 90 days, and contributing.",
    ),
    (
        "inactive",
        "Inactive",
        "Frequency, Recency and Impact all below 1: under 5 active days a quarter "
        "and nothing for 90+ days.",
    ),
)

SCORE_NOTES = {
    "frequency": "Above 1: active on 5+ days a quarter; above 2: 14+ days.",
    "recency": "Below 1: nothing for 90+ days; 3: active in the last week.",
    "impact": "Each point is \N{MULTIPLICATION SIGN}10 contribution: 1 \N{ALMOST EQUAL TO} 9, "
    "2 \N{ALMOST EQUAL TO} 99 weighted activities a year.",
    "engagement": "The average of Frequency, Recency and Impact.",
}


def _bucket_labels() -> list[str]:
    return [f"{low.normalize()}\N{EN DASH}{high.normalize()}" for low, high in bucket_bounds()]


def _cards(latest: HealthSnapshot, previous: HealthSnapshot | None) -> list[HealthCard]:
    cards = []
    for key, name, explanation in HEALTH_GROUPS:
        count = getattr(latest, key)
        change = count - getattr(previous, key) if previous is not None else None
        cards.append(HealthCard(key, name, count, latest.share(count), change, explanation))
    return cards


def _trend(snapshots: list[HealthSnapshot]) -> charts.TrendChart:
    return charts.trend(
        [s.week for s in snapshots],
        [
            (key, name, [s.share(getattr(s, key)) for s in snapshots])
            for key, name, _ in HEALTH_GROUPS
        ],
    )


def _histograms(latest: HealthSnapshot) -> list[tuple[str, str, charts.Histogram]]:
    labels = _bucket_labels()
    result = []
    for score in SCORES:
        counts = latest.distribution.get(score, [0] * BUCKET_COUNT)
        name = score.title()
        result.append((name, SCORE_NOTES[score], charts.histogram(counts, labels, name=name)))
    return result


@community_view
@require_GET
@vary_on_headers("HX-Request")
def dashboard(request: CommunityRequest) -> HttpResponse:
    """Community Health: the latest week's groups, their weekly trend, the score distributions."""
    weeks = TrendRangeForm(request.GET).weeks_or_default()
    snapshots = list(
        HealthSnapshot.objects.for_community(request.community).order_by("-week")[:weeks]
    )[::-1]
    context: dict = {"weeks": weeks, "ranges": TREND_RANGES.items(), "snapshots": snapshots}
    if snapshots:
        latest = snapshots[-1]
        previous = snapshots[-2] if len(snapshots) > 1 else None
        context.update(
            latest=latest,
            cards=_cards(latest, previous),
            trend=_trend(snapshots) if len(snapshots) > 1 else None,
            histograms=_histograms(latest),
        )
    template = "engagement/dashboard.html"
    if request.htmx and request.htmx.target == "health-trend":
        template += "#health-trend"
    return render(request, template, context)


@community_view(write_role=Role.ADMIN)
@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def kinds(request: CommunityRequest) -> HttpResponse:
    """The community's activity kinds; admins edit weights, caps and the initiated flag."""
    community = request.community
    queryset = ActivityKind.objects.for_community(community).order_by("-initiated", "label")
    notice = None
    if request.method == "POST":  # only admins get here: community_view answers 403 otherwise
        formset = ActivityKindFormSet(request.POST, queryset=queryset)
        if formset.is_valid():
            if formset.has_changed():
                with transaction.atomic():
                    formset.save()
                    rescore_later(community)
                notice = "Saved. The scores are being recomputed with the new settings."
            else:
                notice = "Nothing changed."
            if not request.htmx:
                messages.success(request, notice)
                return redirect("engagement:kinds", slug=community.slug)
            formset = ActivityKindFormSet(queryset=queryset)
    else:
        formset = ActivityKindFormSet(queryset=queryset)
    context = {
        "formset": formset,
        "kinds": queryset,
        "can_edit_kinds": has_role(request.role, Role.ADMIN),
        "notice": notice,
    }
    template = "engagement/kinds.html"
    if request.htmx and request.htmx.target == "kinds-form":
        template += "#kinds-form"
    return render(request, template, context)
