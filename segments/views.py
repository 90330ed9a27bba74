"""The segment screens (README "What it does"): the dialog, its live preview, the Segments and
Segment pages, the sidebar list and the profile's segment pills.

Views translate HTTP and call segments/services.py for every write. A successful write answers
an htmx request with the `segmentsChanged` event (HX-Trigger), which the sidebar, the pills,
the Segments page and the profile listen to; the dialog does not know what else is on the page.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import OperationalError, transaction
from django.db.models import Q
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from community_os import database
from community_os.ids import parse_id
from members.access import CommunityRequest, can_edit, community_view, get_member_for_request
from members.filters import search_words
from members.models import Identity, Member

from . import builder, exports, history, rules, services
from .access import get_segment_for_request, segments_for_request
from .forms import AddMembersForm, SegmentForm
from .models import Kind, MembershipChange, Segment, SegmentMembership, Via

PREVIEW_SAMPLE = 10
PREVIEW_TOO_SLOW = (
    "This rule takes too long to preview, so the preview was stopped. Fewer or narrower "
    "conditions preview faster; the segment itself is refreshed in the background."
)
SEARCH_LIMIT = 8
MANUAL_PAGE_SIZE = 100
HISTORY_LIMIT = 50
KIND_OPTIONS = (
    (Kind.SMART, "Smart", "Members enter and leave by a rule"),
    (Kind.MANUAL, "Manual", "Hand-picked by name or email"),
)


def _changed(**detail) -> dict[str, str]:
    return {"HX-Trigger": json.dumps({"segmentsChanged": detail})}


def _require_editor(request: CommunityRequest) -> None:
    """Editing forms are for managers and admins; viewers get 403 even on GET."""
    if not can_edit(request):
        raise PermissionDenied("Your role in this community is read-only.")


def _names(request: CommunityRequest) -> dict[int, str]:
    """Every segment's name by id, for rules in words: from the request's segment list."""
    return {segment.pk: segment.name for segment in segments_for_request(request)}


def describe(segment: Segment, names: dict[int, str]) -> str:
    """The rule in words, or why it cannot be read."""
    if not segment.is_smart:
        return "Hand-picked members"
    try:
        return rules.describe(segment.parsed_rule(), segment_names=names)
    except rules.RuleError as error:
        return f"Invalid rule: {error}"


# --- Segments page ------------------------------------------------------------------------------


@community_view
@require_GET
@vary_on_headers("HX-Request")
def segment_list(request: CommunityRequest) -> HttpResponse:
    segments = segments_for_request(request)  # the sidebar on this page shows the same list
    names = _names(request)
    now = timezone.now()
    rows = [
        {
            "segment": segment,
            "rule": describe(segment, names),
            "review_due": segment.is_due_for_review(now),
            "first": index == 0,
            "last": index == len(segments) - 1,
        }
        for index, segment in enumerate(segments)
    ]
    template = "segments/segment_list.html"
    if request.htmx and request.htmx.target == "segments-table":
        template += "#segments-table"
    context = {
        "rows": rows,
        "can_edit": can_edit(request),
        "updating": any(segment.is_updating for segment in segments),
    }
    return render(request, template, context)


@community_view
@require_POST
def segment_pin(request: CommunityRequest, pk: int) -> HttpResponse:
    segment = get_segment_for_request(request, pk)
    services.segment_pin(segment=segment, pinned=request.POST.get("pinned") == "1")
    if request.htmx:
        return HttpResponse(status=204, headers=_changed(id=segment.pk))
    return redirect("segments:list", request.community.slug)


@community_view
@require_POST
def segment_move(request: CommunityRequest, pk: int) -> HttpResponse:
    """Move a segment one place up or down in the pill order."""
    segment = get_segment_for_request(request, pk)
    try:
        services.segment_move(segment=segment, up=request.POST.get("direction") == "up")
    except services.SegmentGone as error:
        raise Http404(str(error)) from error
    if request.htmx:
        return HttpResponse(status=204, headers=_changed(id=segment.pk))
    return redirect("segments:list", request.community.slug)


@community_view
@require_POST
def segment_reviewed(request: CommunityRequest, pk: int) -> HttpResponse:
    """A manual segment's review reminder is answered: due again a full cadence from now."""
    segment = get_segment_for_request(request, pk)
    services.segment_mark_reviewed(segment=segment)
    if request.htmx:
        return HttpResponse(status=204, headers=_changed(id=segment.pk))
    return redirect(segment)


