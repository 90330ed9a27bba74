from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_filters import FilterSet

from community_os import database
from community_os.ids import parse_id

from . import table
from .access import CommunityRequest, community_view, get_member_for_request, htmx_page_path
from .filters import MemberFilter
from .models import Community, CommunityRole, Member
from .paging import BadCursor, Sort, paginate

DEFAULT_SORT = "-joined_at"


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Send the user to their community, or let them choose when they have several."""
    if request.user.is_superuser:
        communities = list(Community.objects.order_by("name"))
    else:
        communities = [r.community for r in CommunityRole.objects.for_user(request.user)]
    if len(communities) == 1:
        return redirect(communities[0])
    return render(request, "members/community_chooser.html", {"communities": communities})


@community_view
@require_GET
@vary_on_headers("HX-Request")
def member_list(request: CommunityRequest) -> HttpResponse:
    shown = table.columns()
    queryset = table.annotate(Member.objects.for_community(request.community))
    filtersets: list[FilterSet] = [MemberFilter(request.GET, queryset=queryset, request=request)]
    extension_filters = []  # (template, filterset) for the Filters panel
    for extension in table.extensions():
        if extension.filterset_class is None:
            continue
        filterset = extension.filterset_class(
            request.GET, queryset=filtersets[-1].qs, request=request
        )
        filtersets.append(filterset)
        if extension.filter_template:
            extension_filters.append((extension.filter_template, filterset))
    matching = filtersets[-1].qs
    sort = Sort.parse(
        request.GET.get("sort", DEFAULT_SORT), tuple(c.key for c in shown), DEFAULT_SORT
    )
    size = settings.MEMBERS_PAGE_SIZE
    in_use = _filters_in_use(filtersets)
    if request.GET.get("count") == "all":  # "Count all": the exact number, beyond the cap
        cap = None
        database.allow_request(settings.COUNT_ALL_STATEMENT_TIMEOUT)
    elif len(in_use) > 1:
        cap = settings.MEMBERS_COMBINED_COUNT_CAP
    else:
        cap = settings.MEMBERS_COUNT_CAP
    known = _known_count(filtersets, in_use)
    try:
        page = paginate(
            matching,
            sort,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
            size=size,
            count_cap=cap,
            known_count=known,
        )
    except BadCursor:
        # A mangled paging link: start again from the first page.
        page = paginate(matching, sort, size=size, count_cap=cap, known_count=known)
    list_url = reverse("members:list", args=[request.community.slug])
    # The table region is also loaded into other pages (a segment's page): its links are
    # absolute, and there sorting or paging does not turn the address into the table's.
    page_path = htmx_page_path(request)
    shown_elsewhere = page_path is not None and page_path != list_url
    context = {
        "list_url": list_url,
        "push_url": "false" if shown_elsewhere else "true",
        "header_templates": [e.header_template for e in table.extensions() if e.header_template],
        "filter": filtersets[0],
        "filter_errors": [error for f in filtersets for error in _errors(f)],
        # The badge on the Filters panel: the filters set there (search has its own box).
        "active_filter_count": len([name for name in in_use if name != "q"]),
        "extension_filters": extension_filters,
        "page": page,
        "rows": table.rows(
            page.rows,
            shown,
            lambda member: reverse("members:detail", args=[request.community.slug, member.pk]),
        ),
        "sort": sort,
        "headers": _headers(shown, sort),
        "query": _query_without(request, "after", "before"),
        "query_unsorted": _query_without(request, "after", "before", "sort"),
    }
    template = "members/member_list.html"
    if request.htmx and request.htmx.target == "members-table":
        template += "#members-table"
    return render(request, template, context)


def _filters_in_use(filtersets: list[FilterSet]) -> list[str]:
    """The names of the filters (search included) that narrow the table."""
    return [
        name
        for filterset in filtersets
        if filterset.form.is_valid()
        for name, value in filterset.form.cleaned_data.items()
        if value not in (None, "", slice(None, None))
    ]


def _known_count(filtersets: list[FilterSet], in_use: list[str]) -> int | None:
    """The number of matching members without counting them, when the only filter in use is
    one whose filterset knows it (`known_count`: a segment pill's stored count)."""
    known = [f.known_count for f in filtersets if getattr(f, "known_count", None) is not None]
    return known[0] if len(in_use) == 1 and len(known) == 1 else None


def _errors(filterset: FilterSet) -> list[str]:
    return [
        f"{filterset.form.fields[name].label}: {' '.join(errors)}"
        for name, errors in filterset.form.errors.items()
    ]


def _headers(shown: tuple[table.Column, ...], sort: Sort) -> list[dict]:
    headers = []
    for column in shown:
        active = sort.field == column.key
        first = f"-{column.key}" if column.descending_first else column.key
        flipped = column.key if sort.descending else f"-{column.key}"
        headers.append(
            {
                "column": column,
                "sort_param": flipped if active else first,
                "aria_sort": ("descending" if sort.descending else "ascending")
                if active
                else "none",
            }
        )
    return headers


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@community_view
@require_GET
@vary_on_headers("HX-Request")
def member_detail(request: CommunityRequest, pk: int) -> HttpResponse:
    member = get_member_for_request(request, pk)
    identities = member.identities.order_by("source", "external_id")
    # "Other attributes" 50 at a time, by name (?attributes=2 for the second page). A page
    # number that is not one of the pages, written in ASCII digits, shows the first.
    stored = member.attributes if isinstance(member.attributes, dict) else {}
    attributes = Paginator(sorted(stored.items(), key=lambda kv: (kv[0].casefold(), kv[0])), 50)
    number = parse_id(request.GET.get("attributes")) or 1
    attribute_page = attributes.page(number if number <= attributes.num_pages else 1)
    return render(
        request,
        "members/member_detail.html",
        {"member": member, "identities": identities, "attribute_page": attribute_page},
    )
