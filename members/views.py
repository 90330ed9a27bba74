from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from .access import CommunityRequest, community_view, get_member_for_request
from .filters import MemberFilter
from .forms import MemberImportForm
from .importing import COLUMNS, ImportFileError, import_members
from .models import Community, CommunityRole, Member
from .paging import BadCursor, Sort, paginate

SORTABLE = ("name", "company_name", "job_title", "city", "country", "joined_at", "last_seen_at")
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
    community = request.community
    member_filter = MemberFilter(
        request.GET, queryset=Member.objects.for_community(community), request=request
    )
    sort = Sort.parse(request.GET.get("sort", DEFAULT_SORT), SORTABLE, DEFAULT_SORT)
    try:
        page = paginate(
            member_filter.qs,
            sort,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
            size=settings.MEMBERS_PAGE_SIZE,
            count_cap=settings.MEMBERS_COUNT_CAP,
        )
    except BadCursor:
        # A mangled paging link: start again from the first page.
        page = paginate(
            member_filter.qs,
            sort,
            size=settings.MEMBERS_PAGE_SIZE,
            count_cap=settings.MEMBERS_COUNT_CAP,
        )
    context = {
        "filter": member_filter,
        "page": page,
        "sort": sort,
        "columns": _columns(sort),
        "query": _query_without(request, "after", "before"),
        "query_unsorted": _query_without(request, "after", "before", "sort"),
    }
    template = "members/member_list.html"
    if request.htmx and request.htmx.target == "members-table":
        template += "#members-table"
    return render(request, template, context)


def _columns(sort: Sort) -> list[dict]:
    labels = {
        "name": "Name",
        "company_name": "Company",
        "job_title": "Job title",
        "city": "City",
        "country": "Country",
        "joined_at": "Joined",
        "last_seen_at": "Last seen",
    }
    columns = []
    for field, label in labels.items():
        active = sort.field == field
        # Dates sort newest first on the first click; text sorts A to Z.
        first = f"-{field}" if field.endswith("_at") else field
        flipped = f"{field}" if sort.descending else f"-{field}"
        columns.append(
            {
                "field": field,
                "label": label,
                "sort_param": flipped if active else first,
                "aria_sort": ("descending" if sort.descending else "ascending")
                if active
                else "none",
            }
        )
    return columns


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
    return render(
        request,
        "members/member_detail.html",
        {"member": member, "identities": identities},
    )


@community_view
@require_http_methods(["GET", "HEAD", "POST"])
def imports(request: CommunityRequest) -> HttpResponse:
    """Explain the members CSV; managers upload one and see what the import did."""
    if request.method == "POST":
        form = MemberImportForm(request.POST, request.FILES)
    else:
        form = MemberImportForm()
    report = None
    if form.is_valid():  # False for the unbound GET form.
        try:
            report = import_members(
                community=request.community,
                file=form.cleaned_data["file"],
                skip_invalid=form.cleaned_data["skip_invalid"],
            )
        except ImportFileError as exc:
            form.add_error("file", str(exc))
    return render(
        request,
        "members/imports.html",
        {"form": form, "report": report, "columns": COLUMNS.items()},
    )
