"""Settings > API tokens: admins create tokens (each shown once) and revoke them; managers
and viewers see the list read-only."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from community_os.ids import parse_id
from members.access import CommunityRequest, community_view, has_role
from members.models import Role

from . import problems
from .forms import TokenForm
from .models import ApiToken
from .tokens import NewToken, TokenError, token_create, token_revoke

SHOWN_ONCE = "api_token_shown_once"


def _shown_once(request: CommunityRequest) -> NewToken | None:
    """The token just made, with its secret, once: taken out of the session as it is shown."""
    waiting = request.session.pop(SHOWN_ONCE, None)
    if not isinstance(waiting, dict):
        return None
    pk, secret = waiting.get("id"), waiting.get("secret")
    if not isinstance(pk, int) or not isinstance(secret, str):
        return None
    token = ApiToken.objects.for_community(request.community).filter(pk=pk).first()
    return NewToken(token, secret) if token is not None else None


@community_view(write_role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def tokens(request: CommunityRequest) -> HttpResponse:
    community = request.community
    form = TokenForm()
    created = None
    if request.method == "POST":  # only admins get here: community_view answers 403 otherwise
        if request.POST.get("action") == "revoke":
            pk = parse_id(request.POST.get("token"))
            tokens = ApiToken.objects.for_community(community)
            token = tokens.filter(pk=pk).first() if pk is not None else None
            if token is None:
                messages.error(request, "That token is gone already.")
            else:
                token_revoke(token=token)
                messages.success(request, f"“{token.name}” is revoked: it works no more.")
            return redirect("api:tokens", slug=community.slug)
        form = TokenForm(request.POST)
        if form.is_valid():
            try:
                created = token_create(
                    community=community,
                    name=form.cleaned_data["name"],
                    scope=form.cleaned_data["scope"],
                    expires_in_days=form.cleaned_data["expires_in_days"],
                    by=request.user,
                )
            except TokenError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
            else:
                # Post/Redirect/Get: a reload must not make a second token. The secret waits
                # in the session (stored server-side) for the one page that shows it.
                request.session[SHOWN_ONCE] = {"id": created.token.pk, "secret": created.secret}
                return redirect("api:tokens", slug=community.slug)
    else:
        created = _shown_once(request)
    context = {
        "form": form,
        "created": created,
        "tokens": ApiToken.objects.for_community(community).select_related("created_by"),
        "can_change": has_role(request.role, Role.ADMIN),
        "api_root": request.build_absolute_uri(reverse("api-v1:openapi-view")).removesuffix("docs"),
        "docs_url": reverse("api-v1:openapi-view"),
    }
    # community_view makes the page no-store: the secret shown once is not kept by a cache.
    return render(request, "api/tokens.html", context)


@csrf_exempt  # an API path: a problem document, not Django's CSRF page
def not_found(request: HttpRequest, rest: str) -> HttpResponse:
    return problems.problem(404, "No such resource; see /api/v1/docs.")