@community_view
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def segment_delete(request: CommunityRequest, pk: int) -> HttpResponse:
    """GET: the confirmation (a dialog for htmx, else a page). POST: delete."""
    _require_editor(request)
    segment = get_segment_for_request(request, pk)
    error = ""
    if request.method == "POST":
        try:
            services.segment_delete(segment=segment)
        except services.SegmentError as exc:
            error = str(exc)
        else:
            segments_url = reverse("segments:list", args=[request.community.slug])
            if not request.htmx:
                return redirect(segments_url)
            headers = _changed(id=pk, deleted=True)
            if request.POST.get("then") == "segments":
                headers["HX-Redirect"] = segments_url
            return HttpResponse(status=204, headers=headers)
    context = {"segment": segment, "error": error, "then": request.GET.get("then", "")}
    template = "segments/segment_delete.html"
    if request.htmx:
        template += "#delete-dialog"
    return render(request, template, context)


# --- The dialog ---------------------------------------------------------------------------------


@community_view
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def segment_new(request: CommunityRequest) -> HttpResponse:
    return _dialog(request, None)


@community_view
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def segment_edit(request: CommunityRequest, pk: int) -> HttpResponse:
    return _dialog(request, get_segment_for_request(request, pk))


def _initial(segment: Segment | None) -> tuple[SegmentForm, builder.DraftGroup]:
    if segment is None:
        return SegmentForm(), builder.new_rule()
    form = SegmentForm(
        initial={
            "kind": segment.kind,
            "name": segment.name,
            "description": segment.description,
            "color": segment.color,
            "pinned": segment.pinned,
            "review_every_days": segment.review_every_days,
            "edit_version": segment.edit_version,
        }
    )
    root = builder.from_data(segment.rule) if segment.is_smart else builder.new_rule()
    return form, root


def _dialog(request: CommunityRequest, segment: Segment | None) -> HttpResponse:
    _require_editor(request)
    rule_error = ""
    if request.method == "GET":
        form, root = _initial(segment)
    else:
        data = request.POST.copy()
        if segment is not None:  # the kind of a segment never changes
            data["kind"] = segment.kind
        root = builder.from_form(data)
        action = data.get("action", "save")
        if action.startswith("pick:"):
            _pick(request, data, action.removeprefix("pick:"))
        form = SegmentForm(data)
        if action == "save":
            saved, rule_error = _save(request, form, root, segment)
            if saved is not None:
                if request.htmx:
                    return HttpResponse(status=204, headers=_changed(id=saved.pk))
                return redirect(saved)
        elif _row_unchanged(request, root, action):
            # The field or operator changed but the row shows the same controls: leave the
            # page alone, so nothing typed meanwhile is lost.
            return HttpResponse(status=204)
        else:
            root = builder.apply(root, action)
    return _render_dialog(request, segment, form, root, rule_error)


def _row_unchanged(request: CommunityRequest, root: builder.DraftGroup, action: str) -> bool:
    target = request.htmx.target or "" if request.htmx else ""
    if action != "refresh" or not target.startswith("row-"):
        return False
    path = target.removeprefix("row-").replace("-", ".")
    row = builder.find(root, path)
    shown = request.POST.get(f"shape-{path}")
    return isinstance(row, builder.DraftCondition) and shown == row.signature


