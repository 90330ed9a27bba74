"""Watching a segment, the email preferences, the one-click unsubscribe and the password
reset pages (Django's views, with the request of a reset handed to a worker)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from community_os.login import client_ip
from members.access import CommunityRequest, community_view, role_for
from members.models import Role
from segments.access import get_segment_for_request

from . import mail, services
from .forms import PreferencesForm, WatchForm
from .models import USER_KINDS, OptOut, Watch


def _user_id(request: HttpRequest) -> int:
    """The logged-in user's id (the views below let only logged-in users in)."""
    user_id = request.user.pk
    if user_id is None:
        raise PermissionDenied("Log in first.")
    return user_id


@community_view(write_role=Role.VIEWER)
@require_POST
def watch(request: CommunityRequest, pk: int) -> HttpResponse:
    """Watch a segment (daily or weekly) or stop: a choice of the user's own, so viewers too."""
    segment = get_segment_for_request(request, pk)
    form = WatchForm(request.POST)
    error = ""
    if not form.is_valid():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    elif form.cleaned_data["action"] == "stop":
        services.watch_stop(segment=segment, user=request.user)
    else:
        services.watch_set(
            segment=segment, user=request.user, frequency=form.cleaned_data["frequency"]
        )
    if request.htmx:
        context = {
            "segment": segment,
            "watch": Watch.objects.filter(segment=segment, user_id=_user_id(request)).first(),
            "error": error,
        }
        return render(request, "notifications/watch_button.html", context)
    if error:
        messages.error(request, error)
    if request.POST.get("next") == "preferences":
        return redirect("notifications:preferences")
    return redirect(segment)


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Which emails the user gets, and the segments they watch."""
    user = request.user
    off = set(OptOut.objects.filter(user_id=_user_id(request)).values_list("kind", flat=True))
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.preferences_save(user=user, enabled=form.enabled())
            messages.success(request, "Your email preferences are saved.")
            return redirect("notifications:preferences")
    else:
        form = PreferencesForm(initial={kind: kind not in off for kind in USER_KINDS})
    watches = [
        watch
        for watch in Watch.objects.filter(user_id=_user_id(request))
        .select_related("segment__community")
        .order_by("segment__community__name", "segment__name")
        if role_for(user, watch.segment.community)
    ]
    return render(request, "notifications/preferences.html", {"form": form, "watches": watches})


@csrf_exempt  # RFC 8058: mail providers POST without a session; the signed token is the key
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (link checkers open links: a GET changes nothing); POST turns the kind off,
    whether a person pressed the button or a mail client sent `List-Unsubscribe=One-Click`."""
    try:
        kind, _user_id, _email = mail.read_unsubscribe_token(token)
    except mail.BadToken as error:
        return render(
            request, "notifications/unsubscribe.html", {"invalid": str(error)}, status=404
        )
    context = {"token": token, "label": services.EmailKind(kind).label, "done": False}
    if request.method == "POST":
        try:
            services.unsubscribe(token=token)
        except mail.BadToken as error:
            return render(
                request, "notifications/unsubscribe.html", {"invalid": str(error)}, status=404
            )
        context["done"] = True
    return render(request, "notifications/unsubscribe.html", context)


@method_decorator(never_cache, name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form; the request goes to services.password_reset_request, which rate
    limits it and has a worker mail the link. Every address gets the same answer."""

    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("notifications:password_reset_done")

    def form_valid(self, form) -> HttpResponse:
        services.password_reset_request(
            email=form.cleaned_data["email"], ip=client_ip(self.request)
        )
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("notifications:password_reset_complete")


password_reset = PasswordResetView.as_view()


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "minutes": reset_minutes()}


def reset_minutes() -> int:
    return settings.PASSWORD_RESET_TIMEOUT // 60


password_reset_done = PasswordResetDoneView.as_view()
password_reset_confirm = PasswordResetConfirmView.as_view()
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="registration/password_reset_complete.html"
)
