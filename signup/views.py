"""The public join page (no login: /join/<slug>/ and its confirmation link) and its Settings
page (/c/<slug>/settings/join/, admins edit, everyone of the community reads)."""

from __future__ import annotations

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from members.access import CommunityRequest, community_view, has_role
from members.models import Role

from . import services
from .forms import HONEYPOT, JoinForm, JoinPageForm
from .models import JoinPage

# The largest join form a request may post, checked before the body is read. The biggest
# honest form (every field full, five answers of 500 characters of 4-byte UTF-8, all percent-
# encoded) is about 40 KB; DATA_UPLOAD_MAX_MEMORY_SIZE, for the whole site, is far larger.
MAX_BODY_BYTES = 64 * 1024


def _published(slug: str) -> JoinPage:
    """The community's join page if it is switched on; a 404 alike for off and for unknown."""
    pages = JoinPage.objects.select_related("community").filter(enabled=True)
    return get_object_or_404(pages, community__slug=slug)


def _body_too_large(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES
    except ValueError:  # Django reads such a body as empty
        return False


@never_cache
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, slug: str) -> HttpResponse:
    """The form; a valid submission (new address, known address, over the rate limit, or a
    robot's) is answered alike with a redirect to "Check your inbox"."""
    page = _published(slug)
    context: dict[str, object] = {"page": page, "honeypot": HONEYPOT}
    if request.method == "POST":
        if _body_too_large(request):
            context["form"] = JoinForm(page=page)
            context["problem"] = "This form was too large to read. Please shorten your answers."
            return render(request, "signup/join.html", context, status=413)
        form = JoinForm(request.POST, page=page)
        if form.is_spam():
            return redirect("signup:sent", slug=page.community.slug)
        if form.is_valid():
            try:
                services.signup_request(
                    page=page,
                    answers=form.answers(),
                    ip=get_client_ip_address(request),
                    base_url=request.build_absolute_uri("/").rstrip("/"),
                )
            except services.MailNotSent:
                context["form"] = form
                context["problem"] = (
                    "We could not send the confirmation email just now. Please try again in "
                    "a few minutes."
                )
                return render(request, "signup/join.html", context, status=503)
            return redirect("signup:sent", slug=page.community.slug)
    else:
        form = JoinForm(page=page)
    context["form"] = form
    return render(request, "signup/join.html", context)


@never_cache
@require_GET
def sent(request: HttpRequest, slug: str) -> HttpResponse:
    """The one answer to every submission: it says nothing of the address."""
    context = {"page": _published(slug), "hours": settings.SIGNUP_CONFIRM_HOURS}
    return render(request, "signup/sent.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """GET shows a button (mail scanners open links: a GET must not confirm); POST confirms,
    then shows the welcome text and the invite link."""
    page = _published(slug)
    if request.method == "POST":
        try:
            services.signup_confirm(page=page, token=token)
        except services.InvalidToken:
            return render(request, "signup/link_invalid.html", {"page": page}, status=404)
        return render(request, "signup/welcome.html", {"page": page})
    if services.pending_for_token(page=page, token=token) is None:
        return render(request, "signup/link_invalid.html", {"page": page}, status=404)
    return render(request, "signup/confirm.html", {"page": page})


@community_view(write_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def join_settings(request: CommunityRequest) -> HttpResponse:
    """Settings > Join page: admins switch the page on, edit it and preview it (a preview of
    unsaved changes saves nothing); managers and viewers see it read-only."""
    community = request.community
    stored = JoinPage.objects.filter(community=community).first()
    page = stored or JoinPage(community=community)
    preview_page = stored or JoinPage(community=community)
    previewing = False
    if request.method == "POST":  # only admins get here: community_view answers 403 otherwise
        form = JoinPageForm(request.POST, instance=page)
        if form.is_valid():
            if request.POST.get("action") == "preview":
                preview_page, previewing = form.instance, True
            else:
                page = form.save(commit=False)
                page.updated_by = request.user
                page.save()
                state = "published" if page.enabled else "saved; it is not published"
                messages.success(request, f"The join page is {state}.")
                return redirect("signup:settings", slug=community.slug)
    else:
        form = JoinPageForm(instance=page)
    context = {
        "form": form,
        "page": stored,
        "preview_page": preview_page,
        "preview_form": JoinForm(page=preview_page, auto_id="preview-%s"),
        "previewing": previewing,
        "public_url": request.build_absolute_uri(reverse("signup:join", args=[community.slug])),
        "can_change": has_role(request.role, Role.ADMIN),
    }
    return render(request, "signup/join_settings.html", context)