def _render_dialog(request, segment, form, root, rule_error) -> HttpResponse:
    community = request.community
    kind = segment.kind if segment else form.kind_value()
    context = {
        "segment": segment,
        "form": form,
        "kind": kind,
        "kind_options": KIND_OPTIONS,
        "root": root,
        "rule_error": rule_error,
        "field_choices": builder.field_choices(root),
        "units": builder.UNITS,
        "segment_choices": [
            (other.pk, other.name)
            for other in segments_for_request(request)
            if segment is None or other.pk != segment.pk
        ],
        # The sources offered for "Source is ...": read only when a condition shows them.
        "sources": list(
            Identity.objects.filter(community=community)
            .order_by("source")
            .values_list("source", flat=True)
            .distinct()
        )
        if kind == Kind.SMART and builder.uses_field(root, "source")
        else [],
        "search_results": _search(request, form) if kind == Kind.MANUAL else [],
        "form_url": (
            reverse("segments:edit", args=[community.slug, segment.pk])
            if segment
            else reverse("segments:new", args=[community.slug])
        ),
        "is_page": not request.htmx,
    }
    template = "segments/segment_form.html"
    if request.htmx and request.htmx.target == "segment-form":
        template += "#segment-form"
    elif request.htmx:
        template += "#segment-dialog"
    return render(request, template, context)


def _save(request, form, root, segment) -> tuple[Segment | None, str]:
    """Create or update from the dialog; (the segment, "") or (None, an error for the rule)."""
    if not form.is_valid():
        return None, ""
    data = form.cleaned_data
    kind = segment.kind if segment else data["kind"]
    rule = None
    if kind == Kind.SMART:
        if builder.incomplete(root):
            return None, "Some conditions are not complete yet."
        rule = builder.to_data(root)
    fields = {
        "name": data["name"],
        "description": data["description"],
        "color": data["color"],
        "pinned": data["pinned"],
        "review_every_days": data["review_every_days"] if kind == Kind.MANUAL else None,
    }
    try:
        if segment is None:
            saved = services.segment_create(
                community=request.community, kind=kind, rule=rule, by=request.user, **fields
            )
        else:
            if kind == Kind.SMART:
                fields["rule"] = rule
            saved = services.segment_update(
                segment=segment,
                by=request.user,
                edit_version=data["edit_version"] or None,
                **fields,
            )
        if kind == Kind.MANUAL and data["entries"].strip():
            services.segment_add_members(
                segment=saved, entries=services.split_entries(data["entries"]), by=request.user
            )
    except services.EditConflict as conflict:
        # Shown with the form as it is; saving it again replaces the other person's version.
        form.data["edit_version"] = conflict.current.edit_version
        form.add_error(None, str(conflict))
        return None, ""
    except services.SegmentError as error:
        if error.field == "rule":
            return None, builder.place_error(root, str(error))
        form.add_error(error.field if error.field in form.fields else None, str(error))
        return None, ""
    return saved, ""


def _search(request: CommunityRequest, form: SegmentForm) -> list[Member]:
    """Members whose name or email holds every word searched (at most SEARCH_LIMIT)."""
    words = search_words(str(form["search"].value() or "").replace("\x00", ""))
    if not words:
        return []
    members = Member.objects.for_community(request.community)
    for word in words:
        members = members.filter(Q(name__icontains=word) | Q(email__icontains=word))
    return list(members.order_by("name", "pk")[:SEARCH_LIMIT])


def _pick(request: CommunityRequest, data: QueryDict, member_id: str) -> None:
    """Add a searched member to the pasted entries (by email, else by name)."""
    pk = parse_id(member_id)
    if pk is None:
        return
    member = Member.objects.for_community(request.community).filter(pk=pk).first()
    if member is None:
        return
    entries = services.split_entries(data.get("entries", ""))
    entry = member.email or member.name
    if entry and entry.lower() not in {e.lower() for e in entries}:
        entries.append(entry)
    data["entries"] = "\n".join(entries)
    data["search"] = ""


