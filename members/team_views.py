"""Settings > Team (members/team.py): admins invite, change roles and remove people; managers
and viewers see who is on the team. And the public page an invitation's link opens."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from . import team
from .access import CommunityRequest, community_view, has_role
from .models import ROLE_RANK, CommunityRole, Invitation, Role

ROLE_HELP = {
    Role.ADMIN: "everything, including the settings and the team",
    Role.MANAGER: "members, segments and imports",
    Role.VIEWER: "reads everything, changes nothing",
}


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Email address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MANAGER)


class AccountForm(forms.Form):
    username = forms.CharField(max_length=150, strip=True)
    password = forms.CharField(max_length=4096, strip=False, widget=forms.PasswordInput)
    password_again = forms.CharField(
        max_length=4096, strip=False, widget=forms.PasswordInput, label="Password again"
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


def _membership_for_request(request: CommunityRequest, pk: int) -> CommunityRole:
    roles = CommunityRole.objects.filter(community=request.community).select_related(
        "user", "community"
    )
    return get_object_or_404(roles, pk=pk)


def _invitation_for_request(request: CommunityRequest, pk: int) -> Invitation:
    return get_object_or_404(
        Invitation.objects.for_community(request.community).select_related("community"), pk=pk
    )


@community_view(write_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def team_page(request: CommunityRequest) -> HttpResponse:
    """The team and its invitations; POST (admins only) invites someone."""
    community = request.community
    form = InviteForm()
    if request.method == "POST":
        form = InviteForm(request.POST)
        if form.is_valid():
            try:
                invitation = team.invitation_create(
                    community=community,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    by=request.user,
                    base_url=settings.SITE_URL,
                )
            except team.TeamError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
            else:
                messages.success(
                    request,
                    f"{invitation.email} is invited as {invitation.get_role_display().lower()}; "
                    f"the link works for {team.INVITATION_DAYS} days.",
                )
                return redirect("members:team", slug=community.slug)
    now = timezone.now()
    memberships = sorted(
        CommunityRole.objects.filter(community=community).select_related("user"),
        key=lambda r: (-ROLE_RANK[Role(r.role)], r.user.get_username().lower()),
    )
    invitations = [
        (invitation, invitation.state(now))
        for invitation in Invitation.objects.for_community(community)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by")
    ]
    context = {
        "memberships": memberships,
        "invitations": invitations,
        "form": form,
        "can_manage": has_role(request.role, Role.ADMIN),
        "roles": Role.choices,
        "role_help": [(value, label, ROLE_HELP[Role(value)]) for value, label in Role.choices],
        "admins": sum(1 for r in memberships if r.role == Role.ADMIN),
        "days": team.INVITATION_DAYS,
    }
    return render(request, "members/team.html", context)


@community_view(write_role=Role.ADMIN)
@require_POST
def team_role(request: CommunityRequest, pk: int) -> HttpResponse:
    membership = _membership_for_request(request, pk)
    try:
        changed = team.role_change(membership=membership, role=request.POST.get("role", ""))
    except team.TeamError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"{changed.user.get_username()} is now {changed.get_role_display().lower()}.",
        )
    return redirect("members:team", slug=request.community.slug)


@community_view(write_role=Role.ADMIN)
@require_POST
def team_remove(request: CommunityRequest, pk: int) -> HttpResponse:
    membership = _membership_for_request(request, pk)
    try:
        team.role_remove(membership=membership)
    except team.TeamError as error:
        messages.error(request, str(error))
        return redirect("members:team", slug=request.community.slug)
    if membership.user_id == request.user.pk and not request.user.is_superuser:
        messages.success(request, f"You left the team of {request.community.name}.")
        return redirect("home")
    messages.success(request, f"{membership.user.get_username()} is no longer on the team.")
    return redirect("members:team", slug=request.community.slug)


@community_view(write_role=Role.ADMIN)
@require_POST
def team_revoke(request: CommunityRequest, pk: int) -> HttpResponse:
    invitation = _invitation_for_request(request, pk)
    try:
        team.invitation_revoke(invitation=invitation)
    except team.TeamError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The invitation of {invitation.email} is revoked.")
    return redirect("members:team", slug=request.community.slug)


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation's link: join as the logged-in user, or create an account."""
    try:
        invitation = team.invitation_for_token(token)
    except team.InvalidInvitation as bad_link:
        answer = {"invalid": str(bad_link)}
        return render(request, "members/team_accept.html", answer, status=404)
    user = request.user if request.user.is_authenticated else None
    form = AccountForm()
    error = ""
    if request.method == "POST":
        form = AccountForm(request.POST) if user is None else AccountForm()
        if user is not None or form.is_valid():
            fields = {} if user is not None else form.cleaned_data
            try:
                membership = team.invitation_accept(
                    token=token,
                    user=user,
                    username=fields.get("username", ""),
                    password=fields.get("password", ""),
                )
            except team.InvalidInvitation as invalid:
                gone = {"invalid": str(invalid)}
                return render(request, "members/team_accept.html", gone, status=404)
            except team.TeamError as problem:
                if user is None and problem.field in form.fields:
                    form.add_error(problem.field, str(problem))
                else:
                    error = str(problem)
            else:
                if user is None:
                    login(
                        request,
                        membership.user,
                        backend="django.contrib.auth.backends.ModelBackend",
                    )
                community = membership.community
                messages.success(
                    request,
                    f"Welcome to {community.name}: you are "
                    f"{membership.get_role_display().lower()}.",
                )
                return redirect(community)
    already = (
        user is not None
        and CommunityRole.objects.filter(user=user, community=invitation.community).exists()
    )
    context: dict[str, object] = {
        "invitation": invitation,
        "form": form,
        "error": error,
        "already": already,
        "login_url": f"{reverse('login')}?{urlencode({'next': request.path})}",
    }
    return render(request, "members/team_accept.html", context)
