"""The Possible duplicates page and the merge screen ("one person, one member").

The lists and the checks are in members/duplicates.py and members/merging.py; these views
translate HTTP. Merging is for managers and admins: viewers get 403 on the merge screen, even
its GET (like the other editing forms), and see the duplicates without the merge links.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_http_methods

from community_os.ids import parse_id

from . import duplicates, merging
from .access import CommunityRequest, can_edit, community_view
from .models import Member

TEXT_SHOWN = 300  # characters of a long value (a bio) on the merge screen
CONFIRM_REQUIRED = "Tick “I understand a merge cannot be undone” to merge."


@community_view
@require_GET
def duplicates_page(request: CommunityRequest) -> HttpResponse:
    page = duplicates.duplicate_groups(request.community, after=request.GET.get("after", ""))
    return render(request, "members/duplicates.html", {"page": page})


@community_view
@require_http_methods(["GET", "HEAD", "POST"])
def member_merge(request: CommunityRequest, kept: str, other: str) -> HttpResponse:
    """Both members side by side, a choice for each field that differs; POST merges `other`
    into `kept` once the manager ticked that a merge cannot be undone."""
    if not can_edit(request):
        raise PermissionDenied("Your role in this community is read-only.")
    community = request.community
    kept_id, other_id = parse_id(kept), parse_id(other)
    if kept_id is None or other_id is None:
        raise Http404("No such member.")
    members = Member.objects.for_community(community).filter(pk__in=[kept_id, other_id])
    found = {member.pk: member for member in members}
    if kept_id not in found or other_id not in found:
        # Deleted or merged meanwhile, or never a member of this community (nothing says which
        # community an id of another one belongs to).
        gone = [
            merging.gone_message(community, pk) for pk in (kept_id, other_id) if pk not in found
        ]
        return render(request, "members/member_merge.html", {"gone": gone}, status=404)
    if kept_id == other_id:
        return render(
            request,
            "members/member_merge.html",
            {"error": "A member cannot be merged with themselves.", "kept": found[kept_id]},
            status=400,
        )
    kept_member, other_member = found[kept_id], found[other_id]
    choices = merging.field_choices(kept_member, other_member)
    selected = {c.name: _selected(request, c) for c in choices if c.differs}
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm") != "on":
            error = CONFIRM_REQUIRED
        else:
            label = other_member.display_name
            try:
                record = merging.member_merge(
                    community=community,
                    kept=kept_member,
                    merged=other_member,
                    fields=selected,
                    by=request.user,
                )
            except merging.MergeError as exc:
                messages.error(request, str(exc))
                return redirect("members:duplicates", community.slug)
            messages.success(request, f"{label} was merged into {record.kept.display_name}.")
            return redirect(record.kept)
    rows = [
        {
            "choice": choice,
            "selected": selected.get(choice.name, choice.default),
            "kept_text": _text(choice.kept),
            "merged_text": _text(choice.merged),
        }
        for choice in choices
    ]
    combined = merging.combined_attributes(kept_member, other_member)
    context = {
        "kept": kept_member,
        "other": other_member,
        "rows": rows,
        "identities": {
            "kept": kept_member.identities.order_by("source", "external_id"),
            "other": other_member.identities.order_by("source", "external_id"),
        },
        "attribute_count": len(combined),
        "error": error,
        "swap_url": reverse("members:merge", args=[community.slug, other_id, kept_id]),
    }
    return render(request, "members/member_merge.html", context, status=400 if error else 200)


def _text(value: object) -> str:
    """A field's value as the merge screen shows it ("" for none), long ones cut short."""
    if value is None or value in ("", {}):
        return ""
    if isinstance(value, datetime):
        return date_format(timezone.localtime(value), "M j, Y H:i")
    if isinstance(value, dict):  # the clashing attributes
        text = "; ".join(f"{key}: {item}" for key, item in value.items())
    else:
        text = str(value)
    return text if len(text) <= TEXT_SHOWN else text[: TEXT_SHOWN - 1] + "…"


def _selected(request: CommunityRequest, choice: merging.FieldChoice) -> str:
    """The value posted for the field's radio buttons, or its default."""
    value = request.POST.get(f"field_{choice.name}") if request.method == "POST" else None
    return value if value in merging.CHOICES else choice.default