@community_view
@require_POST
def segment_preview(request: CommunityRequest) -> HttpResponse:
    """How many members the dialog's rule matches, and the first ten (or, for a manual segment,
    which pasted entries match whom). Answers with the inside of the role="status" region."""
    _require_editor(request)
    community = request.community
    segment = None
    if request.POST.get("segment"):
        segment = get_segment_for_request(request, request.POST["segment"])
    kind = segment.kind if segment else SegmentForm(request.POST).kind_value()
    context: dict = {"kind": kind}
    if kind == Kind.MANUAL:
        entries = services.split_entries(request.POST.get("entries", ""))
        try:
            context["match"] = services.match_members(community, entries) if entries else None
        except services.SegmentError as error:
            context["error"] = str(error)
        return render(request, "segments/segment_preview.html", context)
    root = builder.from_form(request.POST)
    if builder.incomplete(root):
        context["waiting"] = True
        return render(request, "segments/segment_preview.html", context)
    try:
        data = services.clean_rule(community, builder.to_data(root), segment=segment)
    except services.SegmentError as error:
        context["error"] = str(error)
        return render(request, "segments/segment_preview.html", context)
    q = rules.to_q(rules.parse(data), as_of=timezone.now(), tz=community.timezone)
    matching = Member.objects.for_community(community).filter(q)
    try:
        with transaction.atomic():  # a statement stopped at the time limit ends only this
            context["count"] = matching.count()
            context["sample"] = list(matching.order_by("name", "pk")[:PREVIEW_SAMPLE])
            if segment is not None:
                current = SegmentMembership.objects.filter(segment=segment)
                context["entering"] = matching.exclude(pk__in=current.values("member_id")).count()
                context["leaving"] = (
                    current.filter(via=Via.RULE)
                    .exclude(member_id__in=matching.values("pk"))
                    .count()
                )
    except OperationalError as error:
        if not database.is_timeout(error):
            raise
        context = {"kind": kind, "error": PREVIEW_TOO_SLOW}
    return render(request, "segments/segment_preview.html", context)


# --- Segment page -------------------------------------------------------------------------------


@community_view
@require_GET
@vary_on_headers("HX-Request")
def segment_detail(request: CommunityRequest, pk: int) -> HttpResponse:
    segment = get_segment_for_request(request, pk)
    now = timezone.now()
    changes = (
        MembershipChange.objects.filter(segment=segment)
        .select_related("member__community", "by")  # each row links to the member's profile
        .order_by("-at", "-pk")[:HISTORY_LIMIT]
    )
    context = {
        "segment": segment,
        "rule": describe(segment, _names(request)),
        "can_edit": can_edit(request),
        "chart": history.chart(segment, now=now),
        "changes": changes,
        "review_due": segment.is_due_for_review(now),
        "add_form": AddMembersForm(),
    }
    if not segment.is_smart:
        context["memberships"] = (
            SegmentMembership.objects.filter(segment=segment)
            .select_related("member__community", "added_by")
            .order_by("member__name", "member_id")[:MANUAL_PAGE_SIZE]
        )
    template = "segments/segment_detail.html"
    if request.htmx and request.htmx.target == "segment-summary":
        template += "#segment-summary"
    return render(request, template, context)


@community_view
@require_GET
def segment_export(request: CommunityRequest, pk: int) -> StreamingHttpResponse:
    segment = get_segment_for_request(request, pk)
    filename = exports.export_filename(request.community, segment=segment)
    return StreamingHttpResponse(
        _export_lines(exports.member_rows(request.community, segment=segment)),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": exports.content_disposition(filename)},
    )


class _Echo:
    """A file that hands back what is written: csv.writer then yields lines to stream."""

    def write(self, value: str) -> str:
        return value


def _export_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    """The rows as CSV lines, read under the export's own statement time limit (the rows are
    read while the response streams, after the view has returned)."""
    database.allow_request(settings.EXPORT_STATEMENT_TIMEOUT)
    yield exports.BOM  # so that Excel reads the file as UTF-8
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


@community_view
@require_POST
def segment_add(request: CommunityRequest, pk: int) -> HttpResponse:
    """A manual segment's "Add members": pasted names or emails, and what became of each."""
    segment = get_segment_for_request(request, pk)
    form = AddMembersForm(request.POST)
    report = None
    if form.is_valid():
        try:
            report = services.segment_add_members(
                segment=segment,
                entries=services.split_entries(form.cleaned_data["entries"]),
                by=request.user,
            )
        except services.SegmentError as error:
            form.add_error("entries", str(error))
    if not request.htmx:
        return redirect(segment)
    response = render(
        request,
        "segments/segment_detail.html#add-members",
        {"segment": segment, "add_form": AddMembersForm() if report else form, "report": report},
    )
    if report and report.added:
        response["HX-Trigger"] = _changed(id=segment.pk)["HX-Trigger"]
    return response


@community_view
@require_POST
def segment_remove(request: CommunityRequest, pk: int) -> HttpResponse:
    """Take the ticked members (or the one whose button was pressed) out of a manual segment."""
    segment = get_segment_for_request(request, pk)
    ids = [pk for pk in map(parse_id, request.POST.getlist("member")) if pk is not None]
    try:
        services.segment_remove_members(segment=segment, member_ids=ids, by=request.user)
    except services.SegmentError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain")
    if request.htmx:
        return HttpResponse(status=204, headers=_changed(id=segment.pk))
    return redirect(segment)


# --- Sidebar and profile ------------------------------------------------------------------------


@community_view
@require_GET
def sidebar(request: CommunityRequest) -> HttpResponse:
    return render(request, "segments/sidebar.html", sidebar_context(request))


def sidebar_context(request: CommunityRequest) -> dict:
    segments = segments_for_request(request)
    editable = can_edit(request)
    now = timezone.now()
    due = [s.pk for s in segments if not s.is_smart and s.is_due_for_review(now)]
    return {
        "community": request.community,
        "smart": [s for s in segments if s.is_smart],
        "updating": any(s.is_updating for s in segments),
        "manual": [s for s in segments if not s.is_smart],
        "can_edit": editable,
        # Everything the sidebar shows besides the slug and can_edit: its HTML is cached under
        # them (sidebar.html), so a page of a community with a hundred segments does not
        # render them all again each time.
        "shown": [(s.pk, s.name, s.kind, s.color, s.member_count, s.is_updating) for s in segments],
        # Manual segments due for review (a marker; notifications mails their owner and
        # watchers): part of the cache key too, since a day passing makes one due.
        "due": due,
    }


@community_view
@require_http_methods(["GET", "POST"])
def member_segments(request: CommunityRequest, member_pk: int) -> HttpResponse:
    """The profile's segment pills; managers add to and remove from manual segments here."""
    member = get_member_for_request(request, member_pk)
    error = ""
    if request.method == "POST" and parse_id(request.POST.get("segment")) is None:
        error = "Choose a segment."
    elif request.method == "POST":
        segment = get_segment_for_request(request, request.POST["segment"])
        try:
            if request.POST.get("action") == "remove":
                services.segment_remove_members(
                    segment=segment, member_ids=[member.pk], by=request.user
                )
            else:
                services.segment_add_members(segment=segment, members=[member], by=request.user)
        except services.SegmentError as exc:
            error = str(exc)
        if not request.htmx:
            return redirect(member)
    context = {**member_segments_context(request, member), "error": error}
    response = render(request, "segments/member_segments.html", context)
    if request.method == "POST" and not error:
        response["HX-Trigger"] = _changed(member=member.pk)["HX-Trigger"]
    return response


def member_segments_context(request: CommunityRequest, member: Member) -> dict:
    memberships = list(
        SegmentMembership.objects.filter(member=member)
        .select_related("segment__community")
        .order_by("segment__position", "segment__name")
    )
    inside = {m.segment_id for m in memberships}
    return {
        "member": member,
        "memberships": memberships,
        "can_edit": can_edit(request),
        "addable": [
            s for s in segments_for_request(request) if not s.is_smart and s.pk not in inside
        ],
        "community": request.community,
    }
